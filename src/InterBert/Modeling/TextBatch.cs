using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>
/// A padded batch of token ids: <c>InputIds</c> and <c>AttentionMask</c> [B, T] (int64, 1 for real tokens); token types
/// default to 0. <c>RegionLinks</c> [B, T] optionally ties a token to a region (its index among the image's regions, -1
/// for none): in the joint mode the region's embedding is added to the token's (VCR object references).
/// </summary>
public sealed record TextBatch(Tensor InputIds, Tensor AttentionMask, Tensor? TokenTypeIds = null, Tensor? RegionLinks = null)
{
    /// <summary>One text's token ids <paramref name="copies"/> times, unpadded (to pair one query with many images).</summary>
    public static TextBatch Repeated(int[] tokens, int copies)
    {
        var ids = tensor(tokens.Select(t => (long)t).ToArray()).unsqueeze(0).expand(copies, -1).contiguous();
        return new TextBatch(ids, ones_like(ids));
    }
}
