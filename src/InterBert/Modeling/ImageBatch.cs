using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>
/// A padded batch of regions: <c>Features</c> [B, R, F], <c>Locations</c> [B, R, 5] as
/// (x1/W, y1/H, x2/W, y2/H, area/(W·H)), <c>RegionMask</c> [B, R] (1 for real regions).
/// The model prepends its own global token, so outputs have R + 1 image positions.
/// </summary>
public sealed record ImageBatch(Tensor Features, Tensor Locations, Tensor RegionMask)
{
    /// <summary>
    /// Each region's class distribution [B, R, C] (zeros for padding and regions without one), when the feature store
    /// has them: what masked region modeling predicts, and what a model with <see cref="InterBertConfig.RegionJudgeWeight"/>
    /// scores a caption against. Null otherwise.
    /// </summary>
    public Tensor? Classes { get; init; }
}
