using InterBert.Data;
using InterBert.Modeling;
using InterBert.Pretraining;
using InterBert.Text;
using InterBert.Weights;
using InterBert.Workflows;
using static TorchSharp.torch;

namespace InterBert.Tests.Pretraining;

/// <summary>Each ablation row changes what it claims to change, and nothing is a copied model or trainer.</summary>
public sealed class PretrainingVariantTests
{
    private static readonly Lazy<WordPieceTokenizer> Tokenizer = new(() => WordPieceTokenizer.Load(new MemoryStream(MiniLmOnnxReader.ReadVocabularyBytes()), "vocab"));

    private static PretrainingVariant Row(string name) => PretrainingVariant.Named(name);

    /// <summary>
    /// Six photos of six regions: region 0 the whole 100 x 100 photo, regions 1-5 boxes that overlap their neighbours
    /// (IoU about 0.5), each with a class distribution; two captions each.
    /// </summary>
    internal static (FeatureStore Store, CaptionCorpus Corpus) Fixture(TempFolder folder)
    {
        var manifest = new FeatureStoreManifest { FeatureSize = 8, ClassCount = 4, DType = "float32", Extractor = "test" };
        var random = new Random(3);
        const int regions = 6;
        using (var writer = new FeatureStoreWriter(folder.File("store"), manifest))
        {
            for (var p = 0; p < 6; p++)
            {
                var boxes = new List<float> { 0, 0, 100, 100 };
                for (var r = 1; r < regions; r++) boxes.AddRange([r * 10, 10, r * 10 + 30, 40]);
                writer.Add(new ImageRegions($"p{p}", 100, 100, regions, [.. boxes],
                    Enumerable.Range(0, regions).SelectMany(r => new float[] { r / 10f, r / 10f, (r + 3) / 10f, (r + 3) / 10f, 0.09f }).ToArray(),
                    Enumerable.Range(0, regions * 8).Select(_ => (float)random.NextDouble()).ToArray(),
                    Enumerable.Range(0, regions * 4).Select(k => k % 4 == p % 4 ? 1f : 0f).ToArray()));
            }
        }
        File.WriteAllLines(folder.File("d.jsonl"), Enumerable.Range(0, 6).Select(p => $"{{\"id\": \"p{p}\", \"image\": \"p{p}.jpg\", \"captions\": [\"a dog runs on the grass near a red house number {p}\", \"two children play with a ball in the park picture {p}\"]}}"));
        var store = FeatureStore.Open(folder.File("store"));
        return (store, CaptionCorpus.Load(folder.File("d.jsonl"), [], store, Tokenizer.Value, 24));
    }

    internal static PretrainingBatchBuilder Builder(FeatureStore store, CaptionCorpus corpus, PretrainingTaskOptions tasks) =>
        new(corpus, store, new SegmentMasker(Tokenizer.Value, tasks.SegmentMasking), PretrainingObjective.RegionMaskerFor(tasks), null, tasks, Tokenizer.Value.PadId,
            PretrainingObjective.RegressesFeatures(tasks, store, modelHasRegressionHead: tasks.RegressRegionFeatures));

    /// <summary>Masked regions, true pairs and masked tokens over many batches of a row's tasks.</summary>
    private static (long MaskedRegions, long Matched, long Pairs, long MaskedTokens, long MaskedNextToMasked, long Tokens) Counts(FeatureStore store, CaptionCorpus corpus, PretrainingTaskOptions tasks)
    {
        var builder = Builder(store, corpus, tasks);
        long maskedRegions = 0, matched = 0, pairs = 0, maskedTokens = 0, adjacent = 0, tokens = 0;
        for (var round = 0; round < 40; round++)
        {
            using var scope = NewDisposeScope();
            var batch = builder.Build(Enumerable.Range(0, corpus.Captions.Count).ToList(), new Random(round));
            maskedRegions += batch.RegionMasked.to_type(ScalarType.Int64).sum().item<long>();
            matched += batch.MatchLabels.eq(InterBertModel.MatchedIndex).sum().item<long>();
            pairs += batch.Size;
            var labels = batch.SegmentLabels.data<long>().ToArray();
            var width = (int)batch.SegmentLabels.shape[1];
            var lengths = batch.Text.AttentionMask.sum(1).data<long>().ToArray();
            for (var i = 0; i < lengths.Length; i++)
            {
                tokens += lengths[i] - 2;
                for (var t = 1; t < lengths[i] - 1; t++)
                {
                    if (labels[i * width + t] == SegmentMasker.Ignore) continue;
                    maskedTokens++;
                    if (labels[i * width + t + 1] != SegmentMasker.Ignore) adjacent++;
                }
            }
        }
        return (maskedRegions, matched, pairs, maskedTokens, adjacent, tokens);
    }

