using System.Text.Json.Nodes;
using InterBert.Data;
using InterBert.Modeling;
using InterBert.Text;
using InterBert.Weights;
using InterBert.Workflows;
using static TorchSharp.torch;

namespace InterBert.Tests.Demo;

/// <summary>The grounding probe asks about the two named boxes of each relation caption, and only where that is well posed.</summary>
public sealed class GroundingProbeTests
{
    private static readonly string[] ClassNames = ["small purple circle", "large purple circle", "small yellow star", "large yellow star", "small red square"];

    // Scenes: (region classes after the whole image), caption, whether it has a relation negative.
    private static readonly (int[] Classes, string Caption, bool Relation)[] Scenes =
    [
        ([0, 3], "a purple circle to the left of a yellow star", true),
        ([2, 1, 4], "a yellow star above a purple circle", true),             // the square is not named: still two boxes asked
        ([0, 1, 3], "a purple circle to the left of a yellow star", true),    // two purple circles: which one is meant is not well posed
        ([0, 3], "a small purple circle and a large yellow star", false),     // no relation negative: not asked
        ([4, 3], "a red square below a yellow star", true),
        ([0, 3, 4], "a purple circle to the left of a yellow star, plus a red square", true), // three named objects: not asked
    ];

    // The scenes' captions in Chinese.
    private static readonly string[] ChineseCaptions = ["一个紫色圆形在一个黄色星形的左边", "一个黄色星形在一个紫色圆形的上面", "一个紫色圆形在一个黄色星形的左边", "一个小的紫色圆形和一个大的黄色星形", "一个红色正方形在一个黄色星形的下面", "一个紫色圆形在一个黄色星形的左边，还有一个红色正方形"];

    private static void WriteStore(string path, bool withClassNames = true)
    {
        var manifest = new FeatureStoreManifest { FeatureSize = 8, ClassCount = ClassNames.Length, DType = "float32", Extractor = "test", ClassNames = withClassNames ? ClassNames : null };
        var random = new Random(2);
        using var writer = new FeatureStoreWriter(path, manifest);
        for (var s = 0; s < Scenes.Length; s++)
        {
            var classes = Scenes[s].Classes;
            var count = classes.Length + 1;
            var boxes = new List<float> { 0, 0, 100, 100 };
            for (var r = 1; r < count; r++) boxes.AddRange([r * 25, 10, r * 25 + 20, 30]);
            var distributions = new float[count * ClassNames.Length];
            for (var r = 1; r < count; r++) distributions[r * ClassNames.Length + classes[r - 1]] = 1;
            writer.Add(new ImageRegions($"s{s}", 100, 100, count, [.. boxes],
                Enumerable.Range(0, count).SelectMany(r => new[] { boxes[r * 4] / 100, boxes[r * 4 + 1] / 100, boxes[r * 4 + 2] / 100, boxes[r * 4 + 3] / 100, 0.04f }).ToArray(),
                Enumerable.Range(0, count * 8).Select(_ => (float)random.NextDouble()).ToArray(), distributions));
        }
    }

    /// <summary>A model whose region head ignores its input and prefers purple circles: each asked scene gets its circle right and its other object wrong.</summary>
    private static InterBertModel RegionBlindModel()
    {
        manual_seed(3);
        var model = new InterBertModel(TestInputs.TinyNoDropout with { VFeatureSize = 8, VTargetSize = ClassNames.Length });
        using (no_grad())
        {
            var (_, decoderWeight) = model.named_parameters().Single(p => p.name.EndsWith("decoder.weight", StringComparison.Ordinal) && p.parameter.shape[0] == ClassNames.Length);
            var (_, decoderBias) = model.named_parameters().Single(p => p.name.EndsWith("decoder.bias", StringComparison.Ordinal) && p.parameter.shape[0] == ClassNames.Length);
            decoderWeight.zero_();
            // No named object gets half the mass (the circles 0.50 together, the star 0.41, the square 0.09): only the comparison of the two decides.
            decoderBias.copy_(tensor(new float[] { 2, 2, 2.5f, -9, 1 }));
        }
        return model;
    }

