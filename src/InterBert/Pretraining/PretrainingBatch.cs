using InterBert.Modeling;
using static TorchSharp.torch;

namespace InterBert.Pretraining;

/// <summary>
/// One batch for the three pretraining tasks: the corrupted inputs, segment labels [B, T] (-100: no target),
/// which regions were masked [B, R], their class distributions [B, R, C] or original features [B, R, F], and
/// the matching labels [B] (<see cref="InterBertModel.MatchedIndex"/>, 0: the caption belongs to the image; 1: it does not); with the contrastive loss on, the clean captions and
/// their distinct images.
/// </summary>
public sealed record PretrainingBatch(
    TextBatch Text, Tensor SegmentLabels, ImageBatch Image, Tensor RegionMasked, Tensor? RegionClassTargets, Tensor? RegionFeatureTargets, Tensor MatchLabels,
    ContrastiveBatch? Contrastive = null)
{
    /// <summary>Number of pairs.</summary>
    public long Size => MatchLabels.shape[0];
}
