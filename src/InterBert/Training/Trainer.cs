using System.Diagnostics;
using System.Text.Json;
using InterBert.Distributed;
using InterBert.Modeling;
using static TorchSharp.torch;

namespace InterBert.Training;

/// <summary>
/// The optimisation loop, written once for every task: AdamW with parameter groups (the pretrained ones at the
/// learning-rate multiplier), warmup then linear decay, gradient accumulation, clipping, non-finite steps skipped and
/// counted (a run stops after several in a row), data parallelism over MPI (equal shares, averaged gradients),
/// checkpoints that resume exactly (model, optimiser, generator, the task's own state), <c>metrics.jsonl</c> and
/// held-out validation. The task (<see cref="ITrainingObjective"/>) supplies batches and losses.
/// </summary>
public static class Trainer
{
    /// <summary>Progress after a logged step: the task's values in its order (<see cref="ITrainingObjective.ValueNames"/>).</summary>
    public sealed record Progress(int Step, int Steps, IReadOnlyList<double> Values, double LearningRate, double SamplesPerSecond);

    /// <summary>What a run did: the steps done, those skipped, whether it was cancelled, and the last held-out values.</summary>
    public sealed record Result(int Step, int SkippedNonFinite, bool Cancelled, IReadOnlyDictionary<string, double> Validation);

    /// <summary>
    /// Refuses, before anything is written, an existing non-empty folder that is not a run folder (recognised by its
    /// run.json, checkpoints or metrics.jsonl): a run writes config.json, model.safetensors and vocab.txt into it.
    /// </summary>
    public static void ClaimRunFolder(string folder) => OutputFolder.Claim(folder, "a run folder", "run.json", "checkpoints", "metrics.jsonl");

    /// <summary>
    /// Called on the root rank when a run reaches its last step, with its folder, metrics and loss names: where a host
    /// adds what it wants drawn (the command line adds <c>TrainingPlots</c> of InterBert.Plotting), so the trainer
    /// itself depends on no plotting library.
    /// </summary>
    public static event Action<FinishedRun>? RunFinished;

