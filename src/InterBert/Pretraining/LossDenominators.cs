namespace InterBert.Pretraining;

/// <summary>
/// What each loss is divided by: the masked tokens, masked regions and pairs of the whole step across every rank, and
/// the number of ranks the gradients are later averaged over. With one process these are the batch's own counts, and
/// the losses are plain means; with N ranks each rank's sum over its share, divided by the global count and multiplied
/// by N, averages (over ranks) to exactly the mean over the global batch.
/// </summary>
public sealed record LossDenominators(double SegmentTargets, double RegionTargets, double Pairs, int Ranks)
{
    /// <summary>The denominators of a batch used alone.</summary>
    public static LossDenominators Of(PretrainingBatch batch) => new(
        batch.SegmentLabels.ne(SegmentMasker.Ignore).sum().item<long>(), batch.RegionMasked.sum().item<long>(), batch.Size, 1);
}