    [Fact]
    public void TaskRowsChangeExactlyTheirTask()
    {
        using var folder = new TempFolder();
        var (store, corpus) = Fixture(folder);
        using var _ = store;
        var recipe = new PretrainingTaskOptions { ContrastiveWeight = 1 };
        Assert.Equal(recipe, Row("full").Tasks(recipe));

        var full = Counts(store, corpus, recipe);
        Assert.True(full.MaskedRegions > 0);
        Assert.InRange((double)full.Matched / full.Pairs, 0.4, 0.6);
        // MSM masks segments: most masked tokens have a masked neighbour.
        Assert.True((double)full.MaskedNextToMasked / full.MaskedTokens > 0.4, $"{full.MaskedNextToMasked}/{full.MaskedTokens}");

        // MLM: BERT's 15% of tokens, each on its own (a masked neighbour only by chance, about 15%).
        var mlm = Counts(store, corpus, Row("mlm").Tasks(recipe));
        Assert.InRange((double)mlm.MaskedTokens / mlm.Tokens, 0.12, 0.18);
        Assert.InRange((double)mlm.MaskedNextToMasked / mlm.MaskedTokens, 0.05, 0.25);
        Assert.True(mlm.MaskedRegions > 0);

        // Without MRM no region is ever hidden (its loss weight alone would still hide them).
        var noMrm = Counts(store, corpus, Row("no-mrm").Tasks(recipe));
        Assert.Equal(0, noMrm.MaskedRegions);
        Assert.Equal(0, Row("no-mrm").Tasks(recipe).RegionWeight);

        // Without ITM every pair is a true one and the matching loss has no weight.
        var noItm = Counts(store, corpus, Row("no-itm").Tasks(recipe));
        Assert.Equal(noItm.Pairs, noItm.Matched);
        Assert.Equal(0, Row("no-itm").Tasks(recipe).MatchingWeight);
        Assert.Equal(recipe.ContrastiveWeight, Row("no-itm").Tasks(recipe).ContrastiveWeight);
    }

    [Fact]
    public void MrmWithoutGroupingMasksExactlyTheAnchors()
    {
        using var folder = new TempFolder();
        var (store, _) = Fixture(folder);
        using var _ = store;
        var regions = store.Read("p0");
        var grouped = PretrainingObjective.RegionMaskerFor(Row("full").Tasks(new PretrainingTaskOptions()));
        var anchorsOnly = PretrainingObjective.RegionMaskerFor(Row("mrm-no-grouping").Tasks(new PretrainingTaskOptions()));
        var random = new Random(5);
        for (var trial = 0; trial < 50; trial++)
        {
            var anchors = anchorsOnly.ChooseAnchors(6, random);
            if (anchors.Count == 0) anchors = [3];
            var masked = anchorsOnly.Mask(regions, 6, anchors);
            Assert.Equal(anchors.Order(), Enumerable.Range(0, 6).Where(r => masked[r]));
        }
        // The paper's grouping masks region 3's overlapping neighbours (2 and 4) and the whole photo with it.
        Assert.Equal([0, 2, 3, 4], Enumerable.Range(0, 6).Where(r => grouped.Mask(regions, 6, [3])[r]));
    }

