using InterBert.Data;
using InterBert.Modeling;
using static TorchSharp.torch;

namespace InterBert.Tasks;

/// <summary>
/// A corpus's captions and images as padded tensors, prepared once, from which any set of (caption, image) pairs is
/// gathered by index: the basis of batched exhaustive scoring and of fine-tuning batches.
/// </summary>
public sealed class PreparedPairs : IDisposable
{
    private readonly Tensor ids;
    private readonly Tensor mask;
    private readonly long[] lengths;
    private Tensor features;
    private readonly Tensor locations;
    private readonly Tensor regionMask;
    private readonly Tensor? classes;
    private readonly long[] regionCounts;
    private readonly long[][] ownNegativeRows;
    private VisualStageInputs? stage;
    private InterBertBackbone? stageModel;
    private bool perBatch;

    /// <summary>Collates every caption and every image of <paramref name="corpus"/>.</summary>
    public PreparedPairs(CaptionCorpus corpus, FeatureStore store, int padId, int featureSize, int maxRegions)
    {
        Features = store.Manifest;
        Corpus = corpus;
        // The images' known-false captions (if any) are rows after the real captions, so pairs gather them like any caption.
        var tokens = corpus.Tokens.Concat(corpus.ImageNegatives.SelectMany(n => n)).ToList();
        var text = Text.WordPieceTokenizer.Collate(tokens, padId);
        ids = text.InputIds.DetachFromDisposeScope();
        mask = text.AttentionMask.DetachFromDisposeScope();
        lengths = tokens.Select(t => (long)t.Length).ToArray();
        var next = (long)corpus.Tokens.Count;
        ownNegativeRows = corpus.ImageNegatives.Select(n => Enumerable.Range(0, n.Count).Select(_ => next++).ToArray()).ToArray();
        var images = corpus.ImageIds.Select(store.Read).ToList();
        var image = RegionCollator.Collate(images, featureSize, maxRegions);
        features = image.Features.DetachFromDisposeScope();
        locations = image.Locations.DetachFromDisposeScope();
        regionMask = image.RegionMask.DetachFromDisposeScope();
        classes = image.Classes?.DetachFromDisposeScope();
        regionCounts = images.Select(i => (long)Math.Min(i.RegionCount, features.shape[1])).ToArray();
    }

    /// <summary>The corpus the tensors come from.</summary>
    public CaptionCorpus Corpus { get; }

    /// <summary>The description of the feature store the images came from (how their regions were made).</summary>
    public FeatureStoreManifest Features { get; }

    /// <summary>Number of captions.</summary>
    public int CaptionCount => Corpus.Captions.Count;

    /// <summary>Caption rows (for <see cref="Pairs"/>) of the known-false captions of an image: the dataset's hard negatives, usually none.</summary>
    public IReadOnlyList<long> OwnNegatives(int image) => ownNegativeRows[image];

    /// <summary>Tokens of a caption, [CLS] and [SEP] included.</summary>
    public int CaptionLength(int caption) => (int)lengths[caption];

    /// <summary>Regions of an image.</summary>
    public int RegionCount(int image) => (int)regionCounts[image];

    /// <summary>Number of images.</summary>
    public int ImageCount => (int)features.shape[0];

    /// <summary>
    /// From now on, region features come from <paramref name="model"/>'s own CNN stage run on the images' layer3 maps
    /// in <paramref name="mapStore"/>, instead of the region feature store's; the boxes stay the store's. Per batch
    /// (each batch's images computed anew, so training reaches the stage), or with <paramref name="snapshot"/> for every
    /// image now with the stage as it is (no gradient), kept until <see cref="RecomputeFeatures"/>: evaluation.
    /// </summary>
    public void ComputeFeaturesWith(InterBertBackbone model, FeatureStore mapStore, FeatureStore regions, bool snapshot)
    {
        if (!model.HasVisualStage) throw new ArgumentException("the model has no visual stage", nameof(model));
        stage ??= new VisualStageInputs(mapStore, regions, Corpus.ImageIds, features.shape[1]);
        stageModel = model;
        perBatch = !snapshot;
        if (snapshot) RecomputeFeatures();
    }

