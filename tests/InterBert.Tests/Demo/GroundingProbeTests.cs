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

    [Fact]
    public void EachRelationSceneGivesItsTwoNamedBoxesAndARegionBlindHeadScoresExactlyHalf()
    {
        using var folder = new TempFolder();
        var manifest = new FeatureStoreManifest { FeatureSize = 8, ClassCount = ClassNames.Length, DType = "float32", Extractor = "test", ClassNames = ClassNames };
        var random = new Random(2);
        // Scenes: (region classes after the whole image, with -1 for a region without a class), caption, whether it has a relation negative.
        var scenes = new (int[] Classes, string Caption, bool Relation)[]
        {
            ([0, 3], "a purple circle to the left of a yellow star", true),
            ([2, 1, 4], "a yellow star above a purple circle", true),             // the square is not named: still two boxes asked
            ([0, 1, 3], "a purple circle to the left of a yellow star", true),    // two purple circles: which one is meant is not well posed
            ([0, 3], "a small purple circle and a large yellow star", false),     // no relation negative: not asked
            ([4, 3], "a red square below a yellow star", true),
        };
        using (var writer = new FeatureStoreWriter(folder.File("store"), manifest))
        {
            for (var s = 0; s < scenes.Length; s++)
            {
                var classes = scenes[s].Classes;
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
        File.WriteAllLines(folder.File("d.jsonl"), scenes.Select((s, i) => $"{{\"id\": \"s{i}\", \"image\": \"s{i}.png\", \"captions\": [\"{s.Caption}\"]}}"));
        using var store = FeatureStore.Open(folder.File("store"));
        var tokenizer = WordPieceTokenizer.Load(new MemoryStream(MiniLmOnnxReader.ReadVocabularyBytes()), "vocab");
        var corpus = CaptionCorpus.Load(folder.File("d.jsonl"), [], store, tokenizer, 24);
        var negatives = scenes.Select((s, i) => (Id: $"s{i}", s))
            .ToDictionary(p => p.Id, p => new List<HardNegativeCaption> { new("swapped", 0, p.s.Relation ? "relation" : "attribute") });

        manual_seed(3);
        using var model = new InterBertModel(TestInputs.TinyNoDropout with { VFeatureSize = 8, VTargetSize = ClassNames.Length });
        // A region head that ignores its input and prefers purple circles: each asked scene gets its circle right and its other object wrong.
        using (no_grad())
        {
            var (_, decoderWeight) = model.named_parameters().Single(p => p.name.EndsWith("decoder.weight", StringComparison.Ordinal) && p.parameter.shape[0] == ClassNames.Length);
            var (_, decoderBias) = model.named_parameters().Single(p => p.name.EndsWith("decoder.bias", StringComparison.Ordinal) && p.parameter.shape[0] == ClassNames.Length);
            decoderWeight.zero_();
            // No named object gets half the mass (the circles 0.50 together, the star 0.41, the square 0.09): only the comparison of the two decides.
            decoderBias.copy_(tensor(new float[] { 2, 2, 2.5f, -9, 1 }));
        }
        var result = GroundingProbe.Evaluate(model, corpus, store, tokenizer, negatives);
        Assert.NotNull(result);
        // Scenes 0, 1 and 4 are asked about, two boxes each.
        Assert.Equal(6, result.Regions);
        // Scenes 0 and 1: the circle's box right, the star's wrong; scene 4: the star over the square for both boxes: one right, one wrong.
        Assert.Equal(50.0, result.NamedRight);

        // Without a relation caption nothing is asked.
        Assert.Null(GroundingProbe.Evaluate(model, corpus, store, tokenizer, new Dictionary<string, List<HardNegativeCaption>>()));
    }
}