    /// <summary>The probe's results on <see cref="Scenes"/> captioned by <paramref name="captions"/>, with and without their phrases' mapping.</summary>
    private static (GroundingResult? Probed, GroundingResult? WithoutRelations, GroundingResult? ReadAsEnglish) Probe(IReadOnlyList<string> captions, Func<string, string>? objectPhrase)
    {
        using var folder = new TempFolder();
        WriteStore(folder.File("store"));
        File.WriteAllLines(folder.File("d.jsonl"), captions.Select((c, i) => $"{{\"id\": \"s{i}\", \"image\": \"s{i}.png\", \"captions\": [\"{c}\"]}}"));
        using var store = FeatureStore.Open(folder.File("store"));
        var tokenizer = WordPieceTokenizer.Load(new MemoryStream(MiniLmOnnxReader.ReadVocabularyBytes()), "vocab");
        var corpus = CaptionCorpus.Load(folder.File("d.jsonl"), [], store, tokenizer, 24);
        var negatives = Scenes.Select((s, i) => (Id: $"s{i}", s))
            .ToDictionary(p => p.Id, p => new List<HardNegativeCaption> { new("swapped", 0, p.s.Relation ? "relation" : "attribute") });
        using var model = RegionBlindModel();
        return (GroundingProbe.Evaluate(model, corpus, store, tokenizer, negatives, objectPhrase: objectPhrase),
            GroundingProbe.Evaluate(model, corpus, store, tokenizer, new Dictionary<string, List<HardNegativeCaption>>(), objectPhrase: objectPhrase),
            GroundingProbe.Evaluate(model, corpus, store, tokenizer, negatives));
    }

    private static void AssertTheScenesFigures(GroundingResult? result)
    {
        Assert.NotNull(result);
        // Scenes 0, 1 and 4 are asked about, two boxes each.
        Assert.Equal(6, result.Regions);
        // Scenes 0 and 1: the circle's box right, the star's wrong; scene 4: the star over the square for both boxes: one right, one wrong.
        Assert.Equal(50.0, result.NamedRight);
        // Sizes, where the object has two: scene 0's circle (small and large circles tie: not preferred) and star (the
        // large star is nearly impossible: wrong), scene 1's star (right) and circle (tie), scene 4's star (wrong); the
        // square comes in one size and is not counted. One of five.
        Assert.Equal(5, result.SizedRegions);
        Assert.Equal(20.0, result.SizeRight);
    }

    [Fact]
    public void EachRelationSceneGivesItsTwoNamedBoxesAndARegionBlindHeadScoresExactlyHalf()
    {
        var (probed, withoutRelations, _) = Probe([.. Scenes.Select(s => s.Caption)], objectPhrase: null);
        AssertTheScenesFigures(probed);
        // Without a relation caption nothing is asked.
        Assert.Null(withoutRelations);
    }

    [Fact]
    public void ChineseCaptionsAreAskedAboutThroughTheirOwnObjectPhrases()
    {
        // The same scenes in Chinese: the probe must find the same boxes, here without spaces between words.
        var (probed, _, readAsEnglish) = Probe(ChineseCaptions, new InterBert.Synthetic.ChineseSceneLanguage().ObjectPhrase);
        AssertTheScenesFigures(probed);
        // Read as English, no caption names a class: nothing is asked.
        Assert.Null(readAsEnglish);
    }

