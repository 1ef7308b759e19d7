using InterBert.Modeling;
using static TorchSharp.torch;

namespace InterBert.Tasks;

/// <summary>
/// Every caption's and every image's sequence from a model's text-only and image-only passes (as search computes them,
/// without dropout), with their masks and the search vectors, kept for a late interaction trained over a first stage
/// held fixed: the passes run once, not once per pair and step. The scores they give are the model's
/// <see cref="InterBertModel.PairScores"/> of the same pairs.
/// </summary>
internal sealed class UnimodalSequences : IDisposable
{
    private readonly PreparedPairs pairs;
    private readonly Tensor texts, textMasks, images, imageMasks, textVectors, imageVectors;

    private UnimodalSequences(PreparedPairs pairs, Tensor texts, Tensor textMasks, Tensor images, Tensor imageMasks, Tensor textVectors, Tensor imageVectors) =>
        (this.pairs, this.texts, this.textMasks, this.images, this.imageMasks, this.textVectors, this.imageVectors) = (pairs, texts, textMasks, images, imageMasks, textVectors, imageVectors);

    /// <summary>Runs the passes over all of <paramref name="pairs"/>' captions and images (the model's training mode is kept).</summary>
    public static UnimodalSequences Compute(InterBertModel model, PreparedPairs pairs)
    {
        var training = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            const int block = 128;
            var textLength = Enumerable.Range(0, pairs.CaptionCount).Max(pairs.CaptionLength);
            var imageLength = Enumerable.Range(0, pairs.ImageCount).Max(i => Math.Max(1, pairs.RegionCount(i))) + 1;
            var (textParts, textMaskParts, textVectorParts) = (new List<Tensor>(), new List<Tensor>(), new List<Tensor>());
            for (var start = 0; start < pairs.CaptionCount; start += block)
            {
                var rows = Enumerable.Range(start, Math.Min(block, pairs.CaptionCount - start)).Select(c => (long)c).ToList();
                // One scope per block: only the kept sequences outlive it, not every layer's activations of every block.
                using var blockScope = NewDisposeScope();
                var text = pairs.Captions(rows);
                var output = model.Forward(text, null);
                var pad = textLength - (int)text.InputIds.shape[1];
                textParts.Add(nn.functional.pad(output.TextSequence!, [0, 0, 0, pad]).MoveToOuterDisposeScope());
                textMaskParts.Add(nn.functional.pad(text.AttentionMask.to_type(ScalarType.Int64), [0, pad]).MoveToOuterDisposeScope());
                textVectorParts.Add(nn.functional.normalize(output.PooledText!, dim: 1).to(ScalarType.Float32).MoveToOuterDisposeScope());
            }
            var (imageParts, imageMaskParts, imageVectorParts) = (new List<Tensor>(), new List<Tensor>(), new List<Tensor>());
            for (var start = 0; start < pairs.ImageCount; start += block)
            {
                var rows = Enumerable.Range(start, Math.Min(block, pairs.ImageCount - start)).Select(i => (long)i).ToList();
                using var blockScope = NewDisposeScope();
                var image = pairs.Images(rows);
                var output = model.Forward(null, image);
                var mask = ImageEmbeddings.MaskWithGlobalToken(image.RegionMask).to_type(ScalarType.Int64);
                var pad = imageLength - (int)mask.shape[1];
                imageParts.Add(nn.functional.pad(output.ImageSequence!, [0, 0, 0, pad]).MoveToOuterDisposeScope());
                imageMaskParts.Add(nn.functional.pad(mask, [0, pad]).MoveToOuterDisposeScope());
                imageVectorParts.Add(nn.functional.normalize(output.PooledImage!, dim: 1).to(ScalarType.Float32).MoveToOuterDisposeScope());
            }
            Tensor Kept(List<Tensor> parts) => cat(parts, 0).DetachFromDisposeScope();
            return new UnimodalSequences(pairs, Kept(textParts), Kept(textMaskParts), Kept(imageParts), Kept(imageMaskParts), Kept(textVectorParts), Kept(imageVectorParts));
        }
        finally
        {
            if (training) model.train();
        }
    }

    /// <summary>The late interaction's score [P] of each pair (captions[k], images[k]), padded only as far as the pairs need.</summary>
    public Tensor Scores(InterBertModel model, IReadOnlyList<long> captions, IReadOnlyList<long> images)
    {
        var textLength = captions.Max(c => pairs.CaptionLength((int)c));
        var imageLength = images.Max(i => Math.Max(1, pairs.RegionCount((int)i))) + 1;
        var c = tensor(captions.ToArray());
        var i = tensor(images.ToArray());
        return model.LateScore(texts.index_select(0, c).narrow(1, 0, textLength), textMasks.index_select(0, c).narrow(1, 0, textLength),
            this.images.index_select(0, i).narrow(1, 0, imageLength), imageMasks.index_select(0, i).narrow(1, 0, imageLength));
    }

    /// <summary>The cosine of each pair's search vectors times the contrastive scale [P], as the evaluation's score + cosine adds it.</summary>
    public Tensor ScaledCosines(InterBertModel model, IReadOnlyList<long> captions, IReadOnlyList<long> images)
    {
        var cosines = (textVectors.index_select(0, tensor(captions.ToArray())) * imageVectors.index_select(0, tensor(images.ToArray()))).sum(1);
        return cosines * ContrastiveLoss.Scale(model.LogitScale).detach().to(ScalarType.Float32);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var t in new[] { texts, textMasks, images, imageMasks, textVectors, imageVectors }) t.Dispose();
    }
}
