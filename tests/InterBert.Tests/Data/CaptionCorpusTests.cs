using InterBert.Data;
using InterBert.Tests.Search;
using InterBert.Weights;

namespace InterBert.Tests.Data;

[Collection("Search")]
public sealed class CaptionCorpusTests(SearchFixture fixture)
{
    [Fact]
    public void FirstCaptionsOfEachImageKeepEveryImageAndOnlyItsFirstCaptions()
    {
        var tokenizer = ModelVocabulary.TokenizerFor(fixture.SearchWeights);
        using var store = FeatureStore.Open(fixture.Features);
        var whole = CaptionCorpus.Load(fixture.Dataset, ["train"], store, tokenizer, 64);
        Assert.True(whole.Captions.Count > 2 * whole.ImageIds.Count, "the fixture's images have several captions each");

        var one = whole.FirstCaptionsOfEachImage(1);
        Assert.Equal(whole.ImageIds, one.ImageIds);
        Assert.Equal(whole.ImageIds.Count, one.Captions.Count);
        for (var image = 0; image < whole.ImageIds.Count; image++)
        {
            var first = Enumerable.Range(0, whole.Captions.Count).First(c => whole.ImageOf[c] == image);
            var kept = Enumerable.Range(0, one.Captions.Count).Single(c => one.ImageOf[c] == image);
            Assert.Equal(whole.Captions[first], one.Captions[kept]);
            Assert.Equal(whole.Tokens[first], one.Tokens[kept]);
        }

        var two = whole.FirstCaptionsOfEachImage(2);
        Assert.All(Enumerable.Range(0, two.ImageIds.Count), image => Assert.Equal(2, two.ImageOf.Count(i => i == image)));
        Assert.Throws<ArgumentOutOfRangeException>(() => whole.FirstCaptionsOfEachImage(0));
    }

    [Fact]
    public void EvaluateRanksOneCaptionPerImageAgainstEveryImage()
    {
        var tokenizer = ModelVocabulary.TokenizerFor(fixture.SearchWeights);
        using var store = FeatureStore.Open(fixture.Features);
        var test = CaptionCorpus.Load(fixture.Dataset, ["test"], store, tokenizer, 64);
        var (code, output, error) = CliProcess.Run("evaluate", "--task", "retrieval", "--dataset", fixture.Dataset, "--features", fixture.Features,
            "--weights", fixture.SearchWeights, "--captions-per-image", "1", "--candidates", "2");
        Assert.True(code == 0, output + error);
        Assert.Contains($"{test.ImageIds.Count} captions x {test.ImageIds.Count} images", output);
        var (badCode, _, badError) = CliProcess.Run("evaluate", "--task", "retrieval", "--dataset", fixture.Dataset, "--features", fixture.Features,
            "--weights", fixture.SearchWeights, "--captions-per-image", "0");
        Assert.Equal(2, badCode);
        Assert.Equal("error: --captions-per-image 0: expected a positive number", badError.Trim());
    }
}
