using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>
/// The optional image-text contrastive loss (InfoNCE over in-batch negatives, both directions, CLIP's learnable
/// temperature) on the unimodal pooled vectors: the text-only and image-only forward passes. It aligns the vectors
/// a search index compares, so that a first stage of nearest neighbours finds the candidates the cross-modal
/// matching score then re-ranks.
/// </summary>
public static class ContrastiveLoss
{
    /// <summary>Weights-file metadata key: the contrastive loss weight a model was trained with (its unimodal vectors serve search).</summary>
    public const string WeightMetadataKey = "contrastive_weight";

    /// <summary>
    /// The loss of captions <paramref name="text"/> against the distinct images <paramref name="images"/>, caption t
    /// belonging to image <paramref name="imageOfText"/>[t]. Every image must have at least one caption in the batch.
    /// </summary>
    public static Tensor Compute(InterBertModel model, TextBatch text, ImageBatch images, IReadOnlyList<int> imageOfText)
    {
        var (textVectors, imageVectors) = Vectors(model, text, images);
        return FromVectors(textVectors, imageVectors, imageOfText, model.LogitScale);
    }

    /// <summary>The L2-normalised pooled vectors the loss compares (with gradient): the text-only pass, then the image-only pass.</summary>
    public static (Tensor Text, Tensor Images) Vectors(InterBertModel model, TextBatch text, ImageBatch images)
    {
        var (textVectors, imageVectors, _) = Vectors(model, text, images, wordRegion: false);
        return (textVectors, imageVectors);
    }

    /// <summary>
    /// The same vectors and, with <paramref name="wordRegion"/>, the <see cref="TokenRegionMatching"/> score of every
    /// caption with every image [captions, images] from the same two passes (with gradient).
    /// </summary>
    public static (Tensor Text, Tensor Images, Tensor? WordRegion) Vectors(InterBertModel model, TextBatch text, ImageBatch images, bool wordRegion)
    {
        var textOutput = model.Forward(text, null);
        var imageOutput = model.Forward(null, images);
        Tensor? matching = null;
        if (wordRegion)
        {
            var (words, wordMask) = TokenRegionMatching.Words(model, textOutput.TextSequence!, text);
            var (regions, regionMask) = TokenRegionMatching.Regions(model, imageOutput.ImageSequence!, images);
            matching = TokenRegionMatching.AllPairs(words, wordMask, regions, regionMask);
        }
        return (nn.functional.normalize(textOutput.PooledText!, dim: 1), nn.functional.normalize(imageOutput.PooledImage!, dim: 1), matching);
    }

    /// <summary>The inverse temperature from the learned log-scale, capped at 100 as in CLIP so the logits cannot run away.</summary>
    public static Tensor Scale(Tensor logitScale) => logitScale.clamp_max(Math.Log(100)).exp();

    /// <summary>A model's inverse temperature (capped at 100 as in training) as a number: cosines times it are on the scale of logits.</summary>
    public static float SimilarityScale(InterBertModel model)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        return Scale(model.LogitScale).to(ScalarType.Float32).item<float>();
    }

    /// <summary>
    /// The loss from L2-normalised vectors: text→image cross-entropy towards each caption's image, and image→text with
    /// all of an image's captions as positives (two captions of one image are not each other's negatives).
    /// </summary>
    public static Tensor FromVectors(Tensor textVectors, Tensor imageVectors, IReadOnlyList<int> imageOfText, Tensor logitScale)
    {
        // The similarities are a loss computation: fp32 even inside a bf16 region, whose 8-bit mantissa would round
        // cosines to steps of 0.004, as large as the margins the loss learns from once multiplied by the temperature.
        using var fp32 = AutocastScope.Enter(Precision.Fp32);
        return FromLogits(matmul(textVectors, imageVectors.t()) * Scale(logitScale), imageOfText);
    }

    /// <summary>The same loss from logits [captions, images] already on their scale (caption t's image at <paramref name="imageOfText"/>[t]).</summary>
    public static Tensor FromLogits(Tensor logits, IReadOnlyList<int> imageOfText)
    {
        var imageCount = logits.shape[1];
        if (imageOfText.Count != logits.shape[0] || imageOfText.Any(i => i < 0 || i >= imageCount))
            throw new ArgumentException("every caption needs the index of its image in the batch");
        using var fp32 = AutocastScope.Enter(Precision.Fp32);
        logits = logits.to_type(ScalarType.Float32);
        var targets = tensor(imageOfText.Select(i => (long)i).ToArray());
        var textToImage = nn.functional.cross_entropy(logits, targets);
        var owns = new bool[imageCount * imageOfText.Count];
        for (var t = 0; t < imageOfText.Count; t++) owns[imageOfText[t] * imageOfText.Count + t] = true;
        var positive = tensor(owns, [imageCount, imageOfText.Count]);
        var byImage = logits.t();
        var imageToText = (byImage.logsumexp(1) - byImage.masked_fill(positive.logical_not(), float.NegativeInfinity).logsumexp(1)).mean();
        return (textToImage + imageToText) / 2;
    }
}
