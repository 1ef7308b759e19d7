using InterBert.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace InterBert.Tests.Modeling;

/// <summary>Word-region matching: each word's attention over the regions and each region's over the words, from the two unimodal passes.</summary>
public class WordRegionMatchingTests
{
    [Fact]
    public void ScoresFollowEachWordsAttentionOverTheRegionsAndIgnorePadding()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(4);
        // 2 captions of up to 4 positions (position 0 is [CLS], never a word) and 3 images of up to 3 positions.
        var words = randn([2, 4, 5], generator: generator);
        var regions = randn([3, 3, 5], generator: generator);
        var wordMask = tensor(new[] { false, true, true, true, false, true, true, false }, [2, 4]);
        var regionMask = tensor(new[] { true, true, true, true, true, false, true, false, false }, [3, 3]);
        var w = words.data<float>().ToArray();
        var r = regions.data<float>().ToArray();
        var wm = wordMask.data<bool>().ToArray();
        var rm = regionMask.data<bool>().ToArray();

        // The definition, one pair at a time in doubles.
        double Expected(int c, int i)
        {
            double Cos(int t, int k) => Enumerable.Range(0, 5).Sum(d => (double)w[(c * 4 + t) * 5 + d] * r[(i * 3 + k) * 5 + d]);
            var ws = Enumerable.Range(0, 4).Where(t => wm[c * 4 + t]).ToList();
            var rs = Enumerable.Range(0, 3).Where(k => rm[i * 3 + k]).ToList();
            double Attend(IReadOnlyList<double> cosines)
            {
                var max = cosines.Max();
                var weights = cosines.Select(v => Math.Exp(TokenRegionMatching.Sharpness * (v - max))).ToList();
                return cosines.Zip(weights, (v, e) => v * e).Sum() / weights.Sum();
            }
            var textToImage = ws.Average(t => Attend(rs.Select(k => Cos(t, k)).ToList()));
            var imageToText = rs.Average(k => Attend(ws.Select(t => Cos(t, k)).ToList()));
            return (textToImage + imageToText) / 2;
        }

        var all = TokenRegionMatching.AllPairs(words, wordMask, regions, regionMask);
        Assert.Equal(new long[] { 2, 3 }, all.shape);
        for (var c = 0; c < 2; c++)
            for (var i = 0; i < 3; i++)
                Assert.Equal(Expected(c, i), all[c, i].item<float>(), 4);

        // Side by side: caption k with image k, the same numbers as the full matrix.
        var captions = tensor(new long[] { 0, 1, 1, 0 });
        var images = tensor(new long[] { 2, 0, 1, 1 });
        var paired = TokenRegionMatching.Paired(words.index_select(0, captions), wordMask.index_select(0, captions), regions.index_select(0, images), regionMask.index_select(0, images));
        for (var k = 0; k < 4; k++)
            Assert.Equal(Expected((int)captions[k].item<long>(), (int)images[k].item<long>()), paired[k].item<float>(), 4);

        // Whatever [CLS] and the padded positions hold, the scores do not move.
        var noisyWords = words.where(wordMask.unsqueeze(-1), randn([2, 4, 5], generator: generator) * 9);
        var noisyRegions = regions.where(regionMask.unsqueeze(-1), randn([3, 3, 5], generator: generator) * 9);
        Assert.True(TokenRegionMatching.AllPairs(noisyWords, wordMask, noisyRegions, regionMask).sub(all).abs().max().item<float>() < 1e-5f);
    }

    [Fact]
    public void TheBatchScoresAreEachPairsOwnAndTheirLossTrainsThePoolersNotTheTemperature()
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        var model = new InterBertModel(TestInputs.TinyNoDropout);
        var text = TestInputs.Text(model.Config, [5, 3, 4], 6, seed: 2);
        var image = TestInputs.Image(model.Config, [4, 2], 5, seed: 2);
        int[] imageOf = [0, 1, 1];
        var (textVectors, imageVectors, matching) = ContrastiveLoss.Vectors(model, text, image, wordRegion: true);
        Assert.NotNull(matching);

        // Each entry is the pair's own score: one caption and one image through their own passes, padding trimmed away.
        for (var c = 0; c < 3; c++)
            for (var i = 0; i < 2; i++)
                using (no_grad())
                {
                    var length = (int)text.AttentionMask[c].sum().item<long>();
                    var count = (int)image.RegionMask[i].sum().item<long>();
                    var oneText = new TextBatch(text.InputIds.narrow(0, c, 1).narrow(1, 0, length), text.AttentionMask.narrow(0, c, 1).narrow(1, 0, length));
                    var oneImage = new ImageBatch(image.Features.narrow(0, i, 1).narrow(1, 0, count), image.Locations.narrow(0, i, 1).narrow(1, 0, count), image.RegionMask.narrow(0, i, 1).narrow(1, 0, count));
                    var (w, wm) = TokenRegionMatching.Words(model, model.Forward(oneText, null).TextSequence!, oneText);
                    var (r, rm) = TokenRegionMatching.Regions(model, model.Forward(null, oneImage).ImageSequence!, oneImage);
                    Assert.Equal(TokenRegionMatching.Paired(w, wm, r, rm).item<float>(), matching![c, i].item<float>(), 4);
                }

        // The pooled vectors' loss from logits is the loss from vectors.
        var scale = ContrastiveLoss.Scale(model.LogitScale);
        Assert.Equal(ContrastiveLoss.FromVectors(textVectors, imageVectors, imageOf, model.LogitScale).item<float>(),
            ContrastiveLoss.FromLogits(matmul(textVectors, imageVectors.t()) * scale, imageOf).item<float>(), 5);

        // The word-region loss at the held temperature: gradient reaches the poolers and the layers below, not the scale.
        ContrastiveLoss.FromLogits(matching! * scale.detach(), imageOf).backward();
        Tensor? Gradient(string name) => model.named_parameters().Single(p => p.name == name).parameter.grad;
        Assert.True(Gradient("t_pooler.dense.weight") is { } textPooler && textPooler.abs().sum().item<float>() > 0);
        Assert.True(Gradient("v_pooler.dense.weight") is { } imagePooler && imagePooler.abs().sum().item<float>() > 0);
        Assert.True(Gradient("encoder.layer.0.attention.self.query.weight") is { } layer && layer.abs().sum().item<float>() > 0);
        Assert.True(Gradient(InterBertModel.LogitScaleKey) is not { } temperature || temperature.abs().sum().item<float>() == 0);
    }
}
