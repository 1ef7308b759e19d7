using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>A padded batch of token ids: <c>InputIds</c> and <c>AttentionMask</c> [B, T] (int64, 1 for real tokens); token types default to 0.</summary>
public sealed record TextBatch(Tensor InputIds, Tensor AttentionMask, Tensor? TokenTypeIds = null);
