using InterBert.Text;

namespace InterBert.Data;

/// <summary>The captions of dataset splits whose images have stored features, tokenized once (pretraining, retrieval).</summary>
public sealed class CaptionCorpus
{
    private CaptionCorpus(List<string> imageIds, List<string> captions, List<int[]> tokens, List<int> imageOf, IReadOnlyList<IReadOnlyList<int[]>>? imageNegatives = null)
    {
        ImageIds = imageIds;
        Captions = captions;
        Tokens = tokens;
        ImageOf = imageOf;
        ImageNegatives = imageNegatives ?? imageIds.Select(_ => (IReadOnlyList<int[]>)[]).ToList();
    }

    /// <summary>Image ids, indexed by image index.</summary>
    public IReadOnlyList<string> ImageIds { get; }
    /// <summary>Caption texts, indexed by caption index.</summary>
    public IReadOnlyList<string> Captions { get; }
    /// <summary>Token ids (<c>[CLS] ... [SEP]</c>) of each caption.</summary>
    public IReadOnlyList<int[]> Tokens { get; }
    /// <summary>The image index of each caption.</summary>
    public IReadOnlyList<int> ImageOf { get; }
    /// <summary>Token ids of captions known to be false for each image (a dataset's hard negatives), by image index; usually empty.</summary>
    public IReadOnlyList<IReadOnlyList<int[]>> ImageNegatives { get; }

    /// <summary>The same corpus with the given false captions of its images (by image id), tokenized.</summary>
    public CaptionCorpus WithImageNegatives(IReadOnlyDictionary<string, IReadOnlyList<string>> negatives, WordPieceTokenizer tokenizer, int maxTokens) => new(
        ImageIds.ToList(), Captions.ToList(), Tokens.ToList(), ImageOf.ToList(),
        ImageIds.Select(id => negatives.TryGetValue(id, out var texts) ? (IReadOnlyList<int[]>)texts.Select(t => tokenizer.Encode(t, maxTokens)).ToList() : []).ToList());

    /// <summary>The same images with only the given captions (in the given order), e.g. one query caption per image.</summary>
    public CaptionCorpus WithCaptions(IReadOnlyList<int> captionIndices) => new(
        ImageIds.ToList(), captionIndices.Select(c => Captions[c]).ToList(), captionIndices.Select(c => Tokens[c]).ToList(), captionIndices.Select(c => ImageOf[c]).ToList(), ImageNegatives);

    /// <summary>Every image with only its first <paramref name="count"/> captions, in corpus order (a cheaper evaluation that keeps every image to rank).</summary>
    public CaptionCorpus FirstCaptionsOfEachImage(int count)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "at least one caption per image");
        var seen = new int[ImageIds.Count];
        return WithCaptions(Enumerable.Range(0, Captions.Count).Where(c => seen[ImageOf[c]]++ < count).ToList());
    }

    /// <summary>The first <paramref name="count"/> captions and only the images they belong to (a quick evaluation).</summary>
    public CaptionCorpus FirstCaptions(int count)
    {
        var kept = Enumerable.Range(0, Math.Clamp(count, 1, Captions.Count)).ToList();
        var images = kept.Select(c => ImageOf[c]).Distinct().ToList();
        var newIndex = images.Select((image, index) => (image, index)).ToDictionary(p => p.image, p => p.index);
        return new CaptionCorpus(images.Select(i => ImageIds[i]).ToList(), kept.Select(c => Captions[c]).ToList(), kept.Select(c => Tokens[c]).ToList(),
            kept.Select(c => newIndex[ImageOf[c]]).ToList(), images.Select(i => ImageNegatives[i]).ToList());
    }

    /// <summary>
    /// Reads the images of <paramref name="splits"/> (all when empty) from a dataset and tokenizes their captions.
    /// Every image must have features in the store: a missing one is an error naming it (or, with
    /// <paramref name="skipMissing"/>, the image is left out).
    /// </summary>
    public static CaptionCorpus Load(string datasetPath, IReadOnlyCollection<string> splits, FeatureStore store, WordPieceTokenizer tokenizer, int maxTokens, bool skipMissing = false)
    {
        var imageIds = new List<string>();
        var captions = new List<string>();
        var tokens = new List<int[]>();
        var imageOf = new List<int>();
        var missing = new List<string>();
        foreach (var image in DatasetReader.Read(datasetPath))
        {
            if (splits.Count > 0 && !splits.Contains(image.Split)) continue;
            if (!store.Contains(image.Id))
            {
                missing.Add(image.Id);
                continue;
            }
            var index = imageIds.Count;
            imageIds.Add(image.Id);
            foreach (var caption in image.Captions)
            {
                captions.Add(caption);
                tokens.Add(tokenizer.Encode(caption, maxTokens));
                imageOf.Add(index);
            }
        }
        if (missing.Count > 0 && !skipMissing)
            throw new InterBertException($"{datasetPath}: {missing.Count} images have no features in {store.Folder} (first: {missing[0]}); run 'interbert features' on this dataset first");
        var splitNames = splits.Count == 0 ? "any split" : $"split {string.Join("/", splits)}";
        if (captions.Count == 0) throw new InterBertException($"{datasetPath}: no images with features in {splitNames}");
        return new CaptionCorpus(imageIds, captions, tokens, imageOf);
    }
}