    [Fact]
    public void EvaluateGroundingReportsTheProbeAndRefusesAStoreWithoutClassNames()
    {
        using var folder = new TempFolder();
        WriteStore(folder.File("store"));
        WriteStore(folder.File("unnamed"), withClassNames: false);
        void WriteDataset(string path, bool relations, IReadOnlyList<string>? captions = null) => File.WriteAllText(path, new JsonObject
        {
            ["images"] = new JsonArray(Scenes.Select((s, i) => (JsonNode)new JsonObject
            {
                ["filename"] = $"s{i}.png", ["split"] = "test", ["sentences"] = new JsonArray(new JsonObject { ["raw"] = captions?[i] ?? s.Caption }),
                ["hard_negatives"] = new JsonArray(new JsonObject { ["raw"] = "swapped", ["true_sentence"] = 0, ["changed"] = s.Relation && relations ? "relation" : "attribute" }),
            }).ToArray()),
        }.ToJsonString());
        WriteDataset(folder.File("dataset.json"), relations: true);
        WriteDataset(folder.File("colours.json"), relations: false);
        var weights = folder.File("model.safetensors");
        using (var model = RegionBlindModel())
            ModelCheckpoint.Save(model, weights, ModelVocabulary.WriteBeside(weights, MiniLmOnnxReader.ReadVocabularyBytes(), lowerCase: true));
        var options = new EvaluationJobOptions { Task = "grounding", Dataset = folder.File("dataset.json"), Split = "test", Features = folder.File("store"), Weights = weights, MetricsOut = folder.File("grounding.json") };

        EvaluationJob.Run(options, new WorkflowHost());

        // The same figures as the probe run in memory above, through the dataset's own hard negatives.
        var json = JsonNode.Parse(File.ReadAllText(folder.File("grounding.json")))!;
        Assert.Equal(6, json["regions"]!.GetValue<int>());
        Assert.Equal(50.0, json["named_right"]!.GetValue<double>());
        Assert.Equal(5, json["sized_regions"]!.GetValue<int>());
        Assert.Equal(20.0, json["size_right"]!.GetValue<double>());
        // The same head as a judge of whole captions: one that ignores its input gives the true caption and its negative
        // the same figure, so no negative is below.
        Assert.Equal(Scenes.Length, json["region_head_hard_negatives"]!["relation_comparisons"]!.GetValue<int>() + json["region_head_hard_negatives"]!["attribute_comparisons"]!.GetValue<int>());
        Assert.Equal(0.0, json["region_head_hard_negatives"]!["relation_below_true"]!.GetValue<double>());
        var unnamed = Assert.Throws<InterBertException>(() => EvaluationJob.Run(options with { Features = folder.File("unnamed"), MetricsOut = null }, new WorkflowHost()));
        Assert.Contains("names no classes", unnamed.Message);
        var noRelations = Assert.Throws<InterBertException>(() => EvaluationJob.Run(options with { Dataset = folder.File("colours.json"), MetricsOut = null }, new WorkflowHost()));
        Assert.Contains("no image of split 'test' has a relation caption", noRelations.Message);

        // Chinese captions through the command line: read in their scene language, the same boxes and figures; read as
        // English, nothing is asked, and the one-line error says which option reads them.
        WriteDataset(folder.File("chinese.json"), relations: true, ChineseCaptions);
        string[] evaluate = ["evaluate", "--task", "grounding", "--dataset", folder.File("chinese.json"), "--features", folder.File("store"), "--weights", weights];
        var (code, output, error) = CliProcess.Run([.. evaluate, "--scene-language", "zh", "--metrics-out", folder.File("chinese-grounding.json")]);
        Assert.True(code == 0, output + error);
        var chinese = JsonNode.Parse(File.ReadAllText(folder.File("chinese-grounding.json")))!;
        Assert.Equal(6, chinese["regions"]!.GetValue<int>());
        Assert.Equal(50.0, chinese["named_right"]!.GetValue<double>());
        (code, output, error) = CliProcess.Run(evaluate);
        Assert.Equal(1, code);
        Assert.Contains("--scene-language zh", error);
        Assert.DoesNotContain("   at ", error);
    }
}
