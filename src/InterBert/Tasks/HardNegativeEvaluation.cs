using InterBert.Data;
using InterBert.Modeling;
using InterBert.Text;
using static TorchSharp.torch;

namespace InterBert.Tasks;

/// <summary>
/// Scores each test image against its true captions and their hard negatives (one attribute or one relation
/// changed) with the full cross-modal model, and counts how often the negative scores lower. With
/// <c>grounded</c>, the score is the region head's <see cref="InterBertModel.GroundedLikelihood"/> alone instead of the matching or score head's.
/// </summary>
public static class HardNegativeEvaluation
{
    /// <summary>Evaluates the images of <paramref name="corpus"/> that have hard negatives.</summary>
    public static HardNegativeResult Evaluate(
        InterBertModel model, CaptionCorpus corpus, FeatureStore store, WordPieceTokenizer tokenizer,
        IReadOnlyDictionary<string, List<HardNegativeCaption>> negatives, bool zeroShot, int pairsPerBatch = 64, bool grounded = false)
    {
        var maxTokens = model.Config.TextLength;
        var captionsOf = Enumerable.Range(0, corpus.Captions.Count).GroupBy(c => corpus.ImageOf[c]).ToDictionary(g => g.Key, g => g.ToList());
        // (image id, text, comparison index, is the true caption)
        var pairs = new List<(string Image, string Text)>();
        var comparisons = new List<(int Image, string Changed, int TruePair, int NegativePair)>();
        for (var i = 0; i < corpus.ImageIds.Count; i++)
        {
            if (!negatives.TryGetValue(corpus.ImageIds[i], out var list) || !captionsOf.TryGetValue(i, out var captions)) continue;
            foreach (var negative in list)
            {
                if (negative.TrueSentence >= captions.Count) throw new InterBertException($"image {corpus.ImageIds[i]}: hard negative refers to caption {negative.TrueSentence}, but the image has {captions.Count}");
                pairs.Add((corpus.ImageIds[i], corpus.Captions[captions[negative.TrueSentence]]));
                pairs.Add((corpus.ImageIds[i], negative.Raw));
                comparisons.Add((i, negative.Changed, pairs.Count - 2, pairs.Count - 1));
            }
        }
        var scores = new float[pairs.Count];
        model.eval();
        using (no_grad())
        {
            for (var start = 0; start < pairs.Count; start += pairsPerBatch)
            {
                using var scope = NewDisposeScope();
                var block = pairs.GetRange(start, Math.Min(pairsPerBatch, pairs.Count - start));
                var text = WordPieceTokenizer.Collate(block.Select(p => tokenizer.Encode(p.Text, maxTokens)).ToList(), tokenizer.PadId);
                var image = RegionCollator.Collate(block.Select(p => store.Read(p.Image)).ToList(), model.Config.VFeatureSize, model.Config.MaxRegionLength);
                var values = (grounded ? model.GroundedLikelihood(text, image) : model.PairScores(text, image, zeroShot)).data<float>().ToArray();
                values.CopyTo(scores, start);
            }
        }
        double Below(string changed, out int count)
        {
            var selected = comparisons.Where(c => c.Changed == changed).ToList();
            count = selected.Count;
            return count == 0 ? 0 : 100.0 * selected.Count(c => scores[c.NegativePair] < scores[c.TruePair]) / count;
        }
        var attribute = Below("attribute", out var attributeCount);
        var relation = Below("relation", out var relationCount);
        var byImage = comparisons.GroupBy(c => c.Image).ToList();
        var allBelow = byImage.Count == 0 ? 0 : 100.0 * byImage.Count(g => g.All(c => scores[c.NegativePair] < scores[c.TruePair])) / byImage.Count;
        return new HardNegativeResult(byImage.Count, attribute, attributeCount, relation, relationCount, allBelow);
    }
}