    [Fact]
    public void MrmAsRegressionTargetsFeaturesAndNeedsARegressionHead()
    {
        using var folder = new TempFolder();
        var (store, corpus) = Fixture(folder);
        using var _ = store;
        var recipe = new PretrainingTaskOptions();
        Assert.False(PretrainingObjective.RegressesFeatures(recipe, store, modelHasRegressionHead: true));
        var regression = Row("mrm-regression");
        Assert.True(PretrainingObjective.RegressesFeatures(regression.Tasks(recipe), store, modelHasRegressionHead: true));
        Assert.Throws<InterBertException>(() => PretrainingObjective.RegressesFeatures(regression.Tasks(recipe), store, modelHasRegressionHead: false));
        Assert.True(regression.Shape(InterBertConfig.Small).PredictFeature);
        Assert.False(Row("full").Shape(InterBertConfig.Small).PredictFeature);

        using var scope = NewDisposeScope();
        var batch = Builder(store, corpus, regression.Tasks(recipe)).Build(Enumerable.Range(0, corpus.Captions.Count).ToList(), new Random(1));
        Assert.Null(batch.RegionClassTargets);
        Assert.NotNull(batch.RegionFeatureTargets);
    }

    private static long LayerParameters(InterBertModel model, string prefix) =>
        model.named_parameters().Where(p => p.name.StartsWith(prefix, StringComparison.Ordinal)).Sum(p => p.parameter.numel());

    [Fact]
    public void ArchitectureRowsHaveTheLayersAndParameterCountsTheyState()
    {
        var preset = TestInputs.TinyNoDropout; // 2 single-stream + 1 text-stream + 1 image-stream layers
        using var full = new InterBertModel(Row("full").Shape(preset));
        using var single = new InterBertModel(Row("single-stream").Shape(preset));
        using var dual = new InterBertModel(Row("two-stream").Shape(preset));
        var imageLayer = LayerParameters(full, "encoder.v_layer.0.");
        Assert.True(imageLayer > 0);

        // Single-stream only: the text path's 3 layers all interact, no image-stream weights, one image layer fewer.
        Assert.Equal((3, 0, 0), (single.Config.NumHiddenLayers, single.Config.TNumHiddenLayers, single.Config.VNumHiddenLayers));
        Assert.DoesNotContain(single.named_parameters(), p => p.name.StartsWith("encoder.v_layer.", StringComparison.Ordinal));
        Assert.Equal(full.ParameterCounts()["total"] - imageLayer, single.ParameterCounts()["total"]);

        // Two-stream only: no interaction layer; the text keeps its 3 layers and the image stream gets the image path's 3.
        Assert.Equal((0, 3, 3), (dual.Config.NumHiddenLayers, dual.Config.TNumHiddenLayers, dual.Config.VNumHiddenLayers));
        Assert.Equal(full.ParameterCounts()["total"] + 2 * imageLayer, dual.ParameterCounts()["total"]);

        // A dual encoder: the text's outputs do not depend on the image it is paired with; in the full model they do.
        using var scope = NewDisposeScope();
        var text = TestInputs.Text(preset, [5, 7], 7, seed: 1);
        var (imageA, imageB) = (TestInputs.Image(preset, [3, 4], 4, seed: 2), TestInputs.Image(preset, [3, 4], 4, seed: 3));
        foreach (var model in new[] { full, single, dual }) model.eval();
        using (no_grad())
        {
            var difference = (dual.Forward(text, imageA).TextSequence! - dual.Forward(text, imageB).TextSequence!).abs().max().item<float>();
            Assert.True(difference == 0, $"text outputs differ by {difference}");
            Assert.False(full.Forward(text, imageA).TextSequence!.allclose(full.Forward(text, imageB).TextSequence!));
            Assert.False(single.Forward(text, imageA).TextSequence!.allclose(single.Forward(text, imageB).TextSequence!));
        }
    }

    [Fact]
    public void AnUnknownRowIsAnErrorNamingTheKnownOnes()
    {
        var error = Assert.Throws<InterBertException>(() => PretrainingVariant.Named("no-msm"));
        Assert.Contains("mrm-no-grouping", error.Message);
    }
}
