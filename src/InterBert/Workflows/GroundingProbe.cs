using InterBert.Data;
using InterBert.Modeling;
using InterBert.Text;
using static TorchSharp.torch;

namespace InterBert.Workflows;

/// <summary>
/// Whether a pretrained model ties a caption's words to their regions: for each test scene with a relation caption
/// that names exactly two objects ("a purple circle to the left of a yellow star"), every region's features are hidden (the boxes stay) and the
/// region head is asked, for the box of each of the two named objects, which of the two it is. Only the relation
/// word and the boxes' positions can decide it, so a model that does not bind the words to the geometry scores
/// 50%. The same boxes also say whether the model reads a box at all: whether the head prefers the object's true size
/// ("small" or "large", decided by the box alone) over its other sizes. The store's class names ("small purple
/// circle") are matched in the caption's words, or, given <c>objectPhrase</c>, their object phrases in the caption's
/// language ("紫色圆形") anywhere in its text.
/// </summary>
public static class GroundingProbe
{
    /// <summary>
    /// Probes <paramref name="model"/> on the scenes of <paramref name="corpus"/> that have a relation hard negative
    /// (whose true sentence is the relation caption); null when the store has no class names or no scene qualifies.
    /// <paramref name="objectPhrase"/> turns an English object phrase ("purple circle") into the captions' own, for
    /// captions in another language; null: the captions are English, matched word for word.
    /// </summary>
    public static GroundingResult? Evaluate(InterBertModel model, CaptionCorpus corpus, FeatureStore store, WordPieceTokenizer tokenizer,
        IReadOnlyDictionary<string, List<HardNegativeCaption>> negatives, int pairsPerBatch = 32, Func<string, string>? objectPhrase = null)
    {
        if (store.Manifest.ClassNames is not { } names || names.Count == 0) return null;
        // A class's object phrase is its name without the size word: "small purple circle" names "purple circle".
        var phrases = names.Select(n => n.Contains(' ') ? n[(n.IndexOf(' ') + 1)..] : n).Select(p => objectPhrase is null ? p : objectPhrase(p)).ToArray();
        var captionsOf = Enumerable.Range(0, corpus.Captions.Count).GroupBy(c => corpus.ImageOf[c]).ToDictionary(g => g.Key, g => g.ToList());
        var probes = new List<(ImageRegions Image, string Caption, int[] Regions, string[] Phrases, long[] Classes)>();
        for (var i = 0; i < corpus.ImageIds.Count; i++)
        {
            if (!negatives.TryGetValue(corpus.ImageIds[i], out var list) || !captionsOf.TryGetValue(i, out var captions)) continue;
            var relation = list.FirstOrDefault(n => n.Changed == "relation" && n.TrueSentence < captions.Count);
            if (relation is null) continue;
            var caption = corpus.Captions[captions[relation.TrueSentence]];
            var regions = store.Read(corpus.ImageIds[i]);
            if (regions.Classes is null) continue;
            var classCount = regions.ClassCount;
            // Each region's own object phrase (the argmax of its class distribution; a region with none, the whole image, has no phrase).
            var regionClasses = Enumerable.Range(0, Math.Min(regions.RegionCount, model.Config.MaxRegionLength)).Select(r =>
            {
                var row = regions.Classes.AsSpan(r * classCount, classCount);
                var best = 0;
                for (var c = 1; c < classCount; c++) if (row[c] > row[best]) best = c;
                return row[best] > 0.5f ? best : -1;
            }).ToArray();
            var regionPhrases = regionClasses.Select(c => c < 0 ? null : phrases[c]).ToArray();
            // English is matched word for word ("red circle" is not in "a dark red circles"), punctuation apart: "a
            // purple circle left of a yellow star, plus a red square" names three objects, and is not asked about.
            // Chinese has no spaces to match.
            var words = $" {string.Concat(caption.Select(c => char.IsPunctuation(c) ? ' ' : c))} ";
            var named = regionPhrases.Where(p => p is not null && (objectPhrase is null ? words.Contains($" {p} ", StringComparison.Ordinal) : caption.Contains(p, StringComparison.Ordinal))).Distinct().ToList();
            if (named.Count != 2) continue;
            var namedRegions = named.Select(p => Enumerable.Range(0, regionPhrases.Length).Where(r => regionPhrases[r] == p).ToList()).ToList();
            // A phrase with two boxes (two purple circles) cannot be asked about.
            if (namedRegions.Any(r => r.Count != 1)) continue;
            probes.Add((regions, caption, [namedRegions[0][0], namedRegions[1][0]], [named[0]!, named[1]!],
                [regionClasses[namedRegions[0][0]], regionClasses[namedRegions[1][0]]]));
        }
        if (probes.Count == 0) return null;

        var classesOf = phrases.Distinct().ToDictionary(p => p, p => Enumerable.Range(0, phrases.Length).Where(c => phrases[c] == p).Select(c => (long)c).ToArray());
        int right = 0, sized = 0, sizeRight = 0;
        model.eval();
        using (no_grad())
        {
            for (var start = 0; start < probes.Count; start += pairsPerBatch)
            {
                using var scope = NewDisposeScope();
                var block = probes.GetRange(start, Math.Min(pairsPerBatch, probes.Count - start));
                var text = WordPieceTokenizer.Collate(block.Select(p => tokenizer.Encode(p.Caption, model.Config.TextLength)).ToList(), tokenizer.PadId);
                var image = RegionCollator.Collate(block.Select(p => p.Image).ToList(), model.Config.VFeatureSize, model.Config.MaxRegionLength);
                // Every region hidden, as masked region modeling hides one: zero features, box kept.
                var output = model.Forward(text, image with { Features = zeros_like(image.Features) });
                var regionCount = image.Features.shape[1];
                var hidden = output.ImageSequence!.narrow(1, 1, regionCount); // position 0 is the global token
                for (var b = 0; b < block.Count; b++)
                {
                    for (var k = 0; k < 2; k++)
                    {
                        var probabilities = model.RegionLogits(hidden[b, block[b].Regions[k]].unsqueeze(0)).to_type(ScalarType.Float32).softmax(-1).data<float>().ToArray();
                        var sizes = classesOf[block[b].Phrases[k]];
                        var mass = sizes.Sum(c => probabilities[c]);
                        if (mass > classesOf[block[b].Phrases[1 - k]].Sum(c => probabilities[c])) right++;
                        // Its size: the true class against the same object's other sizes, where it has any.
                        if (sizes.Length < 2) continue;
                        sized++;
                        var own = probabilities[block[b].Classes[k]];
                        if (own > mass - own) sizeRight++;
                    }
                }
            }
        }
        return new GroundingResult(2 * probes.Count, Math.Round(100.0 * right / (2 * probes.Count), 1), sized, sized == 0 ? 0 : Math.Round(100.0 * sizeRight / sized, 1));
    }
}
