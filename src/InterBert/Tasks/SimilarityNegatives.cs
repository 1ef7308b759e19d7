namespace InterBert.Tasks;

/// <summary>
/// ALBEF's negatives for image-text matching: within a batch, each caption's wrong image is drawn with probability
/// proportional to exp(scale x cosine) over the batch's other images, and each image's wrong caption likewise over
/// the captions of other images. The cross-modal head then trains on the pairs the unimodal first stage confuses
/// (a near miss is drawn often, an easy negative rarely), rather than on random pairs it already tells apart.
/// </summary>
public static class SimilarityNegatives
{
    /// <summary>
    /// For each caption t (row of <paramref name="similarity"/>, captions x images), a batch image other than its own
    /// (<paramref name="imageOfText"/>[t]), drawn in proportion to exp(scale x similarity); -1 when the batch has no other image.
    /// </summary>
    public static int[] ImagesForCaptions(float[,] similarity, IReadOnlyList<int> imageOfText, double scale, Random random) =>
        ImagesForCaptions(similarity, imageOfText, scale, random, 1).Select(d => d[0]).ToArray();

    /// <summary>
    /// The same with <paramref name="count"/> distinct images per caption, drawn one after another without repeats (each
    /// in proportion to exp(scale x similarity) over the images not yet drawn); -1 where the batch runs out of other images.
    /// </summary>
    public static int[][] ImagesForCaptions(float[,] similarity, IReadOnlyList<int> imageOfText, double scale, Random random, int count)
    {
        var (texts, images) = (similarity.GetLength(0), similarity.GetLength(1));
        var chosen = new int[texts][];
        var weights = new double[images];
        for (var t = 0; t < texts; t++)
        {
            for (var i = 0; i < images; i++) weights[i] = i == imageOfText[t] ? double.NegativeInfinity : scale * similarity[t, i];
            chosen[t] = new int[count];
            for (var d = 0; d < count; d++)
            {
                chosen[t][d] = Draw(weights, random);
                if (chosen[t][d] >= 0) weights[chosen[t][d]] = double.NegativeInfinity;
            }
        }
        return chosen;
    }

    /// <summary>
    /// For each batch image, a caption of another image, drawn in proportion to exp(scale x similarity) over the
    /// captions (columns of the transposed <paramref name="similarity"/>); -1 when every caption is the image's own.
    /// </summary>
    public static int[] CaptionsForImages(float[,] similarity, IReadOnlyList<int> imageOfText, double scale, Random random)
    {
        var (texts, images) = (similarity.GetLength(0), similarity.GetLength(1));
        var chosen = new int[images];
        var weights = new double[texts];
        for (var i = 0; i < images; i++)
        {
            for (var t = 0; t < texts; t++) weights[t] = imageOfText[t] == i ? double.NegativeInfinity : scale * similarity[t, i];
            chosen[i] = Draw(weights, random);
        }
        return chosen;
    }

    /// <summary>
    /// The cosines [captions, images] of (normalised) contrastive vectors, on the CPU and detached from the graph,
    /// and the contrastive loss's current inverse temperature, the scale of <see cref="ImagesForCaptions(float[,], IReadOnlyList{int}, double, Random)"/>' draws.
    /// </summary>
    public static (float[,] Similarity, double Scale) Cosines(TorchSharp.torch.Tensor textVectors, TorchSharp.torch.Tensor imageVectors, TorchSharp.torch.Tensor logitScale)
    {
        using var noGrad = TorchSharp.torch.no_grad();
        using var fp32 = Modeling.AutocastScope.Enter(Modeling.Precision.Fp32);
        using var cosines = TorchSharp.torch.matmul(textVectors.detach().to(TorchSharp.torch.ScalarType.Float32), imageVectors.detach().to(TorchSharp.torch.ScalarType.Float32).t()).cpu();
        var flat = cosines.data<float>().ToArray();
        var similarity = new float[cosines.shape[0], cosines.shape[1]];
        Buffer.BlockCopy(flat, 0, similarity, 0, flat.Length * sizeof(float));
        using var inverseTemperature = Modeling.ContrastiveLoss.Scale(logitScale.detach());
        return (similarity, inverseTemperature.to(TorchSharp.torch.ScalarType.Float32).item<float>());
    }

    /// <summary>
    /// Puts the draws into 4-way pair lists (four pairs per example from position 4 x <paramref name="first"/>:
    /// positive, wrong caption, wrong image, hard image; with <paramref name="extraNegatives"/> N, 4 + N per example, the
    /// last N the caption with more wrong images, drawn after the first without repeats): each example's wrong image becomes a batch image drawn by
    /// <see cref="ImagesForCaptions(float[,], IReadOnlyList{int}, double, Random, int)"/>, and its wrong caption one drawn by <see cref="CaptionsForImages"/> for its
    /// image, unless it is one of the image's own known-false captions (ids from <paramref name="captionCount"/> on).
    /// The similarity's rows are the captions <paramref name="captions"/>, the first <paramref name="exampleCount"/> the
    /// examples (the rest only candidates, from a larger contrastive batch): example k is caption captions[k] of batch
    /// image <paramref name="imageOfText"/>[k], whose pair-list id is <paramref name="batchImages"/>[imageOfText[k]].
    /// </summary>
    internal static void Replace(List<long> captionIds, List<long> imageIds, int first, int exampleCount, IReadOnlyList<int> captions, int[] imageOfText, int[] batchImages,
        float[,] similarity, double scale, Random random, int captionCount, int extraNegatives = 0)
    {
        var width = 4 + extraNegatives;
        var imageFor = ImagesForCaptions(similarity, imageOfText, scale, random, 1 + extraNegatives);
        var captionFor = CaptionsForImages(similarity, imageOfText, scale, random);
        for (var k = 0; k < exampleCount; k++)
        {
            var pair = width * (first + k);
            if (imageFor[k][0] >= 0) imageIds[pair + 2] = batchImages[imageFor[k][0]];
            // The extra wrong images: more of the batch's images the caption's vector finds close (random ones stay where the batch runs out).
            for (var e = 1; e <= extraNegatives; e++)
                if (imageFor[k][e] >= 0) imageIds[pair + 3 + e] = batchImages[imageFor[k][e]];
            var wrong = captionFor[imageOfText[k]];
            if (wrong >= 0 && captionIds[pair + 1] < captionCount) captionIds[pair + 1] = captions[wrong];
        }
    }

    /// <summary>An index drawn in proportion to exp(weight) (a softmax draw; -inf never drawn), or -1 when all are -inf.</summary>
    private static int Draw(double[] weights, Random random)
    {
        var max = weights.Max();
        if (double.IsNegativeInfinity(max)) return -1;
        var sum = 0.0;
        for (var k = 0; k < weights.Length; k++) sum += Math.Exp(weights[k] - max);
        var target = random.NextDouble() * sum;
        var last = -1;
        for (var k = 0; k < weights.Length; k++)
        {
            if (double.IsNegativeInfinity(weights[k])) continue;
            last = k;
            target -= Math.Exp(weights[k] - max);
            if (target < 0) return k;
        }
        return last; // rounding left a sliver: the last candidate
    }
}
