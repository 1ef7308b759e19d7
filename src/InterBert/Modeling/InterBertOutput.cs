using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>
/// What a forward pass produces. <c>TextSequence</c> [B, T, H] and <c>ImageSequence</c> [B, R + 1, H]
/// (position 0 is the global image token); <c>PooledText</c> and <c>PooledImage</c> [B, bi_hidden_size].
/// A part is null when its modality was not given.
/// </summary>
public sealed record InterBertOutput(Tensor? TextSequence, Tensor? ImageSequence, Tensor? PooledText, Tensor? PooledImage);
