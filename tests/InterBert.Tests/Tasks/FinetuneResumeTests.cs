using InterBert.Data;
using InterBert.Modeling;
using InterBert.Training;
using InterBert.Weights;
using TorchSharp.PyBridge;

namespace InterBert.Tests.Tasks;

/// <summary>
/// Fine-tuning shares pretraining's trainer: a retrieval run killed after a checkpoint (taken after a validation and
/// between two minings of hard negatives) resumes to the same parameters, best weights and metrics.
/// </summary>
[Collection("coco features")]
public class FinetuneResumeTests(CocoFeatures features)
{
    private string WriteInit(TempFolder folder) => WriteInit(features, folder);

    /// <summary>Dropout-free tiny weights for the COCO store.</summary>
    internal static string WriteInit(CocoFeatures features, TempFolder folder)
    {
        using var store = FeatureStore.Open(features.StorePath);
        var config = TestInputs.TinyNoDropout with { VFeatureSize = store.Manifest.FeatureSize, PredictFeature = true };
        TorchSharp.torch.manual_seed(13);
        using var model = new InterBertModel(config);
        var path = folder.File("init.safetensors");
        ModelCheckpoint.Save(model, path, ModelVocabulary.WriteBeside(path, MiniLmOnnxReader.ReadVocabularyBytes(), lowerCase: true));
        return path;
    }

    private string[] Arguments(string init, string run) =>
    [
        "finetune", "--task", "retrieval", "--dataset", SharedData.CocoDataset, "--features", features.StorePath, "--init", init, "--out", run,
        "--steps", "48", "--batch-size", "8", "--checkpoint-every", "15", "--mine-every", "12", "--val-split", "val",
        "--contrastive-weight", "0.5", "--seed", "3", "--lr", "1e-3", "--threads", "2",
    ];

    [Fact]
    public void ExtraWrongImagesALargerContrastiveBatchAndAResidualScoreTrainAndChangeWhatIsLearned()
    {
        using var folder = new TempFolder();
        var init = WriteInit(folder);
        string[] Short(string run, params string[] more) =>
        [
            "finetune", "--task", "retrieval", "--dataset", SharedData.CocoDataset, "--features", features.StorePath, "--init", init, "--out", run,
            "--steps", "8", "--batch-size", "8", "--val-split", "none", "--contrastive-weight", "0.5", "--negatives", "similarity", "--seed", "3", "--threads", "2", .. more,
        ];
        var plain = CliProcess.Run(Short(folder.File("plain")));
        Assert.True(plain.ExitCode == 0, plain.Error);
        var wider = CliProcess.Run(Short(folder.File("wider"), "--extra-negatives", "3"));
        Assert.True(wider.ExitCode == 0, wider.Error);
        var before = Safetensors.LoadStateDict(Path.Combine(folder.File("plain"), "last.safetensors"));
        var after = Safetensors.LoadStateDict(Path.Combine(folder.File("wider"), "last.safetensors"));
        Assert.Contains(before.Keys, key => !before[key].bytes.SequenceEqual(after[key].bytes));
        // The fingerprint records the setting, so a resume with another value is refused rather than mixed.
        Assert.Contains("extra-negatives=3", File.ReadAllText(Path.Combine(folder.File("wider"), "checkpoints", "step-8", "trainer.json")));

        // A contrastive loss over more captions than the examples changes what is learned too, and is recorded.
        var larger = CliProcess.Run(Short(folder.File("larger"), "--contrastive-batch-size", "20"));
        Assert.True(larger.ExitCode == 0, larger.Error);
        Assert.Contains("contrastive loss over 20 captions", larger.Output);
        var largerWeights = Safetensors.LoadStateDict(Path.Combine(folder.File("larger"), "last.safetensors"));
        Assert.Contains(before.Keys, key => !before[key].bytes.SequenceEqual(largerWeights[key].bytes));
        Assert.Contains("contrastive-batch=20", File.ReadAllText(Path.Combine(folder.File("larger"), "checkpoints", "step-8", "trainer.json")));

        // The others' vectors without gradient: a different training again, recorded.
        var fixedOthers = CliProcess.Run(Short(folder.File("fixed"), "--contrastive-batch-size", "20", "--fixed-contrastive-others"));
        Assert.True(fixedOthers.ExitCode == 0, fixedOthers.Error);
        Assert.Contains("the others' vectors without gradient", fixedOthers.Output);
        var fixedWeights = Safetensors.LoadStateDict(Path.Combine(folder.File("fixed"), "last.safetensors"));
        Assert.Contains(before.Keys, key => !largerWeights[key].bytes.SequenceEqual(fixedWeights[key].bytes));
        Assert.Contains("contrastive-others=fixed", File.ReadAllText(Path.Combine(folder.File("fixed"), "checkpoints", "step-8", "trainer.json")));

        // The score trained as a correction to the scaled cosine learns something else again, and is recorded.
        var residual = CliProcess.Run(Short(folder.File("residual"), "--residual-score"));
        Assert.True(residual.ExitCode == 0, residual.Error);
        Assert.Contains("the score trained as a correction to the scaled cosine", residual.Output);
        var residualWeights = Safetensors.LoadStateDict(Path.Combine(folder.File("residual"), "last.safetensors"));
        Assert.Contains(before.Keys, key => key.StartsWith("vil_logit", StringComparison.Ordinal) && !before[key].bytes.SequenceEqual(residualWeights[key].bytes));
        Assert.Contains("residual-score", File.ReadAllText(Path.Combine(folder.File("residual"), "checkpoints", "step-8", "trainer.json")));
    }

