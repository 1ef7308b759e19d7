using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>
/// Word-region matching on the two streams' outputs (SCAN's cross attention, FILIP's token-wise similarity): every
/// word and every image position go through the pooler's layer into the space the search vectors share, and a pair's
/// score is how well its words find a region (each word attends to every region by softmax(λ x cosine) and takes the
/// attention-weighted cosine; the mean over words) averaged with how well its regions find a word (the same the other
/// way round). Computed from a text-only and an image-only pass, so a whole contrastive batch's pairs cost one
/// matrix product, and a re-ranking needs no joint pass.
/// </summary>
public static class TokenRegionMatching
{
    /// <summary>λ, the sharpness of the attention over cosines (SCAN's λ1 is 9): near 10 a word attends to its best few regions.</summary>
    public const float Sharpness = 10;

    /// <summary>
    /// A text-only pass's word vectors [B, T, D] (L2-normalised) and which of them are words [B, T] (bool: real tokens
    /// but [CLS], whose pooled vector is the first stage's).
    /// </summary>
    public static (Tensor Vectors, Tensor Mask) Words(InterBertBackbone model, Tensor textSequence, TextBatch text)
    {
        var vectors = nn.functional.normalize(model.TextPositions(textSequence), dim: -1);
        var mask = text.AttentionMask.to_type(ScalarType.Bool).clone();
        mask.narrow(1, 0, 1).fill_(false);
        return (vectors, mask);
    }

    /// <summary>An image-only pass's position vectors [B, R + 1, D] (L2-normalised; the global token first) and which are real [B, R + 1] (bool).</summary>
    public static (Tensor Vectors, Tensor Mask) Regions(InterBertBackbone model, Tensor imageSequence, ImageBatch image) =>
        (nn.functional.normalize(model.ImagePositions(imageSequence), dim: -1), ImageEmbeddings.MaskWithGlobalToken(image.RegionMask).to_type(ScalarType.Bool));

    /// <summary>The score of every caption with every image [Nt, Ni] (a contrastive batch's logits before the temperature).</summary>
    public static Tensor AllPairs(Tensor words, Tensor wordMask, Tensor regions, Tensor regionMask)
    {
        using var fp32 = AutocastScope.IsActive ? AutocastScope.Enter(Precision.Fp32) : null;
        var (nt, lt, d) = (words.shape[0], words.shape[1], words.shape[2]);
        var (ni, lr) = (regions.shape[0], regions.shape[1]);
        var cosines = matmul(words.to_type(ScalarType.Float32).reshape(nt * lt, d), regions.to_type(ScalarType.Float32).reshape(ni * lr, d).t())
            .view(nt, lt, ni, lr).permute(0, 2, 1, 3);
        return Aggregate(cosines, wordMask.view(nt, 1, lt, 1), regionMask.view(1, ni, 1, lr));
    }

    /// <summary>The score of caption k with image k for each k [P], from their vectors side by side.</summary>
    public static Tensor Paired(Tensor words, Tensor wordMask, Tensor regions, Tensor regionMask)
    {
        using var fp32 = AutocastScope.IsActive ? AutocastScope.Enter(Precision.Fp32) : null;
        var cosines = bmm(words.to_type(ScalarType.Float32), regions.to_type(ScalarType.Float32).transpose(1, 2));
        return Aggregate(cosines, wordMask.unsqueeze(-1), regionMask.unsqueeze(1));
    }

    /// <summary>From cosines [..., T, R] and masks broadcastable to [..., T, 1] and [..., 1, R]: the two directions' mean.</summary>
    private static Tensor Aggregate(Tensor cosines, Tensor wordMask, Tensor regionMask)
    {
        var sharp = cosines * Sharpness;
        // Each word over the regions (an image always has its global token, so no row is empty).
        var overRegions = sharp.masked_fill(regionMask.logical_not(), float.NegativeInfinity).softmax(-1);
        var wordValues = (overRegions * cosines).sum(-1);
        var words = wordMask.squeeze(-1).to_type(ScalarType.Float32);
        var textToImage = (wordValues * words).sum(-1) / words.sum(-1).clamp_min(1);
        // Each region over the words ([SEP] is always a word, so no column is empty).
        var overWords = sharp.masked_fill(wordMask.logical_not(), float.NegativeInfinity).softmax(-2);
        var regionValues = (overWords * cosines).sum(-2);
        var regionsReal = regionMask.squeeze(-2).to_type(ScalarType.Float32);
        var imageToText = (regionValues * regionsReal).sum(-1) / regionsReal.sum(-1).clamp_min(1);
        return (textToImage + imageToText) / 2;
    }
}
