using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>
/// A padded batch of token ids: <c>InputIds</c> and <c>AttentionMask</c> [B, T] (int64, 1 for real tokens); token types
/// default to 0. <c>RegionLinks</c> [B, T] optionally ties a token to a region (its index among the image's regions, -1
/// for none): in the joint mode the region's embedding is added to the token's (VCR object references).
/// </summary>
public sealed record TextBatch(Tensor InputIds, Tensor AttentionMask, Tensor? TokenTypeIds = null, Tensor? RegionLinks = null);
