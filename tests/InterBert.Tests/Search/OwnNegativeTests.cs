using InterBert.Data;
using InterBert.Pretraining;
using InterBert.Synthetic;
using InterBert.Weights;
using static TorchSharp.torch;

namespace InterBert.Tests.Search;

/// <summary>Pretraining's image-text matching with the dataset's own hard negatives of each image.</summary>
[Collection("Search")]
public sealed class OwnNegativeTests(SearchFixture fixture)
{
    [Fact]
    public void WithOwnNegativesEveryWrongCaptionIsAKnownFalseCaptionOfThatImage()
    {
        var tokenizer = ModelVocabulary.TokenizerFor(fixture.SearchWeights);
        using var store = FeatureStore.Open(fixture.Features);
        var falseCaptions = SyntheticDataset.HardNegativeTexts(fixture.Dataset, ["train"]);
        var corpus = CaptionCorpus.Load(fixture.Dataset, ["train"], store, tokenizer, 64).WithImageNegatives(falseCaptions, tokenizer, 64);
        Assert.All(corpus.ImageNegatives, negatives => Assert.InRange(negatives.Count, 1, 2)); // single-object scenes have no relation to swap
        var options = new PretrainingTaskOptions { NegativeRate = 1, OwnNegativeRate = 1, MaxRegions = 8 };
        var builder = new PretrainingBatchBuilder(corpus, store, new SegmentMasker(tokenizer), new RegionMasker(), null, options, tokenizer.PadId, regressFeatures: true);
        var captions = Enumerable.Range(0, 16).ToList();
        using var scope = NewDisposeScope();
        var batch = builder.Build(captions, new Random(4));
        Assert.Equal(0, batch.MatchLabels.sum().item<long>());
        // Undo the segment masking: a masked position's label is its original token.
        var ids = batch.Text.InputIds.data<long>().ToArray();
        var labels = batch.SegmentLabels.data<long>().ToArray();
        var width = (int)batch.Text.InputIds.shape[1];
        for (var row = 0; row < captions.Count; row++)
        {
            var length = (int)batch.Text.AttentionMask[row].sum().item<long>();
            var original = Enumerable.Range(0, length).Select(t => (int)(labels[row * width + t] == SegmentMasker.Ignore ? ids[row * width + t] : labels[row * width + t])).ToArray();
            var negatives = corpus.ImageNegatives[corpus.ImageOf[captions[row]]];
            Assert.Contains(negatives, n => n.SequenceEqual(original));
            Assert.DoesNotContain(corpus.Tokens.Where((_, c) => corpus.ImageOf[c] == corpus.ImageOf[captions[row]]), t => t.SequenceEqual(original));
        }
    }
}