    /// <summary>Recomputes every image's features with the stage as it is now (a snapshot set by <see cref="ComputeFeaturesWith"/>; nothing otherwise).</summary>
    public void RecomputeFeatures()
    {
        if (stage is null || perBatch) return;
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var computed = new List<Tensor>();
        for (long start = 0; start < ImageCount; start += 64)
        {
            var block = arange(start, Math.Min(start + 64, ImageCount), dtype: ScalarType.Int64);
            computed.Add(StageFeatures(block, features.shape[1]));
        }
        var all = cat(computed, 0).DetachFromDisposeScope();
        features.Dispose();
        features = all;
    }

    /// <summary>Whether region features are computed per batch by a model's stage (<see cref="ComputeFeaturesWith"/>).</summary>
    public bool ComputesFeaturesPerBatch => stage is not null && perBatch;

    /// <summary>Features of some images by the stage, padding regions zero as in the store.</summary>
    private Tensor StageFeatures(Tensor images, long regionLength) =>
        stage!.Features(stageModel!, images, regionLength).mul(regionMask.index_select(0, images).narrow(1, 0, regionLength).unsqueeze(2));

    /// <summary>The region features of some images (repeats allowed), padded to <paramref name="regionLength"/>.</summary>
    private Tensor FeaturesOf(IReadOnlyList<long> images, long regionLength)
    {
        if (!ComputesFeaturesPerBatch) return features.index_select(0, tensor(images.ToArray())).narrow(1, 0, regionLength);
        // Each distinct image goes through the stage once per batch, however many pairs it is in.
        var distinct = images.Distinct().ToArray();
        var position = new Dictionary<long, long>();
        for (var k = 0; k < distinct.Length; k++) position[distinct[k]] = k;
        var computed = StageFeatures(tensor(distinct), regionLength);
        return distinct.Length == images.Count && images.SequenceEqual(distinct) ? computed : computed.index_select(0, tensor(images.Select(i => position[i]).ToArray()));
    }

    /// <summary>The pairs (captions[k], images[k]), padded only as far as the longest caption and image among them.</summary>
    public (TextBatch Text, ImageBatch Image) Pairs(IReadOnlyList<long> captions, IReadOnlyList<long> images)
    {
        var textLength = captions.Max(c => lengths[c]);
        var regionLength = Math.Max(1, images.Max(i => regionCounts[i]));
        var c = tensor(captions.ToArray());
        var i = tensor(images.ToArray());
        var text = new TextBatch(ids.index_select(0, c).narrow(1, 0, textLength), mask.index_select(0, c).narrow(1, 0, textLength));
        var image = new ImageBatch(
            FeaturesOf(images, regionLength),
            locations.index_select(0, i).narrow(1, 0, regionLength),
            regionMask.index_select(0, i).narrow(1, 0, regionLength)) { Classes = classes?.index_select(0, i).narrow(1, 0, regionLength) };
        return (text, image);
    }

    /// <summary>Text-only batch of some captions.</summary>
    public TextBatch Captions(IReadOnlyList<long> captions)
    {
        var length = captions.Max(c => lengths[c]);
        var c = tensor(captions.ToArray());
        return new TextBatch(ids.index_select(0, c).narrow(1, 0, length), mask.index_select(0, c).narrow(1, 0, length));
    }

    /// <summary>Image-only batch of some images.</summary>
    public ImageBatch Images(IReadOnlyList<long> images)
    {
        var length = Math.Max(1, images.Max(i => regionCounts[i]));
        var i = tensor(images.ToArray());
        return new ImageBatch(FeaturesOf(images, length), locations.index_select(0, i).narrow(1, 0, length), regionMask.index_select(0, i).narrow(1, 0, length))
        {
            Classes = classes?.index_select(0, i).narrow(1, 0, length),
        };
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var t in new[] { ids, mask, features, locations, regionMask }) t.Dispose();
        classes?.Dispose();
        stage?.Dispose();
    }
}
