using InterBert.Data;
using InterBert.Modeling;
using InterBert.Training;
using InterBert.Weights;
using static TorchSharp.torch;

namespace InterBert.Pretraining;

/// <summary>
/// Pretraining: MSM + MRM + ITM (+ contrastive) on every step (<see cref="PretrainingObjective"/>) through the one
/// <see cref="Trainer"/> (exact resume, accumulation, data parallelism), then the weights, their vocabulary and the plots.
/// </summary>
public static class PretrainingRun
{
    /// <summary>Progress after a step.</summary>
    public sealed record Progress(int Step, int Steps, double Loss, double Segment, double Region, double Matching, double LearningRate, double SamplesPerSecond);

    /// <summary>What a run did.</summary>
    public sealed record Result(int Step, int SkippedNonFinite, bool Cancelled, IReadOnlyDictionary<string, double> Validation, string WeightsPath);

    /// <summary>Runs (or resumes) pretraining.</summary>
    public static Result Run(PretrainingSetup setup, IProgress<Progress>? progress = null, CancellationToken cancel = default)
    {
        var model = setup.Model;
        var run = setup.RunFolder;
        var objective = new PretrainingObjective(setup);
        var trainingRun = new TrainingRun(run, model, model, setup.Training, setup.PretrainedKeys, setup.Resume, setup.Group)
        {
            Description = new Dictionary<string, object> { ["tasks"] = setup.Tasks.ToString(), ["train_captions"] = setup.Train.Captions.Count },
        };
        var result = Trainer.Run(trainingRun, objective, progress is null ? null : new SynchronousProgress<Trainer.Progress>(p =>
            progress.Report(new Progress(p.Step, p.Steps, p.Values[0], p.Values[1], p.Values[2], p.Values[3], p.LearningRate, p.SamplesPerSecond))), cancel);
        var weights = Path.Combine(run, "model.safetensors");
        if (!setup.Processes.IsRoot) return new Result(result.Step, result.SkippedNonFinite, result.Cancelled, result.Validation, weights);

        var metadata = ModelVocabulary.WriteBeside(weights, setup.Vocabulary, setup.Tokenizer.LowerCase);
        metadata["pretrain_step"] = result.Step.ToString();
        metadata[PrecisionNames.MetadataKey] = model.Precision.Name();
        if (setup.Tasks.ContrastiveWeight > 0) metadata[ContrastiveLoss.WeightMetadataKey] = setup.Tasks.ContrastiveWeight.ToString(System.Globalization.CultureInfo.InvariantCulture);
        PretrainedKeys.Record(metadata, setup.PretrainedKeys);
        ModelCheckpoint.Save(model, weights, metadata);
        ModelFolder.Complete(run, weights, ImagePreprocessing.Of(setup.Store.Manifest, fingerprintDetector: true));
        return new Result(result.Step, result.SkippedNonFinite, result.Cancelled, result.Validation, weights);
    }

    /// <summary>Per-task losses and accuracies on held-out pairs (fixed masks and negatives, no dropout).</summary>
    public static Dictionary<string, double> Validate(InterBertModel model, PretrainingBatchBuilder builder, CaptionCorpus corpus, TrainingOptions training, PretrainingTaskOptions tasks)
    {
        model.eval();
        var random = new Random(unchecked(training.Seed + 7_777_777));
        var count = Math.Min(training.EvalPairs, corpus.Captions.Count);
        double loss = 0, segment = 0, region = 0, matching = 0;
        long targets = 0, segmentCorrect = 0, matchingCorrect = 0, pairs = 0;
        var batches = 0;
        using var noGrad = no_grad();
        using var autocast = model.Autocast();
        for (var start = 0; start < count; start += training.BatchSize)
        {
            using var scope = NewDisposeScope();
            var indices = Enumerable.Range(start, Math.Min(training.BatchSize, count - start)).ToList();
            var losses = PretrainingLosses.Compute(model, builder.Build(indices, random), tasks);
            loss += losses.Total.item<float>();
            segment += losses.Segment.item<float>();
            region += losses.Region.item<float>();
            matching += losses.Matching.item<float>();
            targets += losses.SegmentTargets;
            segmentCorrect += losses.SegmentCorrect;
            matchingCorrect += losses.MatchingCorrect;
            pairs += losses.Pairs;
            batches++;
        }
        batches = Math.Max(batches, 1);
        return new Dictionary<string, double>
        {
            ["val_loss"] = loss / batches, ["val_msm"] = segment / batches, ["val_mrm"] = region / batches, ["val_itm"] = matching / batches,
            ["val_msm_accuracy"] = targets == 0 ? 0 : (double)segmentCorrect / targets, ["val_itm_accuracy"] = pairs == 0 ? 0 : (double)matchingCorrect / pairs,
        };
    }

    /// <summary>The seed of one example's random source: a fixed mix of seed, step, micro-batch and position.</summary>
    public static int ExampleSeed(int seed, int step, int micro, int position) =>
        (int)((unchecked((uint)seed * 1_000_003u + (uint)step * 2_654_435_761u + (uint)micro * 40_503u) ^ unchecked((uint)position * 2_246_822_519u)) & int.MaxValue);
}
