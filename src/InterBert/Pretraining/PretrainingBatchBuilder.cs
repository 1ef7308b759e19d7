using InterBert.Data;
using InterBert.Modeling;
using static TorchSharp.torch;

namespace InterBert.Pretraining;

/// <summary>
/// Builds pretraining batches: for each caption, with probability <c>NegativeRate</c> a wrong caption (one of the
/// image's own known-false captions with probability <c>OwnNegativeRate</c> when it has any; else hard from the
/// TF-IDF pool with probability <c>HardNegativeRate</c>, else random, never one of the same image); segment masking on
/// every caption (none when masked segment modeling's weight is 0, or with conditional masking when every region of
/// the pair is masked); region masking on matched pairs only (with <c>MaskMismatchedRegions</c>, wrong pairs' regions
/// hidden alike, without targets). All randomness comes from the given generator, so a
/// batch is a function of (data, seed, step).
/// </summary>
public sealed class PretrainingBatchBuilder(
    CaptionCorpus corpus, FeatureStore store, SegmentMasker segmentMasker, RegionMasker regionMasker,
    CaptionNeighbours? neighbours, PretrainingTaskOptions options, int padId, bool regressFeatures)
{
    /// <summary>Whether masked regions are scored by feature regression (the store has no class distributions).</summary>
    public bool RegressFeatures => regressFeatures;

    /// <summary>Builds the batch of the captions <paramref name="captionIndices"/>, drawing everything from one random source.</summary>
    public PretrainingBatch Build(IReadOnlyList<int> captionIndices, Random random) => Build(captionIndices, captionIndices.Select(_ => random).ToList());

    /// <summary>
    /// Builds the batch of the captions <paramref name="captionIndices"/>; example i draws its negative and masks from
    /// <paramref name="randoms"/>[i] only, so an example comes out the same whichever process builds it (data parallelism).
    /// </summary>
    public PretrainingBatch Build(IReadOnlyList<int> captionIndices, IReadOnlyList<Random> randoms) => Build(captionIndices, randoms, null, includeContrastive: true);

    /// <summary>
    /// The same, with each example's wrong caption (when it gets one and it is not one of the image's own) given by
    /// <paramref name="wrongCaptions"/>[i] (a caption index; -1: drawn as usual), and the contrastive inputs left out
    /// when the caller already ran that pass (<paramref name="includeContrastive"/> false).
    /// </summary>
    public PretrainingBatch Build(IReadOnlyList<int> captionIndices, IReadOnlyList<Random> randoms, IReadOnlyList<int>? wrongCaptions, bool includeContrastive)
    {
        var b = captionIndices.Count;
        var texts = new List<int[]>(b);
        var labels = new List<int[]>(b);
        var images = new List<ImageRegions>(b);
        var matched = new bool[b];
        // With conditional masking the every-region draw comes first, since it decides whether the caption is masked.
        var allRegionsDrawn = new bool?[b];
        for (var i = 0; i < b; i++)
        {
            var caption = captionIndices[i];
            var random = randoms[i];
            var image = corpus.ImageOf[caption];
            var negative = random.NextDouble() < options.NegativeRate;
            var tokens = corpus.Tokens[caption];
            if (negative)
            {
                var own = corpus.ImageNegatives[image];
                // The image's own false captions (one colour or relation changed) teach what a near miss looks like.
                tokens = options.OwnNegativeRate > 0 && own.Count > 0 && random.NextDouble() < options.OwnNegativeRate
                    ? own[random.Next(own.Count)]
                    : corpus.Tokens[wrongCaptions is { } given && given[i] >= 0 ? given[i] : WrongCaption(caption, random)];
            }
            matched[i] = !negative;
            var imageRegions = store.Read(corpus.ImageIds[image]);
            if (options.ConditionalMasking && options.AllRegionsMaskedRate > 0 && RegionsMaskable(matched[i], imageRegions))
                allRegionsDrawn[i] = random.NextDouble() < options.AllRegionsMaskedRate;
            // Without masked segment modeling nothing is predicted from a masked word, and a masked relation or object
            // word leaves masked region modeling a target the caption no longer states: the model reads every word.
            var (ids, segmentLabels) = options.SegmentWeight == 0 || allRegionsDrawn[i] == true ? SegmentMasker.Unmasked(tokens) : segmentMasker.Mask(tokens, random);
            texts.Add(ids);
            labels.Add(segmentLabels);
            images.Add(imageRegions);
        }

        var text = Text.WordPieceTokenizer.Collate(texts, padId);
        var length = text.InputIds.shape[1];
        var labelArray = new long[b * length];
        Array.Fill(labelArray, SegmentMasker.Ignore);
        for (var i = 0; i < b; i++) for (var t = 0; t < labels[i].Length; t++) labelArray[i * length + t] = labels[i][t];

        var featureSize = store.Manifest.FeatureSize;
        var imageBatch = RegionCollator.Collate(images, featureSize, options.MaxRegions);
        var regions = (int)imageBatch.Features.shape[1];
        var maskedFlags = new bool[b * regions];
        var hiddenFlags = new bool[b * regions];
        for (var i = 0; i < b; i++)
        {
            var scored = RegionsMaskable(matched[i], images[i]);
            // A wrong pair's regions hidden alike (without targets), so that a hidden region does not tell a matched pair.
            if (!scored && !(options.MaskMismatchedRegions && RegionsMaskable(true, images[i]))) continue;
            var count = Math.Min(images[i].RegionCount, regions);
            // The draw is made only when the option is on, so that runs without it keep their masks bit for bit.
            var masked = allRegionsDrawn[i] ?? (options.AllRegionsMaskedRate > 0 && randoms[i].NextDouble() < options.AllRegionsMaskedRate)
                ? Enumerable.Repeat(true, count).ToArray()
                : regionMasker.Mask(images[i], count, randoms[i]);
            for (var r = 0; r < count; r++)
            {
                maskedFlags[i * regions + r] = scored && masked[r];
                hiddenFlags[i * regions + r] = masked[r];
            }
        }
        var maskedTensor = tensor(maskedFlags, [b, regions]);
        // The collator already made them when every image has them; made here only for a mixed batch.
        var classTargets = regressFeatures ? null : imageBatch.Classes ?? RegionCollator.ClassTargets(images, store.Manifest.ClassCount, regions);
        var featureTargets = regressFeatures ? imageBatch.Features.clone() : null;
        // Zero the masked regions' features; the global token is the mean of what the model is shown.
        var keep = tensor(hiddenFlags, [b, regions]).logical_not().unsqueeze(-1).to_type(imageBatch.Features.dtype);
        var maskedFeatures = imageBatch.Features * keep;
        return new PretrainingBatch(
            text, tensor(labelArray, [b, length]),
            imageBatch with { Features = maskedFeatures }, maskedTensor, classTargets, featureTargets,
            tensor(matched.Select(m => m ? (long)InterBertModel.MatchedIndex : 1 - InterBertModel.MatchedIndex).ToArray()),
            options.ContrastiveWeight > 0 && includeContrastive ? ContrastiveInputs(captionIndices) : null);
    }

    // Masked region modeling runs on matched pairs only, not at all at weight 0 (the model then sees every region), and
    // on an image only when there is something to predict (features to regress, or a class distribution).
    private bool RegionsMaskable(bool matched, ImageRegions image) =>
        matched && options.RegionWeight != 0 && (regressFeatures || image.Classes is not null);

    /// <summary>Each example's own caption, unmasked, and the distinct images of the examples, unmasked.</summary>
    public ContrastiveBatch ContrastiveInputs(IReadOnlyList<int> captionIndices)
    {
        var (imageIndices, imageOfText) = ContrastiveBatch.Layout(captionIndices.Select(c => corpus.ImageOf[c]));
        var text = Text.WordPieceTokenizer.Collate(captionIndices.Select(c => corpus.Tokens[c]).ToList(), padId);
        var images = RegionCollator.Collate(imageIndices.Select(i => store.Read(corpus.ImageIds[i])).ToList(), store.Manifest.FeatureSize, options.MaxRegions);
        return new ContrastiveBatch(text, images, imageOfText);
    }

    private int WrongCaption(int caption, Random random)
    {
        var image = corpus.ImageOf[caption];
        if (neighbours is not null && random.NextDouble() < options.HardNegativeRate)
        {
            var pool = neighbours.Of(caption);
            if (pool.Count > 0) return pool[random.Next(pool.Count)];
        }
        if (corpus.ImageIds.Count < 2) throw new InterBertException("image-text matching needs captions of at least two images");
        int other;
        do other = random.Next(corpus.Captions.Count);
        while (corpus.ImageOf[other] == image);
        return other;
    }
}
