using InterBert.Data;
using InterBert.Distributed;
using InterBert.Modeling;
using InterBert.Tasks;
using InterBert.Training;
using static TorchSharp.torch;

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
        var regress = RegressesFeatures(setup.Tasks, setup.Store, model.Heads.FeatureRegression is not null);
        var segmentMasker = new SegmentMasker(setup.Tokenizer, setup.Tasks.SegmentMasking);
        var regionMasker = RegionMaskerFor(setup.Tasks);
        builder = new PretrainingBatchBuilder(setup.Train, setup.Store, segmentMasker, regionMasker, setup.HardNegatives, setup.Tasks, setup.Tokenizer.PadId, regress);
        validationBuilder = setup.Validation is null ? null
            : new PretrainingBatchBuilder(setup.Validation, setup.Store, segmentMasker, regionMasker, null, setup.Tasks with { HardNegativeRate = 0 }, setup.Tokenizer.PadId, regress);
        order = new EpochCursor(setup.Train.Captions.Count, setup.Training.Seed);
        if (setup.Tasks.SimilarityNegatives && setup.Tasks.ContrastiveWeight <= 0)
            throw new InterBertException("wrong captions drawn by similarity need the contrastive loss's vectors: give it a weight above 0");
        if (setup.Tasks.ContrastiveBatchSize > 0 && setup.Tasks.ContrastiveWeight <= 0)
            throw new InterBertException("a contrastive batch size needs the contrastive loss: give it a weight above 0");
        ValueNames = setup.Tasks.ContrastiveWeight > 0 ? ["loss", "msm", "mrm", "itm", "itc"] : ["loss", "msm", "mrm", "itm"];
    }

    /// <summary>The region masking of a run's tasks: the paper's or the reference code's, with the tasks' whole-image and grouping settings.</summary>
    public static RegionMasker RegionMaskerFor(PretrainingTaskOptions tasks) =>
        (tasks.ReferenceRegionMasking ? RegionMasker.Reference : new RegionMasker()) with { WholeImageRegion = tasks.WholeImageRegion, Grouping = tasks.RegionGrouping };

    /// <summary>
    /// Whether masked region modeling regresses features (MSE) rather than predicting the detector's class distributions
    /// (KL, as the paper): when the tasks ask for it, when the store has no distributions, or when some images lack
    /// them and the model has a regression head (a model without one leaves those few images' regions unmasked).
    /// Throws when regression is needed and the model has no regression head.
    /// </summary>
    public static bool RegressesFeatures(PretrainingTaskOptions tasks, FeatureStore store, bool modelHasRegressionHead)
    {
        var withClasses = store.Manifest.ClassCount == 0 ? 0 : store.Entries.Count(e => e.HasClasses);
        if (tasks.RegressRegionFeatures && !modelHasRegressionHead)
            throw new InterBertException("masked region modeling as feature regression needs a model with a regression head (predict_feature in its configuration)");
        var regress = tasks.RegressRegionFeatures || withClasses == 0 || (withClasses < store.Count && modelHasRegressionHead);
        if (regress && !modelHasRegressionHead)
            throw new InterBertException($"{store.Folder}: the store has no class distributions, so masked region modeling regresses features, but the model has no regression head (set predict_feature in its configuration, or use a store with class distributions)");
        return regress;
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
        PretrainingLosses losses;
        // One autocast region per micro-batch: bf16 weights are cast once for its forward passes and heads; backward runs outside it.
        using (setup.Model.Autocast())
        {
            Tensor? contrastiveMean = null;
            int[]? wrongCaptions = null;
            var widened = setup.Tasks.ContrastiveWeight > 0 && setup.Tasks.ContrastiveBatchSize > indices.Count;
            if (setup.Tasks.SimilarityNegatives || widened)
            {
                // The contrastive pass first, over the examples and (with a larger contrastive batch) the other captions
                // drawn for the step; its similarities draw the wrong captions (within this rank's share), and its loss is the step's.
                var captions = ContrastiveBatch.Captions(indices, setup.Tasks.ContrastiveBatchSize, setup.Train.Captions.Count, ContrastiveRandom(training.Seed, step, micro, first));
                var inputs = builder.ContrastiveInputs(captions);
                var (textVectors, imageVectors) = ContrastiveLoss.Vectors(setup.Model, inputs.Text, inputs.Images);
                contrastiveMean = ContrastiveLoss.FromVectors(textVectors, imageVectors, inputs.ImageOfText, setup.Model.LogitScale);
                if (setup.Tasks.SimilarityNegatives)
                {
                    var (similarity, scale) = SimilarityNegatives.Cosines(textVectors, imageVectors, setup.Model.LogitScale);
                    // Its own source, so that masks and the other draws stay those of a run without this option. The
                    // examples come first among the contrastive captions: theirs are the draws kept.
                    wrongCaptions = SimilarWrongCaptions(captions, inputs.ImageOfText, similarity, scale, new Random(PretrainingRun.ExampleSeed(training.Seed ^ 0x5171, step, micro, first)))[..indices.Count];
                }
            }
            var batch = builder.Build(indices, randoms, wrongCaptions, includeContrastive: contrastiveMean is null);
            var local = LossDenominators.Of(batch);
            var counts = new[] { local.SegmentTargets, local.RegionTargets, local.Pairs };
            processes.AllReduceSum(counts);
            losses = PretrainingLosses.Compute(setup.Model, batch, setup.Tasks, new LossDenominators(counts[0], counts[1], counts[2], ranks), contrastiveMean);
        }
        // Each rank's losses are its share of the global means times the rank count: their mean over ranks is the step's.
        double[] values = [losses.Total.item<float>(), losses.Segment.item<float>(), losses.Region.item<float>(), losses.Matching.item<float>(), losses.Contrastive.item<float>()];
        return new ObjectiveLoss(losses.Total, values[..ValueNames.Count], indices.Count);
    }

    /// <summary>
    /// The source of a step's other contrastive captions (<see cref="ContrastiveBatch.Captions"/>): a function of seed, step,
    /// micro-batch and the rank's first position, and its own, so that masks and negatives stay those of a run without them.
    /// </summary>
    public static Random ContrastiveRandom(int seed, int step, int micro, int first) => new(PretrainingRun.ExampleSeed(seed ^ 0x0C0B, step, micro, first));

    /// <summary>
    /// Each example's wrong caption drawn by similarity: a caption of the batch (by position in
    /// <paramref name="captionIndices"/>, rows of <paramref name="similarity"/>) of another image, drawn for the example's
    /// image (<paramref name="imageOfText"/>, columns) in proportion to exp(scale x cosine); -1 when the batch has none.
    /// Examples of one image share its draw.
    /// </summary>
    public static int[] SimilarWrongCaptions(IReadOnlyList<int> captionIndices, IReadOnlyList<int> imageOfText, float[,] similarity, double scale, Random random)
    {
        var drawn = SimilarityNegatives.CaptionsForImages(similarity, imageOfText, scale, random);
        return imageOfText.Select(image => drawn[image] >= 0 ? captionIndices[drawn[image]] : -1).ToArray();
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
