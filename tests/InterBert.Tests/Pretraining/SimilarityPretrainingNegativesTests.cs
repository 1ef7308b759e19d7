using InterBert.Modeling;
using InterBert.Pretraining;
using InterBert.Training;
using static TorchSharp.torch;

namespace InterBert.Tests.Pretraining;

/// <summary>Pretraining's wrong captions drawn within the batch by contrastive similarity (ALBEF's sampling for ITM).</summary>
[Collection("coco features")]
public sealed class SimilarityPretrainingNegativesTests(CocoFeatures features)
{
    [Fact]
    public void WrongCaptionsComeFromOtherImagesOfTheBatchInProportionToTheSimilarity()
    {
        // Four captions (corpus indices 40..43) of three batch images: 0, 0, 1, 2. Image 0's column: its own captions are
        // excluded; caption 42 (image 1) has cosine 0.5, caption 43 (image 2) 0.2.
        int[] captions = [40, 41, 42, 43];
        int[] imageOfText = [0, 0, 1, 2];
        var similarity = new float[,] { { 0.9f, 0.1f, 0.0f }, { 0.8f, 0.0f, 0.1f }, { 0.5f, 0.7f, 0.3f }, { 0.2f, 0.4f, 0.6f } };
        const double scale = 5;
        var random = new Random(3);
        var counts = new Dictionary<int, int>();
        const int draws = 4000;
        for (var k = 0; k < draws; k++)
        {
            var wrong = PretrainingObjective.SimilarWrongCaptions(captions, imageOfText, similarity, scale, random);
            // The two examples of image 0 share its draw, and no example gets a caption of its own image.
            Assert.Equal(wrong[0], wrong[1]);
            Assert.Contains(wrong[0], new[] { 42, 43 });
            Assert.Contains(wrong[2], new[] { 40, 41, 43 });
            Assert.Contains(wrong[3], new[] { 40, 41, 42 });
            counts[wrong[0]] = counts.GetValueOrDefault(wrong[0]) + 1;
        }
        var expected = Math.Exp(scale * 0.5) / (Math.Exp(scale * 0.5) + Math.Exp(scale * 0.2));
        Assert.InRange((double)counts[42] / draws, expected - 0.03, expected + 0.03);
        // A batch of one image has no wrong caption to draw.
        Assert.Equal([-1, -1], PretrainingObjective.SimilarWrongCaptions([5, 6], [0, 0], new float[,] { { 1f }, { 1f } }, scale, random));
    }

    [Fact]
    public void TheBatchBuilderPairsEachNegativeWithTheGivenCaption()
    {
        using var folder = new TempFolder();
        var (store, corpus) = PretrainingVariantTests.Fixture(folder);
        using var storeLease = store;
        var tasks = new PretrainingTaskOptions { NegativeRate = 0.5, HardNegativeRate = 0, ContrastiveWeight = 1 };
        var builder = PretrainingVariantTests.Builder(store, corpus, tasks);
        var batchCaptions = Enumerable.Range(0, corpus.Captions.Count).ToList();
        // Each example's given wrong caption: a caption of the next photo.
        var given = batchCaptions.Select(c => corpus.Captions.Select((_, k) => k).First(k => corpus.ImageOf[k] == (corpus.ImageOf[c] + 1) % corpus.ImageIds.Count)).ToList();
        var negatives = 0;
        for (var round = 0; round < 5; round++)
        {
            using var scope = NewDisposeScope();
            var batch = builder.Build(batchCaptions, batchCaptions.Select(_ => new Random(round)).ToList(), given, includeContrastive: false);
            Assert.Null(batch.Contrastive);
            var ids = batch.Text.InputIds.data<long>().ToArray();
            var labels = batch.SegmentLabels.data<long>().ToArray();
            var matched = batch.MatchLabels.data<long>().ToArray();
            var length = (int)batch.Text.InputIds.shape[1];
            for (var i = 0; i < batchCaptions.Count; i++)
            {
                // Undo the segment masking: a masked position's label is its original token.
                var original = Enumerable.Range(0, length).Select(t => labels[i * length + t] != SegmentMasker.Ignore ? labels[i * length + t] : ids[i * length + t]).Where(t => t != 0).ToList();
                var expected = corpus.Tokens[matched[i] == InterBertModel.MatchedIndex ? batchCaptions[i] : given[i]].Select(t => (long)t).ToList();
                Assert.Equal(expected, original);
                if (matched[i] != InterBertModel.MatchedIndex) negatives++;
            }
        }
        Assert.InRange(negatives, 10, 50); // about half of 60 pairs
    }

    [Fact]
    public void PretrainingWithSimilarityNegativesRunsAndRefusesToRunWithoutTheContrastiveLoss()
    {
        using var run = new TempFolder();
        string[] common = ["pretrain", "--dataset", SharedData.CocoDataset, "--features", features.StorePath, "--preset", "tiny", "--steps", "6", "--batch-size", "8", "--val-split", "none", "--threads", "2", "--negatives", "similarity"];
        var refused = CliProcess.Run([.. common, "--out", run.File("refused")]);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("--contrastive-weight", refused.Error);
        Assert.Single(refused.Error.Trim().Split('\n'));

        var (code, output, error) = CliProcess.Run([.. common, "--out", run.File("similar"), "--contrastive-weight", "1"]);
        Assert.True(code == 0, output + error);
        var rows = new MetricsLog(Path.Combine(run.File("similar"), "metrics.jsonl")).ReadAll();
        Assert.Contains(rows, r => r.ContainsKey("itm") && r["step"]!.GetValue<int>() == 6);
        Assert.All(rows.Where(r => r.ContainsKey("itc")), r => Assert.True(double.IsFinite(r["itc"]!.GetValue<double>()) && r["itc"]!.GetValue<double>() > 0));
    }
}
