using InterBert.Data;
using InterBert.Modeling;
using InterBert.Tasks;
using InterBert.Text;
using InterBert.Weights;
using static TorchSharp.torch;

namespace InterBert.Tests.Demo;

/// <summary>The region head as a judge of captions: its score, its place in every pair score, and the class distributions it needs.</summary>
public sealed class RegionJudgeTests
{
    private const int Classes = 5;

    // Two images of different region counts (the whole image first, with no class), so that a batch of both pads one.
    private static readonly ImageRegions[] Images = [Image("a", [0, 3], 1), Image("b", [2, 1, 4], 2)];

    private static ImageRegions Image(string id, int[] classes, int seed)
    {
        var random = new Random(seed);
        var count = classes.Length + 1;
        var boxes = new List<float> { 0, 0, 100, 100 };
        for (var r = 1; r < count; r++) boxes.AddRange([r * 25, 10 * r, r * 25 + 20, 10 * r + 30]);
        var distributions = new float[count * Classes];
        // Soft distributions, as a detector's: most mass on the region's class.
        for (var r = 1; r < count; r++)
            for (var c = 0; c < Classes; c++) distributions[r * Classes + c] = c == classes[r - 1] ? 0.8f : 0.05f;
        return new ImageRegions(id, 100, 100, count, [.. boxes],
            Enumerable.Range(0, count).SelectMany(r => new[] { boxes[r * 4] / 100, boxes[r * 4 + 1] / 100, boxes[r * 4 + 2] / 100, boxes[r * 4 + 3] / 100, 0.04f }).ToArray(),
            Enumerable.Range(0, count * 8).Select(_ => (float)random.NextDouble()).ToArray(), distributions);
    }

    private static InterBertModel Model(double judgeWeight)
    {
        manual_seed(5);
        return new InterBertModel(TestInputs.TinyNoDropout with { VFeatureSize = 8, VTargetSize = Classes, RegionJudgeWeight = judgeWeight });
    }

    private static WordPieceTokenizer Tokenizer() => WordPieceTokenizer.Load(new MemoryStream(MiniLmOnnxReader.ReadVocabularyBytes()), "vocab");

    // Written out for one pair: the head's log-likelihood of the classes with every feature zero, for the caption and for no caption.
    private static double ByHand(InterBertModel model, WordPieceTokenizer tokenizer, string caption, ImageRegions image)
    {
        double LogLikelihood(int[] tokens)
        {
            var text = new TextBatch(tensor(tokens.Select(t => (long)t).ToArray(), [1, tokens.Length]), ones(1, tokens.Length, dtype: ScalarType.Int64));
            var hidden = new ImageBatch(zeros(1, image.RegionCount, 8), tensor(image.Locations, [1, image.RegionCount, 5]), ones(1, image.RegionCount, dtype: ScalarType.Int64));
            var output = model.Forward(text, hidden).ImageSequence!;
            var total = 0.0;
            for (var r = 0; r < image.RegionCount; r++)
            {
                var logProbabilities = model.RegionLogits(output[0, r + 1]).log_softmax(-1).data<float>().ToArray();
                for (var c = 0; c < Classes; c++) total += image.Classes![r * Classes + c] * logProbabilities[c];
            }
            return total;
        }
        return LogLikelihood(tokenizer.Encode(caption, 24)) - LogLikelihood([tokenizer.ClsId, tokenizer.SepId]);
    }

    [Fact]
    public void TheJudgeIsTheCaptionsGainInTheRegionHeadsLikelihoodOfTheClassesAndEveryPairScoreAddsIt()
    {
        var tokenizer = Tokenizer();
        string[] captions = ["a purple circle to the left of a yellow star", "a star"];
        using var model = Model(0);
        model.eval();
        using var noGrad = no_grad();
        var text = WordPieceTokenizer.Collate(captions.Select(c => tokenizer.Encode(c, 24)).ToList(), tokenizer.PadId);
        var image = RegionCollator.Collate(Images, 8);
        Assert.NotNull(image.Classes);
        var judged = model.GroundedLikelihood(text, image).data<float>().ToArray();
        // The batch pads the shorter caption and the image with fewer regions: neither padding changes a pair's figure.
        for (var k = 0; k < 2; k++) Assert.Equal(ByHand(model, tokenizer, captions[k], Images[k]), judged[k], 3);
        // A caption tells the head something here (a random model's figures are not all zero).
        Assert.True(judged.All(v => Math.Abs(v) > 1e-4), string.Join(", ", judged));

        // A model with the judge weight adds that many times the judgement to its pair scores, zero-shot and fine-tuned.
        using var judging = Model(2);
        judging.load_state_dict(model.state_dict());
        judging.eval();
        foreach (var zeroShot in new[] { true, false })
        {
            var plain = model.PairScores(text, image, zeroShot).data<float>().ToArray();
            var withJudge = judging.PairScores(text, image, zeroShot).data<float>().ToArray();
            for (var k = 0; k < 2; k++) Assert.Equal(plain[k] + 2 * judged[k], withJudge[k], 3);
        }
        // Without class distributions there is nothing to judge by: a clear error, not a score without its judgement.
        var error = Assert.Throws<InterBertException>(() => judging.PairScores(text, image with { Classes = null }, zeroShot: true));
        Assert.Contains("class distributions", error.Message);
    }

    [Fact]
    public void PreparedPairsCarryTheSameClassDistributionsAsTheCollator()
    {
        using var folder = new TempFolder();
        var manifest = new FeatureStoreManifest { FeatureSize = 8, ClassCount = Classes, DType = "float32", Extractor = "test" };
        using (var writer = new FeatureStoreWriter(folder.File("store"), manifest))
            foreach (var regions in Images) writer.Add(regions);
        File.WriteAllLines(folder.File("d.jsonl"), Images.Select(i => $"{{\"id\": \"{i.Id}\", \"image\": \"{i.Id}.png\", \"captions\": [\"a star\"]}}"));
        using var store = FeatureStore.Open(folder.File("store"));
        var tokenizer = Tokenizer();
        using var pairs = new PreparedPairs(CaptionCorpus.Load(folder.File("d.jsonl"), [], store, tokenizer, 24), store, tokenizer.PadId, 8, 36);
        var (_, image) = pairs.Pairs([0, 1, 0], [1, 0, 0]);
        var collated = RegionCollator.Collate([Images[1], Images[0], Images[0]], 8);
        Assert.Equal(collated.Classes!.data<float>().ToArray(), image.Classes!.data<float>().ToArray());
        Assert.Equal(RegionCollator.Collate([Images[0]], 8).Classes!.data<float>().ToArray(), pairs.Images([0]).Classes!.data<float>().ToArray());
        // Images without class distributions collate without them.
        Assert.Null(RegionCollator.Collate([Images[0] with { Classes = null }], 8).Classes);
    }
}