    [Fact]
    public void RetrievalRunKilledAfterItsCheckpointResumesToBitIdenticalParameters()
    {
        using var folder = new TempFolder();
        var init = WriteInit(folder);
        var whole = folder.File("whole");
        var killed = folder.File("killed");
        var reference = CliProcess.Run(Arguments(init, whole));
        Assert.True(reference.ExitCode == 0, reference.Error);

        CliProcess.KillOnceWritten(Arguments(init, killed), Path.Combine(killed, "checkpoints", "step-30", "trainer.json"));
        Assert.True(Directory.Exists(Path.Combine(killed, "checkpoints", "step-30")));
        Assert.False(File.Exists(Path.Combine(killed, "last.safetensors")), "the run finished before it could be killed");

        var resumed = CliProcess.Run([.. Arguments(init, killed), "--resume"]);
        Assert.True(resumed.ExitCode == 0, resumed.Error);
        foreach (var file in new[] { "last.safetensors", "best.safetensors" })
        {
            var expected = Safetensors.LoadStateDict(Path.Combine(whole, file));
            var actual = Safetensors.LoadStateDict(Path.Combine(killed, file));
            Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
            foreach (var (key, tensor) in expected)
                Assert.True(tensor.bytes.SequenceEqual(actual[key].bytes), $"{file}: {key} differs after resume");
        }
        // The run folder is a model folder of its best weights.
        Assert.Equal(File.ReadAllBytes(Path.Combine(whole, "best.safetensors")), File.ReadAllBytes(Path.Combine(whole, "model.safetensors")));
        Assert.Equal("interbert", System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(whole, "config.json")))!["model_type"]!.GetValue<string>());
        Assert.True(File.Exists(Path.Combine(whole, "tokenizer_config.json")));
        // ... which says how its photos became regions (the COCO store's detector, given boxes, at most 36).
        var preprocessing = InterBert.Data.ImagePreprocessing.ReadFrom(whole)!;
        Assert.Equal(36, preprocessing.Regions.MaxRegions);
        Assert.True(preprocessing.Regions.GivenBoxes);
        Assert.EndsWith("yolox_nano.onnx", preprocessing.Regions.Detector);
        Assert.Equal(File.ReadAllBytes(InterBert.Weights.ModelVocabulary.TokenizerFor(init).Source), File.ReadAllBytes(Path.Combine(whole, "vocab.txt")));
        Assert.Equal(Path.Combine(whole, "model.safetensors"), InterBert.Weights.ModelFolder.WeightsPath(whole));
                static List<string> After30(string run) => new MetricsLog(Path.Combine(run, "metrics.jsonl")).ReadAll()
            .Where(r => r["step"]!.GetValue<int>() > 30)
            .Select(r => { r.Remove("samples_per_second"); return r.ToJsonString(); }).ToList();
        var expectedMetrics = After30(whole);
        Assert.Contains(expectedMetrics, line => line.Contains("\"split\":\"validation\""));
        Assert.Equal(expectedMetrics, After30(killed));

        // Without --resume an existing run is not overwritten.
        var again = CliProcess.Run(Arguments(init, killed));
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("--resume", again.Error);
    }
}
