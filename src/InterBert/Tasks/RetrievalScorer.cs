using InterBert.Modeling;
using static TorchSharp.torch;

namespace InterBert.Tasks;

/// <summary>
/// Scores every caption against every image with the full cross-modal model, many pairs per forward pass (each
/// caption's tokens and each image's regions prepared once). Fine-tuned models are scored by the score head;
/// zero-shot by the matching head's logit margin (matched minus not matched).
/// </summary>
public static class RetrievalScorer
{
    /// <summary>Scores [captions, images] for all pairs; <paramref name="progress"/> receives pairs done.</summary>
    public static float[,] ScoreAll(InterBertModel model, PreparedPairs pairs, bool zeroShot, int pairsPerBatch = 64, IProgress<long>? progress = null, CancellationToken cancel = default)
    {
        model.eval();
        var scores = new float[pairs.CaptionCount, pairs.ImageCount];
        // Tiles of captions of similar length x images of similar region count: little padding in any batch.
        var captionsByLength = Enumerable.Range(0, pairs.CaptionCount).OrderBy(pairs.CaptionLength).ThenBy(c => c).Select(c => (long)c).ToList();
        var imagesBySize = Enumerable.Range(0, pairs.ImageCount).OrderBy(pairs.RegionCount).ThenBy(i => i).Select(i => (long)i).ToList();
        var side = Math.Max(1, (int)Math.Sqrt(pairsPerBatch));
        var all = new List<(long Caption, long Image)>(pairs.CaptionCount * pairs.ImageCount);
        for (var ci = 0; ci < captionsByLength.Count; ci += side)
            for (var ii = 0; ii < imagesBySize.Count; ii += side)
                foreach (var c in captionsByLength.Skip(ci).Take(side))
                    foreach (var i in imagesBySize.Skip(ii).Take(side))
                        all.Add((c, i));
        long done = 0;
        using var noGrad = no_grad();
        // One region for the whole scoring: in bf16 the weights are cast once, not once per batch.
        using var autocast = model.Autocast();
        for (var start = 0; start < all.Count; start += pairsPerBatch)
        {
            cancel.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var block = all.GetRange(start, Math.Min(pairsPerBatch, all.Count - start));
            var (text, image) = pairs.Pairs(block.Select(p => p.Caption).ToList(), block.Select(p => p.Image).ToList());
            var values = model.PairScores(text, image, zeroShot).data<float>().ToArray();
            for (var k = 0; k < block.Count; k++) scores[block[k].Caption, block[k].Image] = values[k];
            done += block.Count;
            progress?.Report(done);
        }
        return scores;
    }

    /// <summary>Scores pairs one forward pass each, as the reference evaluation does (for benchmarks).</summary>
    public static double PairsPerSecondOneAtATime(InterBertModel model, PreparedPairs pairs, int count)
    {
        model.eval();
        using var noGrad = no_grad();
        using var autocast = model.Autocast();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (var k = 0; k < count; k++)
        {
            using var scope = NewDisposeScope();
            var (text, image) = pairs.Pairs([k % pairs.CaptionCount], [k % pairs.ImageCount]);
            model.PairScores(text, image, zeroShot: false).data<float>();
        }
        return count / watch.Elapsed.TotalSeconds;
    }
}
