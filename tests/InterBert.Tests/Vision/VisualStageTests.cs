using InterBert.Data;
using InterBert.Modeling;
using InterBert.Tasks;
using InterBert.Vision;
using InterBert.Weights;
using TorchSharp.PyBridge;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace InterBert.Tests.Vision;

/// <summary>
/// A model that trains its own last CNN stage: the stage converted from the packaged graph computes the graph's map,
/// features computed from stored layer3 maps equal the frozen store's, and fine-tuning with --visual-maps trains it.
/// </summary>
[Collection("coco features")]
public class VisualStageTests(CocoFeatures features, ITestOutputHelper output)
{
    [Fact]
    public void TheConvertedStageComputesThePackagedGraphsLastMapFromItsLayer3Map()
    {
        using var scope = NewDisposeScope();
        using var image = new ImageDecoder().Decode(SharedData.Path("data", "coco-sample", "images", "000000000139.jpg"));
        var pixels = tensor(image.ToPlanar(224, 224, 224, 224, bgr: false), [1, 3, 224, 224]);
        using var network = TrainableResNet18.FromPackagedGraphs();
        Tensor layer3, expected;
        using (no_grad())
        {
            layer3 = network.Run(pixels, TrainableResNet18.Layer3MapName);
            expected = network.call(pixels);
        }
        using var stage = new ResNetStage();
        var state = network.StageState();
        // Every weight and statistic of the stage is given, and nothing else.
        Assert.Equal(stage.state_dict().Keys.Order(), state.Keys.Order());
        stage.load_state_dict(state);
        Tensor actual;
        using (no_grad()) actual = stage.call(layer3);
        var worst = actual.sub(expected).abs().max().item<float>();
        output.WriteLine($"stage vs graph: max abs difference {worst:E2}, mean |value| {expected.abs().mean().item<float>():E2}");
        Assert.True(worst < 1e-4f, $"max abs difference {worst}");

    }

    [Fact]
    public void TheStageIsPartOfTheModelsImagePathAndItsConfiguration()
    {
        var config = TestInputs.TinyNoDropout with { VFeatureSize = 512, VisualStage = ResNetStage.Name };
        var read = InterBertConfig.FromJson(config.ToJson(), "config.json");
        Assert.Equal(ResNetStage.Name, read.VisualStage);
        Assert.Null(InterBertConfig.FromJson((config with { VisualStage = null }).ToJson(), "config.json").VisualStage);
        using var model = new InterBertModel(read);
        Assert.True(model.HasVisualStage);
        var stageKeys = model.named_parameters().Select(p => p.name).Where(n => n.StartsWith("visual_stage.", StringComparison.Ordinal)).ToList();
        // Three blocks of two convolutions and two normalisations (scale and shift), and the first block's shortcut.
        Assert.Equal(3 * (2 + 2 * 2) + 1 + 2, stageKeys.Count);
        Assert.All(stageKeys, k => Assert.Equal("image", InterBertBackbone.PartOf(k)));
        Assert.Contains("unknown", Assert.Throws<FormatException>(() => (config with { VisualStage = "unknown" }).Validate()).Message);
        Assert.Contains("v_feature_size 2048", Assert.Throws<FormatException>(() => (config with { VFeatureSize = 2048 }).Validate()).Message);
        using var plain = new InterBertModel(config with { VisualStage = null });
        Assert.False(plain.HasVisualStage);
        Assert.Null(plain.VisualStageFingerprint());
    }

