using InterBert.Data;
using InterBert.Pretraining;
using InterBert.Synthetic;
using InterBert.Tasks;
using System.Text.Json.Nodes;
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
        var falseCaptions = HardNegativeReader.HardNegativeTexts(fixture.Dataset, ["train"]);
        var corpus = CaptionCorpus.Load(fixture.Dataset, ["train"], store, tokenizer, 64).WithImageNegatives(falseCaptions, tokenizer, 64);
        Assert.All(corpus.ImageNegatives, negatives => Assert.InRange(negatives.Count, 1, 2)); // single-object scenes have no relation to swap
        var options = new PretrainingTaskOptions { NegativeRate = 1, OwnNegativeRate = 1, MaxRegions = 8 };
        var builder = new PretrainingBatchBuilder(corpus, store, new SegmentMasker(tokenizer), new RegionMasker(), null, options, tokenizer.PadId, regressFeatures: true);
        var captions = Enumerable.Range(0, 16).ToList();
        using var scope = NewDisposeScope();
        var batch = builder.Build(captions, new Random(4));
        Assert.Equal(captions.Count, batch.MatchLabels.sum().item<long>()); // every pair is a negative (label 1)
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

    [Fact]
    public void OnlyTheKindAskedForServesAsAnImagesOwnNegatives()
    {
        // What the dataset says: each training scene's hard negatives, by the kind of change.
        var listed = JsonNode.Parse(File.ReadAllText(fixture.Dataset))!["images"]!.AsArray().Where(i => i!["split"]!.GetValue<string>() == "train")
            .ToDictionary(i => Path.GetFileNameWithoutExtension(i!["filename"]!.GetValue<string>()), i => i!["hard_negatives"]!.AsArray()
                .Select(n => (Raw: n!["raw"]!.GetValue<string>(), Changed: n["changed"]!.GetValue<string>())).ToList());
        foreach (var kind in new[] { "relation", "attribute" })
        {
            var texts = HardNegativeReader.HardNegativeTexts(fixture.Dataset, ["train"], kind);
            var expected = listed.Where(p => p.Value.Any(n => n.Changed == kind)).ToDictionary(p => p.Key, p => p.Value.Where(n => n.Changed == kind).Select(n => n.Raw).ToList());
            Assert.NotEmpty(expected);
            Assert.True(expected.Count < listed.Count || kind == "attribute", "some scenes have no relation to swap");
            Assert.Equal(expected.Keys.Order(), texts.Keys.Order());
            foreach (var (image, raws) in expected) Assert.Equal(raws, texts[image]);
        }
        // The corpus of one kind: an image without such a negative has none, every other has exactly its own of that kind.
        var tokenizer = ModelVocabulary.TokenizerFor(fixture.SearchWeights);
        using var store = FeatureStore.Open(fixture.Features);
        var corpus = HardNegativeReader.WithOwnNegatives(CaptionCorpus.Load(fixture.Dataset, ["train"], store, tokenizer, 64), fixture.Dataset, ["train"], tokenizer, 64, "test", "relation");
        for (var i = 0; i < corpus.ImageIds.Count; i++)
        {
            var relations = listed[corpus.ImageIds[i]].Where(n => n.Changed == "relation").Select(n => tokenizer.Encode(n.Raw, 64)).ToList();
            Assert.Equal(relations.Count, corpus.ImageNegatives[i].Count);
            for (var k = 0; k < relations.Count; k++) Assert.Equal(relations[k], corpus.ImageNegatives[i][k]);
        }
        var error = Assert.Throws<InterBertException>(() => HardNegativeReader.WithOwnNegatives(corpus, fixture.Dataset, ["train"], tokenizer, 64, "--own-negative-rate", "count"));
        Assert.Contains("whose \"changed\" is count", error.Message);
    }

    [Fact]
    public void FineTuningWithOwnNegativesPairsEachImageWithItsKnownFalseCaptions()
    {
        var tokenizer = ModelVocabulary.TokenizerFor(fixture.SearchWeights);
        using var store = FeatureStore.Open(fixture.Features);
        var corpus = HardNegativeReader.WithOwnNegatives(CaptionCorpus.Load(fixture.Dataset, ["train"], store, tokenizer, 64), fixture.Dataset, ["train"], tokenizer, 64, "test");
        using var pairs = new PreparedPairs(corpus, store, tokenizer.PadId, 512, 8);
        Assert.Equal(corpus.Captions.Count, pairs.CaptionCount);
        var examples = Enumerable.Range(0, 24).ToList();
        foreach (var rate in new[] { 0.0, 1.0 })
        {
            using var scope = NewDisposeScope();
            var (text, image) = RetrievalFineTuning.FourWayBatch(pairs, examples, null, new Random(3), rate);
            for (var k = 0; k < examples.Count; k++)
            {
                var own = corpus.ImageOf[examples[k]];
                var row = 4 * k + 1; // (c', i): the wrong caption with the example's own image
                var length = (int)text.AttentionMask[row].sum().item<long>();
                var tokens = text.InputIds[row].narrow(0, 0, length).data<long>().Select(t => (int)t).ToArray();
                var (_, ownImage) = pairs.Pairs([examples[k]], [own]);
                Assert.True(image.Features[row].narrow(0, 0, ownImage.Features.shape[1]).eq(ownImage.Features[0]).all().item<bool>());
                var isOwnNegative = corpus.ImageNegatives[own].Any(n => n.SequenceEqual(tokens));
                var captionOf = Enumerable.Range(0, corpus.Captions.Count).Where(c => corpus.Tokens[c].SequenceEqual(tokens)).Select(c => corpus.ImageOf[c]).ToList();
                if (rate == 1)
                {
                    Assert.True(isOwnNegative, $"example {k}: the wrong caption is not one of image {own}'s hard negatives");
                }
                else
                {
                    Assert.False(isOwnNegative);
                    Assert.NotEmpty(captionOf);
                    Assert.DoesNotContain(own, captionOf);
                }
            }
        }
    }

    [Fact]
    public void EvaluateScoresEveryHardNegativeOfTheSplitAndRanksOnlyTheFirstCaptions()
    {
        var metricsPath = Path.Combine(fixture.Folder, "evaluate-test.json");
        var (code, output, error) = CliProcess.Run("evaluate", "--task", "retrieval", "--dataset", fixture.Dataset, "--features", fixture.Features,
            "--weights", fixture.SearchWeights, "--max-captions", "7", "--metrics-out", metricsPath);
        Assert.True(code == 0, output + error);
        Assert.Contains("7 captions x 2 images", output);
        // Expected counts from the rendered objects: every test scene has one colour negative, scenes of 2+ objects a relation one.
        var objectsPerScene = File.ReadLines(Path.Combine(fixture.Folder, "scenes", SyntheticDataset.ObjectsFile))
            .Select(l => JsonNode.Parse(l)!["image_id"]!.GetValue<string>()).GroupBy(id => id).ToDictionary(g => g.Key, g => g.Count());
        var testScenes = JsonNode.Parse(File.ReadAllText(fixture.Dataset))!["images"]!.AsArray()
            .Where(i => i!["split"]!.GetValue<string>() == "test").Select(i => Path.GetFileNameWithoutExtension(i!["filename"]!.GetValue<string>())).ToList();
        var relations = testScenes.Count(id => objectsPerScene[id] >= 2);
        Assert.Contains($"of {testScenes.Count}, relation", output);
        Assert.Contains($"% of {relations};", output);
        var metrics = JsonNode.Parse(File.ReadAllText(metricsPath))!;
        Assert.Equal(7, metrics["captions"]!.GetValue<int>());
        Assert.Equal(testScenes.Count, metrics["hard_negatives"]!["attribute_comparisons"]!.GetValue<int>());
        Assert.Equal(relations, metrics["hard_negatives"]!["relation_comparisons"]!.GetValue<int>());
    }
}
