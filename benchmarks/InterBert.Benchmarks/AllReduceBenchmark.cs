using System.CommandLine;
using System.Diagnostics;
using InterBert.Cli;
using InterBert.Distributed;
using InterBert.Modeling;
using InterBert.Pretraining;
using InterBert.Training;
using static TorchSharp.torch;

namespace InterBert.Benchmarks;

/// <summary>
/// <c>bench allreduce</c>: the cost of averaging a preset's gradients across MPI ranks, next to the time of a training
/// step, measured inside an MPI job (started by this verb with <c>mpiexec -n RANKS</c> when run alone).
/// </summary>
public static class AllReduceBenchmark
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "model preset whose gradients are reduced", DefaultValueFactory = _ => "base" };
        var ranks = new Option<int>("--ranks") { Description = "ranks to start when not already inside an MPI job", DefaultValueFactory = _ => 2 };
        var repeats = new Option<int>("--repeats") { Description = "measured all-reduces", DefaultValueFactory = _ => 5 };
        var batch = new Option<int>("--batch-size") { Description = "pairs per rank in the measured training step", DefaultValueFactory = _ => 8 };
        var command = new Command("allreduce", "Gradient all-reduce cost per step across MPI ranks, next to the training step time") { preset, ranks, repeats, batch };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            if (!ProcessGroup.LaunchedByMpi) return Relaunch(parse.GetValue(ranks));
            var group = ProcessGroup.Current;
            var config = InterBertConfig.FromPreset(parse.GetValue(preset)!);
            manual_seed(1);
            using var model = new InterBertModel(config);
            model.train();
            var parameters = model.parameters().ToList();
            var groups = ParameterGroups.Create(model, new TrainingOptions(), new HashSet<string>());
            DataParallel.BroadcastParameters(group, parameters);

            // A training step of this preset (forward, backward, all-reduce, update), after one warm-up step.
            double stepSeconds = 0, reduceInStep = 0;
            for (var step = 0; step < 2; step++)
            {
                using var scope = NewDisposeScope();
                var watch = Stopwatch.StartNew();
                var batchTensors = TrainingBenchmark.SyntheticBatch(config, parse.GetValue(batch), 36, 36, step * group.Size + group.Rank);
                groups.Optimizer.zero_grad();
                PretrainingLosses.Compute(model, batchTensors, new PretrainingTaskOptions()).Total.backward();
                var reduceWatch = Stopwatch.StartNew();
                DataParallel.AverageGradients(group, parameters);
                reduceInStep = reduceWatch.Elapsed.TotalSeconds;
                groups.ClipAndUpdate();
                stepSeconds = watch.Elapsed.TotalSeconds;
            }

            // The all-reduce alone, repeated.
            var times = new List<double>();
            for (var r = 0; r < Math.Max(1, parse.GetValue(repeats)); r++)
            {
                group.Barrier();
                var watch = Stopwatch.StartNew();
                DataParallel.AverageGradients(group, parameters);
                times.Add(watch.Elapsed.TotalSeconds);
            }
            var count = parameters.Sum(p => p.numel());
            if (group.IsRoot)
            {
                var median = times.Order().ElementAt(times.Count / 2);
                Console.WriteLine($"bench allreduce: preset {parse.GetValue(preset)}, {count:N0} gradients ({count * 4 / 1048576.0:F0} MiB float32) in {(count + DataParallel.BucketElements - 1) / DataParallel.BucketElements} buffers, {group.Size} ranks");
                Console.WriteLine($"  all-reduce per step: {median * 1000:F0} ms (median of {times.Count}; {count * 4 / 1e9 / median:F2} GB/s of gradient)");
                Console.WriteLine($"  training step ({parse.GetValue(batch)} pairs per rank, 36 tokens + 36 regions): {stepSeconds:F1} s, of which all-reduce {reduceInStep * 1000:F0} ms ({100 * reduceInStep / stepSeconds:F1}%)");
            }
            return 0;
        }));
        return command;
    }

    /// <summary>Starts this verb again under <c>mpiexec -n ranks</c> and passes its output through.</summary>
    private static int Relaunch(int ranks)
    {
        var info = new ProcessStartInfo("mpiexec") { UseShellExecute = false };
        foreach (var a in new[] { "-n", ranks.ToString() }.Concat(SelfProcess.Command()).Concat(Environment.GetCommandLineArgs().Skip(1))) info.ArgumentList.Add(a);
        Console.WriteLine($"bench allreduce: starting {ranks} ranks with mpiexec");
        try
        {
            using var process = Process.Start(info)!;
            process.WaitForExit();
            return process.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new InterBertException("mpiexec not found: install MPICH (Debian: apt-get install mpich), or run under your cluster's MPI launcher");
        }
    }
}
