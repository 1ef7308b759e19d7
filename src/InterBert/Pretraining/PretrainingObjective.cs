using InterBert.Data;
using InterBert.Distributed;
using InterBert.Training;

namespace InterBert.Pretraining;

/// <summary>
/// Pretraining as a <see cref="ITrainingObjective"/>: every step's batches carry MSM, MRM and ITM targets (and the
/// contrastive inputs when that loss is on). Data order, masks and negatives are functions of seed, step, micro-batch
/// and position in the global batch, so the objective has no state of its own to checkpoint.
/// </summary>
public sealed class PretrainingObjective : ITrainingObjective
{
    private readonly PretrainingSetup setup;
    private readonly PretrainingBatchBuilder builder;
    private readonly PretrainingBatchBuilder? validationBuilder;
    private readonly EpochCursor order;

    /// <summary>Prepares the batch builders of a run.</summary>
    public PretrainingObjective(PretrainingSetup setup)
    {
        this.setup = setup;
        var model = setup.Model;
        // MRM predicts the detector's class distributions (KL, as the paper) when the store has them. A model with a
        // regression head regresses features instead when some images lack them (given boxes carry no classes); a model
        // without one leaves the regions of those few images unmasked (a detector that found nothing in a photo).
        var withClasses = setup.Store.Manifest.ClassCount == 0 ? 0 : setup.Store.Entries.Count(e => e.HasClasses);
        var regress = withClasses == 0 || (withClasses < setup.Store.Count && model.Heads.FeatureRegression is not null);
        if (regress && model.Heads.FeatureRegression is null)
            throw new InterBertException($"{setup.Store.Folder}: the store has no class distributions, so masked region modeling regresses features, but the model has no regression head (set predict_feature in its configuration, or use a store with class distributions)");
        var segmentMasker = new SegmentMasker(setup.Tokenizer, setup.Tasks.SegmentMasking);
        var regionMasker = (setup.Tasks.ReferenceRegionMasking ? RegionMasker.Reference : new RegionMasker()) with { WholeImageRegion = setup.Tasks.WholeImageRegion };
        builder = new PretrainingBatchBuilder(setup.Train, setup.Store, segmentMasker, regionMasker, setup.HardNegatives, setup.Tasks, setup.Tokenizer.PadId, regress);
        validationBuilder = setup.Validation is null ? null
            : new PretrainingBatchBuilder(setup.Validation, setup.Store, segmentMasker, regionMasker, null, setup.Tasks with { HardNegativeRate = 0 }, setup.Tokenizer.PadId, regress);
        order = new EpochCursor(setup.Train.Captions.Count, setup.Training.Seed);
        ValueNames = setup.Tasks.ContrastiveWeight > 0 ? ["loss", "msm", "mrm", "itm", "itc"] : ["loss", "msm", "mrm", "itm"];
    }

    /// <inheritdoc/>
    public string Fingerprint => $"tasks={setup.Tasks}";

    /// <inheritdoc/>
    public IReadOnlyList<string> ValueNames { get; }

    /// <inheritdoc/>
    public void BeforeStep(int step) { }

    /// <inheritdoc/>
    public ObjectiveLoss Loss(int step, int micro, ProcessGroup processes)
    {
        var training = setup.Training;
        var ranks = processes.Size;
        // The step's global batch is split into equal shares, one per rank; each example's randomness depends only on
        // (seed, step, micro-batch, position in the global batch).
        var first = StepBatch.FirstOfRank(training, processes);
        var indices = StepBatch.Share(order, step, micro, training, processes);
        var randoms = indices.Select((_, j) => new Random(PretrainingRun.ExampleSeed(training.Seed, step, micro, first + j))).ToList();
        var batch = builder.Build(indices, randoms);
        var local = LossDenominators.Of(batch);
        var counts = new[] { local.SegmentTargets, local.RegionTargets, local.Pairs };
        processes.AllReduceSum(counts);
        PretrainingLosses losses;
        // One autocast region per micro-batch: bf16 weights are cast once for its forward passes and heads; backward runs outside it.
        using (setup.Model.Autocast()) losses = PretrainingLosses.Compute(setup.Model, batch, setup.Tasks, new LossDenominators(counts[0], counts[1], counts[2], ranks));
        // Each rank's losses are its share of the global means times the rank count: their mean over ranks is the step's.
        double[] values = [losses.Total.item<float>(), losses.Segment.item<float>(), losses.Region.item<float>(), losses.Matching.item<float>(), losses.Contrastive.item<float>()];
        return new ObjectiveLoss(losses.Total, values[..ValueNames.Count], batch.Size);
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, double>? Validate(int step, bool last)
    {
        if (validationBuilder is null || !(last || (setup.Training.EvalEvery > 0 && step % setup.Training.EvalEvery == 0))) return null;
        return PretrainingRun.Validate(setup.Model, validationBuilder, setup.Validation!, setup.Training, setup.Tasks);
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, string> CheckpointMetadata() => CheckpointManager.Metadata(setup.Tokenizer.LowerCase, setup.Model.Precision, setup.PretrainedKeys);

    /// <inheritdoc/>
    public void SaveState(string checkpointFolder) { }

    /// <inheritdoc/>
    public void RestoreState(string checkpointFolder) { }
}