    /// <summary>Runs (or, with <see cref="TrainingRun.Resume"/>, continues) a run to its last step or a cancellation.</summary>
    public static Result Run(TrainingRun run, ITrainingObjective objective, IProgress<Progress>? progress = null, CancellationToken cancel = default)
    {
        var training = run.Options;
        var model = run.Model;
        var processes = run.Processes;
        var root = processes.IsRoot;
        var ranks = processes.Size;
        ClaimRunFolder(run.Folder);
        Directory.CreateDirectory(run.Folder);
        using var groups = ParameterGroups.Create(run.Trainable, training, run.PretrainedKeys);
        // Parameters held fixed (requires_grad off, e.g. a re-ranker trained over a fixed first stage) are neither updated nor averaged.
        var parameters = run.Trainable.parameters().Where(p => p.requires_grad).ToList();
        var checkpoints = new CheckpointManager(run.Folder, training.KeepCheckpoints);
        var metrics = new MetricsLog(Path.Combine(run.Folder, "metrics.jsonl"));
        var fingerprint = $"seed={training.Seed};batch={training.BatchSize}{(ranks > 1 ? $"x{ranks} ranks" : "")};accumulate={training.GradientAccumulation};steps={training.Steps};lr={training.LearningRate};{objective.Fingerprint}";
        var state = new TrainerState { Fingerprint = fingerprint };
        if (run.Resume && checkpoints.Completed().Count > 0)
        {
            state = checkpoints.RestoreLatest(model, groups.Optimizer, objective)!;
            if (state.Fingerprint != fingerprint)
                throw new InterBertException($"{run.Folder}: the run was started with other options ({state.Fingerprint}); resume with the same options or use another --out");
            if (root) metrics.TruncateAfter(state.Step);
        }
        else
        {
            if (checkpoints.Completed().Count > 0)
                throw new InterBertException($"{run.Folder}: already holds checkpoints; pass --resume to continue it, or choose another --out");
            if (root && File.Exists(metrics.Path)) File.Delete(metrics.Path);
        }
        // Every rank starts from rank 0's weights (a resumed run: every rank restored the same checkpoint).
        DataParallel.BroadcastParameters(processes, parameters);
        if (root)
        {
            AtomicFile.WriteAllText(Path.Combine(run.Folder, "config.json"), Weights.ModelFolder.ConfigJson(model.Config));
            var description = new Dictionary<string, object> { ["training"] = training, ["ranks"] = ranks };
            foreach (var (key, value) in run.Description) description[key] = value;
            description["precision"] = model.Precision.Name();
            AtomicFile.WriteAllText(Path.Combine(run.Folder, "run.json"), JsonSerializer.Serialize(description, new JsonSerializerOptions { WriteIndented = true }));
        }

        IReadOnlyDictionary<string, double> validation = new Dictionary<string, double>();
        var names = objective.ValueNames;
        var sums = new double[names.Count];
        var watch = Stopwatch.StartNew();
        var samplesSinceLog = 0L;
        var lastLog = watch.Elapsed;
        var logged = 0;
        var cancelled = false;
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
            objective.BeforeStep(step);
            run.Trainable.train();
            var learningRate = training.LearningRate * LearningRateSchedule.Factor(step, training.Steps, training.WarmupFraction);
            groups.SetLearningRate(learningRate);
            var finite = true;
            using (var scope = NewDisposeScope())
            {
                groups.Optimizer.zero_grad();
                for (var micro = 0; micro < training.GradientAccumulation && finite; micro++)
                {
                    var loss = objective.Loss(step, micro, processes);
                    // Each rank's values are its share; their mean over ranks is the step's.
                    var values = loss.Values.ToArray();
                    processes.AllReduceSum(values);
                    for (var k = 0; k < values.Length; k++) values[k] /= ranks;
                    if (!double.IsFinite(values[0]))
                    {
                        finite = false;
                        break;
                    }
                    (loss.Total / training.GradientAccumulation).backward();
                    for (var k = 0; k < sums.Length; k++) sums[k] += values[k] / training.GradientAccumulation;
                    samplesSinceLog += loss.Examples * ranks;
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
                throw new InterBertException($"{run.Folder}: the loss was not finite for {state.NonFiniteInARow} steps in a row (up to step {state.Step}); stopped. " +
                    (last.Path is null ? "No checkpoint was written yet." : $"The last good checkpoint is {last.Path}; lower the learning rate and resume."));
            }

            var done = state.Step;
            if (done % training.LogEvery == 0 || done == training.Steps)
            {
                var seconds = (watch.Elapsed - lastLog).TotalSeconds;
                var perSecond = samplesSinceLog / Math.Max(seconds, 1e-9);
                var n = Math.Max(logged, 1);
                var means = sums.Select(s => s / n).ToArray();
                var row = new Dictionary<string, object> { ["step"] = done };
                for (var k = 0; k < names.Count; k++) row[names[k]] = Round(means[k]);
                row["lr"] = learningRate;
                row["skipped_non_finite"] = state.SkippedNonFinite;
                row["samples_per_second"] = Math.Round(perSecond, 1);
                row["precision"] = model.Precision.Name();
                if (root) metrics.Append(row);
                progress?.Report(new Progress(done, training.Steps, means, learningRate, perSecond));
                Array.Clear(sums);
                (logged, samplesSinceLog, lastLog) = (0, 0, watch.Elapsed);
            }
            if (root && objective.Validate(done, done == training.Steps) is { } held)
            {
                validation = held;
                var row = new Dictionary<string, object> { ["step"] = done, ["split"] = "validation" };
                foreach (var (k, v) in held) row[k] = Round(v);
                metrics.Append(row);
            }
            if (root && (done % training.CheckpointEvery == 0 || done == training.Steps))
                checkpoints.Save(model, groups.Optimizer, state, objective);
        }
        if (root && cancelled && state.Step > checkpoints.Completed().LastOrDefault().Step)
            checkpoints.Save(model, groups.Optimizer, state, objective);
        // The whole metrics log (a resumed run's earlier steps included) to whoever draws or reports it.
        if (root && !cancelled && RunFinished is { } finished) finished(new FinishedRun(run.Folder, metrics.ReadAll(), names));
        return new Result(state.Step, state.SkippedNonFinite, cancelled, validation);
    }

    private static double Round(double value) => Math.Round(value, 6);
}
