using System.Diagnostics;
using System.Text.Json;
using InterBert.Data;
using InterBert.Distributed;
using InterBert.Modeling;
using InterBert.Training;
using InterBert.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace InterBert.Pretraining;

/// <summary>
/// The pretraining loop: MSM + MRM + ITM on every step, AdamW with parameter groups, warmup and decay, accumulation,
/// clipping, non-finite steps skipped and counted, checkpoints that resume exactly (data order, masks and negatives are
/// functions of seed and step; the torch generator is restored), metrics.jsonl, plots and held-out validation.
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
        var training = setup.Training;
        var model = setup.Model;
        var run = setup.RunFolder;
        var processes = setup.Processes;
        var root = processes.IsRoot;
        var ranks = processes.Size;
        Directory.CreateDirectory(run);
        var groups = ParameterGroups.Create(model, training, setup.PretrainedKeys);
        var parameters = model.parameters().ToList();
        var checkpoints = new CheckpointManager(run, training.KeepCheckpoints);
        var metrics = new MetricsLog(Path.Combine(run, "metrics.jsonl"));
        var fingerprint = $"seed={training.Seed};batch={training.BatchSize}{(ranks > 1 ? $"x{ranks} ranks" : "")};accumulate={training.GradientAccumulation};steps={training.Steps};lr={training.LearningRate};tasks={setup.Tasks}";
        var state = new TrainerState { Fingerprint = fingerprint };
        if (setup.Resume && checkpoints.Completed().Count > 0)
        {
            state = checkpoints.RestoreLatest(model, groups.Optimizer)!;
            if (state.Fingerprint != fingerprint)
                throw new InterBertException($"{run}: the run was started with other options ({state.Fingerprint}); resume with the same options or use another --out");
            if (root) metrics.TruncateAfter(state.Step);
        }
        else
        {
            if (checkpoints.Completed().Count > 0)
                throw new InterBertException($"{run}: already holds checkpoints; pass --resume to continue it, or choose another --out");
            if (root && File.Exists(metrics.Path)) File.Delete(metrics.Path);
        }
        // Every rank starts from rank 0's weights (a resumed run: every rank restored the same checkpoint).
        DataParallel.BroadcastParameters(processes, parameters);
        if (root)
        {
            AtomicFile.WriteAllText(Path.Combine(run, "config.json"), model.Config.ToJson());
            AtomicFile.WriteAllText(Path.Combine(run, "run.json"), JsonSerializer.Serialize(new { training, ranks, tasks = setup.Tasks.ToString(), train_captions = setup.Train.Captions.Count, precision = model.Precision.Name() }, new JsonSerializerOptions { WriteIndented = true }));
        }

        // MRM predicts the detector's class distributions (KL, as the paper) when the store has them. A model with a
        // regression head regresses features instead when some images lack them (given boxes carry no classes); a model
        // without one leaves the regions of those few images unmasked (a detector that found nothing in a photo).
        var withClasses = setup.Store.Manifest.ClassCount == 0 ? 0 : setup.Store.Entries.Count(e => e.HasClasses);
        var regress = withClasses == 0 || (withClasses < setup.Store.Count && model.Heads.FeatureRegression is not null);
        if (regress && model.Heads.FeatureRegression is null)
            throw new InterBertException($"{setup.Store.Folder}: the store has no class distributions, so masked region modeling regresses features, but the model has no regression head (set predict_feature in its configuration, or use a store with class distributions)");
        var segmentMasker = new SegmentMasker(setup.Tokenizer, setup.Tasks.SegmentMasking);
        var regionMasker = setup.Tasks.ReferenceRegionMasking ? RegionMasker.Reference : new RegionMasker();
        var builder = new PretrainingBatchBuilder(setup.Train, setup.Store, segmentMasker, regionMasker, setup.HardNegatives, setup.Tasks, setup.Tokenizer.PadId, regress);
        var validationBuilder = setup.Validation is null ? null
            : new PretrainingBatchBuilder(setup.Validation, setup.Store, segmentMasker, regionMasker, null, setup.Tasks with { HardNegativeRate = 0 }, setup.Tokenizer.PadId, regress);

        var order = new EpochCursor(setup.Train.Captions.Count, training.Seed);
        IReadOnlyDictionary<string, double> validation = new Dictionary<string, double>();
        var watch = Stopwatch.StartNew();
        var samplesSinceLog = 0L;
        var lastLog = watch.Elapsed;
        double loss = 0, segment = 0, region = 0, matching = 0, contrastive = 0;
        var logged = 0;
        var cancelled = false;
        model.train();
        while (state.Step < training.Steps)
        {
            // Ranks stop together: a cancellation on any rank (launchers forward Ctrl-C to all) stops every rank at the same step.
            var stop = new[] { cancel.IsCancellationRequested ? 1.0 : 0.0 };
            processes.AllReduceSum(stop);
            if (stop[0] > 0)
            {
                cancelled = true;
                break;
            }
            var step = state.Step;
            var learningRate = training.LearningRate * LearningRateSchedule.Factor(step, training.Steps, training.WarmupFraction);
            groups.SetLearningRate(learningRate);
            var finite = true;
            using (var scope = NewDisposeScope())
            {
                groups.Optimizer.zero_grad();
                for (var micro = 0; micro < training.GradientAccumulation && finite; micro++)
                {
                    // The step's global batch is split into equal shares, one per rank; each example's randomness
                    // depends only on (seed, step, micro-batch, position in the global batch).
                    var global = training.BatchSize * ranks;
                    var first = processes.Rank * training.BatchSize;
                    var indices = order.Take((long)(step * training.GradientAccumulation + micro) * global, global).Skip(first).Take(training.BatchSize).ToList();
                    var randoms = indices.Select((_, j) => new Random(ExampleSeed(training.Seed, step, micro, first + j))).ToList();
                    var batch = builder.Build(indices, randoms);
                    var local = LossDenominators.Of(batch);
                    var counts = new[] { local.SegmentTargets, local.RegionTargets, local.Pairs };
                    processes.AllReduceSum(counts);
                    PretrainingLosses losses;
                    // One autocast region per micro-batch: bf16 weights are cast once for its forward passes and heads; backward runs outside it.
                    using (model.Autocast()) losses = PretrainingLosses.Compute(model, batch, setup.Tasks, new LossDenominators(counts[0], counts[1], counts[2], ranks));
                    // Each rank's losses are its share of the global means times the rank count: their sum over ranks / ranks is the mean.
                    var values = new[] { (double)losses.Total.item<float>(), losses.Segment.item<float>(), losses.Region.item<float>(), losses.Matching.item<float>(), losses.Contrastive.item<float>() };
                    processes.AllReduceSum(values);
                    for (var k = 0; k < values.Length; k++) values[k] /= ranks;
                    if (!double.IsFinite(values[0]))
                    {
                        finite = false;
                        break;
                    }
                    (losses.Total / training.GradientAccumulation).backward();
                    loss += values[0] / training.GradientAccumulation;
                    segment += values[1] / training.GradientAccumulation;
                    region += values[2] / training.GradientAccumulation;
                    matching += values[3] / training.GradientAccumulation;
                    contrastive += values[4] / training.GradientAccumulation;
                    samplesSinceLog += batch.Size * ranks;
                }
                if (finite) DataParallel.AverageGradients(processes, parameters);
                if (finite)
                {
                    groups.ClipAndUpdate();
                    state = state with { NonFiniteInARow = 0 };
                    logged++;
                }
                else
                {
                    groups.Optimizer.zero_grad();
                    state = state with { SkippedNonFinite = state.SkippedNonFinite + 1, NonFiniteInARow = state.NonFiniteInARow + 1 };
                }
            }
            state = state with { Step = step + 1 };
            if (state.NonFiniteInARow >= training.MaxNonFiniteInARow)
            {
                var last = checkpoints.Completed().LastOrDefault();
                throw new InterBertException($"{run}: the loss was not finite for {state.NonFiniteInARow} steps in a row (up to step {state.Step}); stopped. " +
                    (last.Path is null ? "No checkpoint was written yet." : $"The last good checkpoint is {last.Path}; lower the learning rate and resume."));
            }

            var done = state.Step;
            if (done % training.LogEvery == 0 || done == training.Steps)
            {
                var seconds = (watch.Elapsed - lastLog).TotalSeconds;
                var perSecond = samplesSinceLog / Math.Max(seconds, 1e-9);
                var n = Math.Max(logged, 1);
                var row = new Dictionary<string, object>
                {
                    ["step"] = done, ["loss"] = Round(loss / n), ["msm"] = Round(segment / n), ["mrm"] = Round(region / n), ["itm"] = Round(matching / n),
                    ["lr"] = learningRate, ["skipped_non_finite"] = state.SkippedNonFinite, ["samples_per_second"] = Math.Round(perSecond, 1),
                    ["precision"] = model.Precision.Name(),
                };
                if (setup.Tasks.ContrastiveWeight > 0) row["itc"] = Round(contrastive / n);
                if (root) metrics.Append(row);
                progress?.Report(new Progress(done, training.Steps, loss / n, segment / n, region / n, matching / n, learningRate, perSecond));
                (loss, segment, region, matching, contrastive, logged, samplesSinceLog, lastLog) = (0, 0, 0, 0, 0, 0, 0, watch.Elapsed);
            }
            if (root && validationBuilder is not null && ((training.EvalEvery > 0 && done % training.EvalEvery == 0) || done == training.Steps))
            {
                validation = Validate(model, validationBuilder, setup.Validation!, training, setup.Tasks);
                var row = new Dictionary<string, object> { ["step"] = done, ["split"] = "validation" };
                foreach (var (k, v) in validation) row[k] = Round(v);
                metrics.Append(row);
                model.train();
            }
            if (root && (done % training.CheckpointEvery == 0 || done == training.Steps))
                checkpoints.Save(model, groups.Optimizer, state, VocabularyMetadata(setup));
        }
        if (root && cancelled && state.Step > (checkpoints.Completed().LastOrDefault().Step))
            checkpoints.Save(model, groups.Optimizer, state, VocabularyMetadata(setup));
        var weights = Path.Combine(run, "model.safetensors");
        if (!root) return new Result(state.Step, state.SkippedNonFinite, cancelled, validation, weights);

        var metadata = ModelVocabulary.WriteBeside(weights, setup.Vocabulary, setup.Tokenizer.LowerCase);
        metadata["pretrain_step"] = state.Step.ToString();
        metadata[PrecisionNames.MetadataKey] = model.Precision.Name();
        if (setup.Tasks.ContrastiveWeight > 0) metadata[ContrastiveLoss.WeightMetadataKey] = setup.Tasks.ContrastiveWeight.ToString(System.Globalization.CultureInfo.InvariantCulture);
        PretrainedKeys.Record(metadata, setup.PretrainedKeys);
        ModelCheckpoint.Save(model, weights, metadata);
        WritePlots(run, metrics);
        return new Result(state.Step, state.SkippedNonFinite, cancelled, validation, weights);
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

    /// <summary>Loss curves (training and validation) as PNG files in <c>RUN/plots/</c>.</summary>
    public static void WritePlots(string run, MetricsLog metrics)
    {
        var rows = metrics.ReadAll();
        var plots = Directory.CreateDirectory(Path.Combine(run, "plots")).FullName;
        var trainingRows = rows.Where(r => r["split"] is null).ToList();
        LossPlot.Write(trainingRows, [("loss", "total"), ("msm", "masked segment"), ("mrm", "masked region"), ("itm", "image-text matching"), ("itc", "image-text contrastive")], "pretraining losses", Path.Combine(plots, "losses.png"));
        var validationRows = rows.Where(r => r["split"] is not null).ToList();
        if (validationRows.Count > 0)
            LossPlot.Write(validationRows, [("val_msm_accuracy", "MSM accuracy"), ("val_itm_accuracy", "ITM accuracy")], "held-out accuracy", Path.Combine(plots, "validation.png"));
    }

    /// <summary>The seed of one example's random source: a fixed mix of seed, step, micro-batch and position.</summary>
    public static int ExampleSeed(int seed, int step, int micro, int position) =>
        (int)((unchecked((uint)seed * 1_000_003u + (uint)step * 2_654_435_761u + (uint)micro * 40_503u) ^ unchecked((uint)position * 2_246_822_519u)) & int.MaxValue);

    private static Dictionary<string, string> VocabularyMetadata(PretrainingSetup setup)
    {
        var metadata = new Dictionary<string, string>
        {
            [ModelVocabulary.LowerCaseKey] = setup.Tokenizer.LowerCase ? "true" : "false", [PrecisionNames.MetadataKey] = setup.Model.Precision.Name(),
        };
        PretrainedKeys.Record(metadata, setup.PretrainedKeys);
        return metadata;
    }

    private static double Round(double value) => Math.Round(value, 6);
}
