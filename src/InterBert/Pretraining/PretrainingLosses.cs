using InterBert.Modeling;
using static TorchSharp.torch;

namespace InterBert.Pretraining;

/// <summary>The three losses of one batch, their weighted sum, and the counts behind accuracies.</summary>
public sealed record PretrainingLosses(Tensor Total, Tensor Segment, Tensor Region, Tensor Matching, long SegmentTargets, long SegmentCorrect, long MatchingCorrect, long Pairs)
{
    /// <summary>The contrastive loss (zero when it is off).</summary>
    public Tensor Contrastive { get; init; } = zeros(1).sum();

    /// <summary>Runs the model on a batch and computes MSM (cross-entropy over masked tokens), MRM (KL divergence to the
    /// masked regions' class distributions, or MSE to their features), ITM (2-way cross-entropy) and, when the batch
    /// carries its inputs, the image-text contrastive loss.</summary>
    public static PretrainingLosses Compute(InterBertModel model, PretrainingBatch batch, PretrainingTaskOptions options) =>
        Compute(model, batch, options, LossDenominators.Of(batch));

    /// <summary>The same with each loss a sum divided by <paramref name="denominators"/> (global counts in data-parallel training).</summary>
    public static PretrainingLosses Compute(InterBertModel model, PretrainingBatch batch, PretrainingTaskOptions options, LossDenominators denominators) =>
        Compute(model, batch, options, denominators, null);

    /// <summary>
    /// The same, with the contrastive loss (the mean over the batch's captions) already computed by the caller, from
    /// the pass whose similarities drew the wrong captions; null computes it from the batch's inputs as usual.
    /// </summary>
    public static PretrainingLosses Compute(InterBertModel model, PretrainingBatch batch, PretrainingTaskOptions options, LossDenominators denominators, Tensor? contrastiveMean)
    {
        var output = model.Forward(batch.Text, batch.Image);
        var hidden = output.TextSequence!;
        var h = hidden.shape[2];

        var labels = batch.SegmentLabels.view(-1);
        var textPositions = labels.ne(SegmentMasker.Ignore).nonzero().squeeze(1);
        Tensor segment;
        long segmentTargets = textPositions.shape[0], segmentCorrect = 0;
        if (segmentTargets > 0)
        {
            var logits = model.SegmentLogits(hidden.reshape(-1, h).index_select(0, textPositions));
            var targets = labels.index_select(0, textPositions);
            segment = nn.functional.cross_entropy(logits, targets, reduction: nn.Reduction.Sum) * (denominators.Ranks / Math.Max(denominators.SegmentTargets, 1));
            using (no_grad()) segmentCorrect = logits.argmax(1).eq(targets).sum().item<long>();
        }
        else
        {
            segment = zeros(1).sum();
        }

        var regions = batch.RegionMasked.shape[1];
        var imageHidden = output.ImageSequence!.narrow(1, 1, regions).reshape(-1, h); // position 0 is the global token
        var regionPositions = batch.RegionMasked.view(-1).nonzero().squeeze(1);
        Tensor region;
        if (regionPositions.shape[0] > 0)
        {
            var selected = imageHidden.index_select(0, regionPositions);
            if (batch.RegionClassTargets is { } classes)
            {
                var target = classes.view(-1, classes.shape[2]).index_select(0, regionPositions);
                var logProbabilities = nn.functional.log_softmax(model.RegionLogits(selected), -1);
                // KL(target ‖ prediction), averaged over the masked regions.
                region = nn.functional.kl_div(logProbabilities, target, reduction: nn.Reduction.Sum, log_target: false) * (denominators.Ranks / Math.Max(denominators.RegionTargets, 1));
            }
            else
            {
                var features = batch.RegionFeatureTargets!;
                var target = features.view(-1, features.shape[2]).index_select(0, regionPositions);
                region = nn.functional.mse_loss(model.RegressFeatures(selected), target, reduction: nn.Reduction.Sum) * (denominators.Ranks / (Math.Max(denominators.RegionTargets, 1) * target.shape[1]));
            }
        }
        else
        {
            region = zeros(1).sum();
        }

        var matchLogits = model.MatchingLogits(output);
        var matching = nn.functional.cross_entropy(matchLogits, batch.MatchLabels, reduction: nn.Reduction.Sum) * (denominators.Ranks / denominators.Pairs);
        long matchingCorrect;
        using (no_grad()) matchingCorrect = matchLogits.argmax(1).eq(batch.MatchLabels).sum().item<long>();

        var total = segment * options.SegmentWeight + region * options.RegionWeight + matching * options.MatchingWeight;
        var contrastive = zeros(1).sum();
        if (options.ContrastiveWeight > 0 && (contrastiveMean is not null || batch.Contrastive is not null))
        {
            // In-batch negatives are each rank's own; the mean over a rank's pairs is weighted by its share of the step.
            var inputs = batch.Contrastive;
            contrastive = (contrastiveMean ?? ContrastiveLoss.Compute(model, inputs!.Text, inputs.Images, inputs.ImageOfText)) * (denominators.Ranks * batch.Size / denominators.Pairs);
            total = total + contrastive * options.ContrastiveWeight;
        }
        return new PretrainingLosses(total, segment, region, matching, segmentTargets, segmentCorrect, matchingCorrect, batch.Size) { Contrastive = contrastive };
    }
}