    [Fact]
    public void StageFeaturesFromStoredMapsEqualTheFrozenStoresAndFineTuningTrainsTheStage()
    {
        using var folder = new TempFolder();
        var maps = folder.File("maps");
        var images = DatasetReader.Read(SharedData.CocoDataset).Select(i => (i.Id, i.Location)).DistinctBy(i => i.Id).ToList();
        var extract = CliProcess.Run("features", "--dataset", SharedData.CocoDataset, "--out", maps, "--layer3-maps", "--threads", "2");
        Assert.True(extract.ExitCode == 0, extract.Error);
        Assert.True(File.Exists(Path.Combine(maps, VisualStageInputs.StageWeightsFile)));

        string? packagedStage;
        using (var mapStore = VisualStageInputs.OpenMaps(maps))
        using (var regions = FeatureStore.Open(features.StorePath))
        {
            Assert.Equal(images.Count, mapStore.Count);
            var ids = images.Select(i => i.Id).Take(6).ToList();
            using var model = new InterBertModel(TestInputs.TinyNoDropout with { VFeatureSize = 512, VisualStage = ResNetStage.Name });
            var filled = VisualStageInputs.InitializeStage(model, maps);
            packagedStage = model.VisualStageFingerprint();
            Assert.Equal(model.state_dict().Keys.Count(k => k.StartsWith("visual_stage.", StringComparison.Ordinal)), filled.Count);
            var stored = ids.Select(regions.Read).ToList();
            var regionLength = stored.Max(r => r.RegionCount);
            using var inputs = new VisualStageInputs(mapStore, regions, ids, regionLength);
            Tensor computed;
            using (no_grad()) computed = inputs.Features(model, arange(ids.Count, dtype: ScalarType.Int64), regionLength);
            var reference = RegionCollator.Collate(stored, 512, regionLength);
            var mask = reference.RegionMask.unsqueeze(2).to_type(ScalarType.Float32);
            var worst = computed.mul(mask).sub(reference.Features).abs().max().item<float>();
            var scale = reference.Features.abs().max().item<float>();
            output.WriteLine($"stage features from layer3 maps vs the frozen store: max abs difference {worst:E2} (max |value| {scale:E2}) over {ids.Count} photos, {stored.Sum(r => r.RegionCount)} regions");
            // The maps are bf16 in memory: a relative error of a few parts in a thousand, where another box or stage would be far off.
            Assert.True(worst < 0.02f * scale, $"max abs difference {worst} of {scale}");
        }

        // Fine-tuning with the maps trains the stage (its weights move from the packaged ones) with the rest of the model.
        var init = WriteInit(folder);
        var run = folder.File("run");
        string[] Finetune(string @out, params string[] more) =>
        [
            "finetune", "--task", "retrieval", "--dataset", SharedData.CocoDataset, "--features", features.StorePath, "--init", init, "--out", @out,
            "--steps", "4", "--batch-size", "4", "--val-split", "none", "--contrastive-weight", "0.5", "--seed", "3", "--threads", "2", "--precision", "auto", .. more,
        ];
        var trained = CliProcess.Run(Finetune(run, "--visual-maps", maps));
        Assert.True(trained.ExitCode == 0, trained.Error);
        var after = Safetensors.LoadStateDict(Path.Combine(run, "last.safetensors"));
        var packaged = Safetensors.LoadStateDict(Path.Combine(maps, VisualStageInputs.StageWeightsFile));
        foreach (var key in new[] { "blocks.0.conv1.weight", "blocks.2.conv2.weight", "blocks.0.shortcut_bn.weight" })
            Assert.False(after["visual_stage." + key].bytes.SequenceEqual(packaged[key].bytes), $"{key} did not train");
        // The normalisation statistics stay the graph's.
        Assert.True(after["visual_stage.blocks.1.bn1.running_var"].bytes.SequenceEqual(packaged["blocks.1.bn1.running_var"].bytes));
        Assert.Contains($"visual={ResNetStage.Name}", File.ReadAllText(Path.Combine(run, "checkpoints", "step-4", "trainer.json")));

        // Its evaluation computes features with the trained stage from the maps.
        var evaluated = CliProcess.Run("evaluate", "--task", "retrieval", "--dataset", SharedData.CocoDataset, "--split", "val", "--features", features.StorePath, "--weights", run,
            "--visual-maps", maps, "--candidates", "4", "--threads", "2");
        Assert.True(evaluated.ExitCode == 0, evaluated.Error);
        Assert.Contains("by the model's own resnet18-layer4", evaluated.Output);

        // Indexing would pair the model with the store's frozen features: refused in one line.
        var index = CliProcess.Run("index", "--weights", run, "--features", features.StorePath, "--dataset", SharedData.CocoDataset, "--out", folder.File("index"), "--threads", "2");
        Assert.NotEqual(0, index.ExitCode);
        Assert.Contains("own fine-tuned CNN stage", index.Error);
        Assert.Single(index.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        // The fine-tuned stage writes a feature store of its own (recorded by the stage's fingerprint), which its model
        // then indexes and searches with, a photo's query features computed by the same stage.
        var photos = folder.File("photos");
        Directory.CreateDirectory(photos);
        foreach (var (id, location) in images.Take(5)) File.Copy(location.Path, Path.Combine(photos, Path.GetFileName(location.Path)));
        var tunedStore = folder.File("tuned-store");
        var tuned = CliProcess.Run("features", "--images", photos, "--out", tunedStore, "--model", run, "--max-regions", "6", "--threads", "2");
        Assert.True(tuned.ExitCode == 0, tuned.Error);
        using (var trainedModel = ModelCheckpoint.Load(Path.Combine(run, "last.safetensors")))
        using (var mapStore = VisualStageInputs.OpenMaps(maps))
        using (var store = FeatureStore.Open(tunedStore))
        {
            Assert.Equal(trainedModel.VisualStageFingerprint(), store.Manifest.VisualStage);
            Assert.NotEqual(packagedStage, store.Manifest.VisualStage);
            // The stored features are the trained stage's, as computed in training from the stored maps.
            // (The folder's photos are known by file name, the dataset's by its ids.)
            var photo = store.Read(Path.GetFileNameWithoutExtension(images[0].Location.Path));
            var map = tensor(mapStore.Read(images[0].Id).Features, [1, 256, 14, 14]);
            var grid = tensor(RoiAlign.Grid(photo.Boxes, photo.RegionCount, photo.Width, photo.Height, 14, 14), [1, photo.RegionCount, RoiAlign.Bins, RoiAlign.Bins, 2]);
            Tensor fromMaps;
            using (no_grad()) fromMaps = trainedModel.RegionFeatures(map, grid)[0];
            var storedFeatures = tensor(photo.Features, [photo.RegionCount, 512]);
            Assert.True(fromMaps.sub(storedFeatures).abs().max().item<float>() < 0.02f * storedFeatures.abs().max().item<float>());
        }
        var tunedIndex = folder.File("tuned-index");
        var indexed = CliProcess.Run("index", "--weights", run, "--features", tunedStore, "--images", photos, "--out", tunedIndex, "--threads", "2");
        Assert.True(indexed.ExitCode == 0, indexed.Error);
        var (searchCode, searchOutput, searchError) = CliProcess.Run("search", "--index", tunedIndex, "--image", images[2].Location.Path, "--json", "--top", "2", "--threads", "2");
        Assert.True(searchCode == 0, searchOutput + searchError);
        Assert.Equal(Path.GetFileNameWithoutExtension(images[2].Location.Path), System.Text.Json.Nodes.JsonNode.Parse(searchOutput)!.AsArray()[0]!["id"]!.GetValue<string>());
        // A model without a stage of its own cannot compute a store with --model.
        var noStage = CliProcess.Run("features", "--images", photos, "--out", folder.File("no-stage"), "--model", init, "--threads", "2");
        Assert.NotEqual(0, noStage.ExitCode);
        Assert.Contains("no CNN stage of its own", noStage.Error);
        Assert.False(Directory.Exists(folder.File("no-stage")) && Directory.EnumerateFileSystemEntries(folder.File("no-stage")).Any());
        // The frozen model (its init) does not take the tuned store.
        var mismatched = CliProcess.Run("index", "--weights", init, "--features", tunedStore, "--images", photos, "--out", folder.File("mismatched"), "--threads", "2");
        Assert.NotEqual(0, mismatched.ExitCode);
        Assert.Contains("another model's fine-tuned CNN stage", mismatched.Error);

        // A region feature store given as maps is refused in one line.
        var wrong = CliProcess.Run(Finetune(folder.File("wrong"), "--visual-maps", features.StorePath));
        Assert.NotEqual(0, wrong.ExitCode);
        Assert.Contains("not a store of ResNet-18 layer3 maps", wrong.Error);
    }

    /// <summary>Dropout-free tiny weights taking 512-d features, as a pretrained model without a stage.</summary>
    private static string WriteInit(TempFolder folder)
    {
        TorchSharp.torch.manual_seed(13);
        using var model = new InterBertModel(TestInputs.TinyNoDropout with { VFeatureSize = 512 });
        var path = folder.File("init.safetensors");
        ModelCheckpoint.Save(model, path, ModelVocabulary.WriteBeside(path, MiniLmOnnxReader.ReadVocabularyBytes(), lowerCase: true));
        return path;
    }
}
