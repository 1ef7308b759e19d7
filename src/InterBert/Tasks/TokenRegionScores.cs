using InterBert.Modeling;
using static TorchSharp.torch;

namespace InterBert.Tasks;

/// <summary>
/// <see cref="TokenRegionMatching"/> scores of chosen caption-image pairs of a split: every caption's word vectors and
/// every image's region vectors, filled in by the text-only and image-only passes (the first stage's own passes in a
/// two-stage evaluation), then the pairs from them.
/// </summary>
internal sealed class TokenRegionScores : IDisposable
{
    private readonly Tensor words, wordMask, regions, regionMask;

    /// <summary>Room for every caption's and image's vectors of <paramref name="pairs"/>, held in bf16 for a bf16 model (half the memory), else in fp32.</summary>
    public TokenRegionScores(InterBertModel model, PreparedPairs pairs)
    {
        var held = model.Precision == Precision.Bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
        var size = model.Config.BiHiddenSize;
        var textLength = Enumerable.Range(0, pairs.CaptionCount).Max(pairs.CaptionLength);
        var regionLength = Enumerable.Range(0, pairs.ImageCount).Max(pairs.RegionCount) + 1;
        words = zeros([pairs.CaptionCount, textLength, size], held);
        wordMask = zeros([pairs.CaptionCount, textLength], ScalarType.Bool);
        regions = zeros([pairs.ImageCount, regionLength, size], held);
        regionMask = zeros([pairs.ImageCount, regionLength], ScalarType.Bool);
    }

    /// <summary>Keeps the word vectors of a text-only pass over the captions <paramref name="rows"/>.</summary>
    public void AddCaptions(InterBertModel model, InterBertOutput output, TextBatch text, IReadOnlyList<long> rows)
    {
        using var scope = NewDisposeScope();
        Keep(words, wordMask, TokenRegionMatching.Words(model, output.TextSequence!, text), rows);
    }

    /// <summary>Keeps the region vectors of an image-only pass over the images <paramref name="rows"/>.</summary>
    public void AddImages(InterBertModel model, InterBertOutput output, ImageBatch image, IReadOnlyList<long> rows)
    {
        using var scope = NewDisposeScope();
        Keep(regions, regionMask, TokenRegionMatching.Regions(model, output.ImageSequence!, image), rows);
    }

    /// <summary>Copies a block's vectors and mask (as long as its own padding) into the rows of the held ones.</summary>
    private static void Keep(Tensor held, Tensor heldMask, (Tensor Vectors, Tensor Mask) block, IReadOnlyList<long> rows)
    {
        var index = tensor(rows.ToArray());
        var length = block.Vectors.shape[1];
        held.narrow(1, 0, length).index_copy_(0, index, block.Vectors.to_type(held.dtype));
        heldMask.narrow(1, 0, length).index_copy_(0, index, block.Mask);
    }

    /// <summary>The score of each listed pair, in a [captions, images] array (unlisted pairs 0).</summary>
    public float[,] Of(IReadOnlyList<(int Caption, int Image)> listed, CancellationToken cancel = default)
    {
        var scores = new float[words.shape[0], regions.shape[0]];
        using var noGrad = no_grad();
        for (var start = 0; start < listed.Count; start += 512)
        {
            cancel.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var part = listed.Skip(start).Take(512).ToList();
            var c = tensor(part.Select(p => (long)p.Caption).ToArray());
            var i = tensor(part.Select(p => (long)p.Image).ToArray());
            var values = TokenRegionMatching.Paired(words.index_select(0, c), wordMask.index_select(0, c), regions.index_select(0, i), regionMask.index_select(0, i))
                .data<float>().ToArray();
            for (var k = 0; k < part.Count; k++) scores[part[k].Caption, part[k].Image] = values[k];
        }
        return scores;
    }

    /// <summary>The scores of the listed pairs, with passes of their own over every caption and image.</summary>
    public static float[,] Of(InterBertModel model, PreparedPairs pairs, IReadOnlyList<(int Caption, int Image)> listed, CancellationToken cancel = default)
    {
        using var scope = NewDisposeScope();
        using var positions = new TokenRegionScores(model, pairs);
        TwoStageRetrievalEvaluation.Vectors(model, pairs, null, cancel, positions);
        return positions.Of(listed, cancel);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var t in new[] { words, wordMask, regions, regionMask }) t.Dispose();
    }
}
