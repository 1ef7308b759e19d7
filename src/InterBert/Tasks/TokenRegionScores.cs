using InterBert.Modeling;
using static TorchSharp.torch;

namespace InterBert.Tasks;

/// <summary>
/// <see cref="TokenRegionMatching"/> scores of chosen caption-image pairs of a split: one text-only pass per caption
/// and one image-only pass per image, then the pairs from their word and region vectors.
/// </summary>
internal static class TokenRegionScores
{
    /// <summary>The score of each listed pair, in a [captions, images] array (unlisted pairs 0).</summary>
    public static float[,] Of(InterBertModel model, PreparedPairs pairs, IReadOnlyList<(int Caption, int Image)> listed, CancellationToken cancel = default)
    {
        const int block = 128;
        model.eval();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        Tensor words, wordMask, regions, regionMask;
        // Every caption's word vectors are held at once: in bf16 for a bf16 model (half the memory), else as computed.
        var held = model.Precision == Precision.Bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
        using (model.Autocast())
        {
            var textLength = Enumerable.Range(0, pairs.CaptionCount).Max(pairs.CaptionLength);
            var (w, wm) = (new List<Tensor>(), new List<Tensor>());
            for (var start = 0; start < pairs.CaptionCount; start += block)
            {
                cancel.ThrowIfCancellationRequested();
                using var blockScope = NewDisposeScope();
                var rows = Enumerable.Range(start, Math.Min(block, pairs.CaptionCount - start)).Select(c => (long)c).ToList();
                var text = pairs.Captions(rows);
                var (vectors, mask) = TokenRegionMatching.Words(model, model.Forward(text, null).TextSequence!, text);
                var pad = textLength - vectors.shape[1];
                w.Add(nn.functional.pad(vectors.to_type(held), [0, 0, 0, pad]).MoveToOuterDisposeScope());
                wm.Add(nn.functional.pad(mask, [0, pad]).MoveToOuterDisposeScope());
            }
            (words, wordMask) = (cat(w, 0), cat(wm, 0));
            var regionLength = Enumerable.Range(0, pairs.ImageCount).Max(pairs.RegionCount) + 1;
            var (r, rm) = (new List<Tensor>(), new List<Tensor>());
            for (var start = 0; start < pairs.ImageCount; start += block)
            {
                cancel.ThrowIfCancellationRequested();
                using var blockScope = NewDisposeScope();
                var rows = Enumerable.Range(start, Math.Min(block, pairs.ImageCount - start)).Select(i => (long)i).ToList();
                var image = pairs.Images(rows);
                var (vectors, mask) = TokenRegionMatching.Regions(model, model.Forward(null, image).ImageSequence!, image);
                var pad = regionLength - vectors.shape[1];
                r.Add(nn.functional.pad(vectors.to_type(held), [0, 0, 0, pad]).MoveToOuterDisposeScope());
                rm.Add(nn.functional.pad(mask, [0, pad]).MoveToOuterDisposeScope());
            }
            (regions, regionMask) = (cat(r, 0), cat(rm, 0));
        }
        var scores = new float[pairs.CaptionCount, pairs.ImageCount];
        for (var start = 0; start < listed.Count; start += 512)
        {
            cancel.ThrowIfCancellationRequested();
            using var blockScope = NewDisposeScope();
            var part = listed.Skip(start).Take(512).ToList();
            var c = tensor(part.Select(p => (long)p.Caption).ToArray());
            var i = tensor(part.Select(p => (long)p.Image).ToArray());
            var values = TokenRegionMatching.Paired(words.index_select(0, c), wordMask.index_select(0, c), regions.index_select(0, i), regionMask.index_select(0, i))
                .data<float>().ToArray();
            for (var k = 0; k < part.Count; k++) scores[part[k].Caption, part[k].Image] = values[k];
        }
        return scores;
    }
}
