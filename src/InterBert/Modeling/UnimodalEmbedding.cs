using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>
/// The unimodal vectors a search index holds and queries with: the pooled output of the text-only forward pass
/// (for a query) and of the image-only pass (for an image), L2-normalised so that a dot product is a cosine. They
/// need the backbone only: no task head takes part.
/// </summary>
public static class UnimodalEmbedding
{
    /// <summary>Normalised pooled text vectors [B, D] of a text batch (no gradient).</summary>
    public static Tensor Text(InterBertBackbone model, TextBatch text)
    {
        using var noGrad = no_grad();
        return nn.functional.normalize(model.Forward(text, null).PooledText!, dim: 1);
    }

    /// <summary>Normalised pooled image vectors [B, D] of an image batch (no gradient).</summary>
    public static Tensor Image(InterBertBackbone model, ImageBatch image)
    {
        using var noGrad = no_grad();
        return nn.functional.normalize(model.Forward(null, image).PooledImage!, dim: 1);
    }
}
