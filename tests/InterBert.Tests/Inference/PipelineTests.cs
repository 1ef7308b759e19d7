using System.Globalization;
using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using InterBert.Inference;
using InterBert.Modeling;
using InterBert.Search;
using InterBert.Weights;
using Microsoft.Extensions.AI;

namespace InterBert.Tests.Inference;

/// <summary>
/// The pipeline against the command line on the same model and photos: a tiny model saved as a model folder, real
/// COCO photos through <c>features</c> (YOLOX boxes, float16), <c>index</c>, <c>evaluate --scores-out</c> and
/// <c>search --json</c> as child processes; the pipeline must give the vectors and scores they give.
/// </summary>
public sealed class PipelineTests : IDisposable
{
    private static readonly string[] Captions = ["a man riding a wave on top of a surfboard", "two dogs playing in the snow", "a plate of food with broccoli"];
    private readonly TempFolder folder = new();
    private readonly string photos;
    private readonly string model;
    private readonly string detector = SharedData.Path("models", "yolox-nano", "yolox_nano.onnx");

    public PipelineTests()
    {
        photos = Directory.CreateDirectory(folder.File("photos")).FullName;
        foreach (var file in Directory.GetFiles(SharedData.Path("data", "coco-sample", "images")).Order(StringComparer.Ordinal).Take(5))
            File.Copy(file, Path.Combine(photos, Path.GetFileName(file)));
        model = folder.File("model");
        TorchSharp.torch.manual_seed(17);
        using var tiny = new InterBertModel(InterBertConfig.Tiny);
        // A retrieval model: the index, evaluate and the pipeline all score with its score head.
        ModelFolder.Save(tiny, model, MiniLmOnnxReader.ReadVocabularyBytes(), lowerCase: true, new Dictionary<string, string> { ["finetune_task"] = "retrieval" });
    }

    private string[] PhotoFiles => Directory.GetFiles(photos).Order(StringComparer.Ordinal).ToArray();

    private static void Cli(params string[] args)
    {
        var (code, output, error) = CliProcess.Run(args);
        Assert.True(code == 0, $"interbert {string.Join(' ', args)} failed ({code}): {output}{error}");
    }

    [Fact]
    public void PipelineVectorsAndScoresEqualThoseOfTheCommandLine()
    {
        var store = folder.File("store");
        var index = folder.File("index");
        Cli("features", "--images", photos, "--detector", detector, "--fp16", "--out", store);
        Cli("index", "--weights", model, "--features", store, "--images", photos, "--out", index);
        var dataset = folder.File("dataset.jsonl");
        File.WriteAllLines(dataset, PhotoFiles.Select((f, k) => new JsonObject { ["image"] = f, ["caption"] = Captions[k % Captions.Length], ["split"] = "test" }.ToJsonString()));
        var scoresFile = folder.File("scores.tsv");
        Cli("evaluate", "--task", "retrieval", "--dataset", dataset, "--split", "test", "--weights", model, "--features", store, "--scores-out", scoresFile);

        using var pipeline = InterBertPipeline.Load(model, new InterBertPipelineOptions { Index = index });
        // The index's store says how its photos were boxed: the pipeline takes the same detector and float16 rounding.
        Assert.Equal(Path.GetFullPath(detector), pipeline.Regions.Detector);
        Assert.False(pipeline.ScoresWithMatchingHead);

        // Image vectors: the photo file through the pipeline equals the vector the index stored for it.
        Assert.Equal(Path.GetFullPath(index), pipeline.Index!.Location);
        using var stored = ImageIndex.Open(index);
        foreach (var photo in PhotoFiles)
        {
            var position = stored.Images.Select(i => i.Id).ToList().IndexOf(Path.GetFileNameWithoutExtension(photo));
            Assert.True(position >= 0, photo);
            var vector = pipeline.EmbedImage(photo);
            Assert.Equal(pipeline.Dimension, vector.Length);
            AssertClose(stored.Vector(position).ToArray(), vector, 1e-5);
            AssertClose(vector, pipeline.EmbedImage(File.ReadAllBytes(photo), photo), 0);
        }

        // Text vectors: the first-stage cosines `search --json` prints are the pipeline's text vector against the stored image vectors.
        var query = "a surfer on a wave";
        var (code, output, error) = CliProcess.Run("search", "--index", index, "--top", "5", "--json", query);
        Assert.True(code == 0, output + error);
        var hits = JsonNode.Parse(output)!.AsArray();
        Assert.Equal(5, hits.Count);
        var text = pipeline.EmbedText(query);
        foreach (var hit in hits)
        {
            var position = stored.Images.Select(i => i.Id).ToList().IndexOf(hit!["id"]!.GetValue<string>());
            Assert.Equal(hit["first_stage_similarity"]!.GetValue<double>(), TensorPrimitives.Dot(text, stored.Vector(position)), 6);
        }
        // The pipeline's search is the command line's.
        var piped = pipeline.Search(query, top: 5);
        Assert.Equal(hits.Select(h => h!["id"]!.GetValue<string>()), piped.Select(h => h.Id));
        for (var k = 0; k < hits.Count; k++) Assert.Equal(hits[k]!["score"]!.GetValue<double>(), piped[k].Score, 5);

        // Pair scores: every caption x photo equals evaluate's.
        var expected = File.ReadLines(scoresFile).Skip(1).Select(l => l.Split('\t')).ToList();
        Assert.Equal(PhotoFiles.Length * PhotoFiles.Length, expected.Count); // one caption per photo, each against every photo
        var regions = PhotoFiles.ToDictionary(f => Path.GetFileNameWithoutExtension(f), f => pipeline.ExtractRegions(f));
        foreach (var row in expected)
        {
            var score = pipeline.Score(row[1], [regions[row[0]]])[0];
            Assert.Equal(float.Parse(row[2], CultureInfo.InvariantCulture), score, 4);
        }
        Assert.Equal(pipeline.Score(Captions[0], PhotoFiles[0]), pipeline.Score(Captions[0], [regions[Path.GetFileNameWithoutExtension(PhotoFiles[0])]])[0]);
    }

    [Fact]
    public void AnExportedModelFolderEmbedsPhotosAsItsTrainingPhotosWereMade()
    {
        // The detector used for the features is moved away afterwards: the exported folder must carry its own copy.
        var movedDetector = folder.File("moved-detector.onnx");
        File.Copy(detector, movedDetector);
        var store = folder.File("store");
        var index = folder.File("index");
        Cli("features", "--images", photos, "--detector", movedDetector, "--fp16", "--max-regions", "12", "--out", store);
        Cli("index", "--weights", model, "--features", store, "--images", photos, "--out", index);
        var exported = folder.File("exported");
        Cli("model", "export", "--weights", model, "--features", store, "--out", exported);
        File.Delete(movedDetector);

        var preprocessing = JsonNode.Parse(File.ReadAllText(Path.Combine(exported, "preprocessor_config.json")))!;
        Assert.Equal("float16", preprocessing["feature_dtype"]!.GetValue<string>());
        Assert.Equal(12, preprocessing["regions"]!["max_regions"]!.GetValue<int>());
        Assert.True(File.Exists(Path.Combine(exported, "detector.onnx")));

        using var stored = ImageIndex.Open(index);
        using var fromFolder = InterBertPipeline.Load(exported); // no index: the folder alone says how photos become regions
        using var plain = InterBertPipeline.Load(model);          // a folder that does not say: whole image and grid
        Assert.Equal(12, fromFolder.Regions.MaxRegions);
        var differs = 0.0;
        foreach (var photo in PhotoFiles)
        {
            var position = stored.Images.Select(i => i.Id).ToList().IndexOf(Path.GetFileNameWithoutExtension(photo));
            var vector = fromFolder.EmbedImage(photo);
            AssertClose(stored.Vector(position).ToArray(), vector, 1e-5);
            differs = Math.Max(differs, vector.Zip(plain.EmbedImage(photo), (a, b) => Math.Abs(a - b)).Max());
        }
        Assert.True(differs > 1e-3, "without the folder's description the photos' regions differ, and so do their vectors");
    }

    [Fact]
    public async Task ThePipelineServesManyThreadsAndMicrosoftExtensionsAi()
    {
        using var pipeline = InterBertPipeline.Load(model);
        var expected = Captions.Select(pipeline.EmbedText).ToArray();
        // Many threads at once get what one thread gets.
        var results = await Task.WhenAll(Enumerable.Range(0, 24).Select(k => Task.Run(() => (k, pipeline.EmbedText(Captions[k % Captions.Length])))));
        foreach (var (k, vector) in results) Assert.Equal(expected[k % Captions.Length], vector);
        // Vectors are normalised, and different texts differ.
        Assert.Equal(1.0, Math.Sqrt(TensorPrimitives.Dot(expected[0], expected[0])), 5);
        Assert.NotEqual(expected[0], expected[1]);

        IEmbeddingGenerator<string, Embedding<float>> generator = pipeline.AsEmbeddingGenerator();
        var generated = await generator.GenerateAsync(Captions);
        Assert.Equal(Captions.Length, generated.Count);
        for (var k = 0; k < Captions.Length; k++) AssertClose(expected[k], generated[k].Vector.ToArray(), 1e-5);
        var metadata = generator.GetService<EmbeddingGeneratorMetadata>()!;
        Assert.Equal(InterBertConfig.Tiny.BiHiddenSize, metadata.DefaultModelDimensions);
        Assert.Same(pipeline, generator.GetService<InterBertPipeline>());
        await Assert.ThrowsAsync<ArgumentException>(() => generator.GenerateAsync(Captions, new EmbeddingGenerationOptions { Dimensions = 7 }));

        // A photo without an index: the whole image and a grid (no detector), 1 + 9 regions.
        var regions = pipeline.ExtractRegions(PhotoFiles[0]);
        Assert.Equal(10, regions.RegionCount);
        Assert.Throws<InvalidOperationException>(() => pipeline.Search("a dog"));
    }

    [Fact]
    public void BadInputGivesOneLineErrorsNamingTheFile()
    {
        var missing = folder.File("no-such-model");
        var e = Assert.ThrowsAny<InterBertException>(() => InterBertPipeline.Load(missing));
        Assert.Contains(missing, e.Message);
        using var pipeline = InterBertPipeline.Load(model);
        var corrupt = folder.File("corrupt.jpg");
        File.WriteAllBytes(corrupt, [0xFF, 0xD8, 0xFF, 0x00, 1, 2, 3]);
        var bad = Assert.Throws<InterBertException>(() => pipeline.EmbedImage(corrupt));
        Assert.StartsWith(corrupt, bad.Message);
        Assert.DoesNotContain('\n', bad.Message);
        var noDetector = Assert.Throws<InterBertException>(() => { using var p = InterBertPipeline.Load(model, new InterBertPipelineOptions { Detector = folder.File("none.onnx") }); p.EmbedImage(PhotoFiles[0]); });
        Assert.Contains("none.onnx", noDetector.Message);
    }

    private static void AssertClose(float[] expected, float[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var k = 0; k < expected.Length; k++) Assert.True(Math.Abs(expected[k] - actual[k]) <= tolerance, $"value {k}: {expected[k]} vs {actual[k]}");
    }

    public void Dispose() => folder.Dispose();
}
