using System.Diagnostics;
using InterBert.Data;
using InterBert.Distributed;
using InterBert.Modeling;
using InterBert.Pretraining;
using InterBert.Weights;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace InterBert.Tests.Distributed;

public sealed class DataParallelTests(DistributedFixture data, ITestOutputHelper log) : IClassFixture<DistributedFixture>
{
    private string[] PretrainArgs(string output, int batch) =>
    [
        "pretrain", "--dataset", data.Dataset, "--features", data.Features, "--init", data.Weights, "--out", output,
        "--steps", "20", "--batch-size", batch.ToString(), "--lr", "5e-4", "--val-split", "none", "--seed", "3", "--threads", "1",
    ];

    private static IEnumerable<string> Dotnet(IEnumerable<string> args) => new[] { CliProcess.DllPath }.Concat(args);

    [Fact]
    public void TwoRanksWithBatchBEqualOneRankWithBatch2B()
    {
        var (parallel, equivalence, trained, smallerBatch) = TrainThreeWays("pretrain", PretrainArgs, "model.safetensors", null);
        Assert.True(equivalence <= 1e-5, $"parameters differ by {equivalence}");
        Assert.True(trained > 1e-3, "training did not change the parameters");
        Assert.True(smallerBatch > 1e-3, "one rank's half batch gives the same result: the test could not tell");
        // Only rank 0 writes the run's files.
        Assert.Single(Directory.GetFiles(parallel, "metrics.jsonl"));
    }

    [Fact]
    public void FineTuningOnTwoRanksWithBatchBEqualsOneRankWithBatch2B()
    {
        string[] Args(string output, int batch) =>
        [
            "finetune", "--task", "retrieval", "--dataset", data.Dataset, "--features", data.Features, "--init", data.Weights, "--out", output,
            "--steps", "12", "--batch-size", batch.ToString(), "--mine-every", "5", "--lr", "5e-4", "--val-split", "none", "--seed", "3", "--threads", "1",
        ];
        // The score head's bias cannot change a 4-way softmax, so its gradient is rounding noise, which Adam scales
        // to full-size steps: it is left out of the comparison.
        var (_, equivalence, trained, smallerBatch) = TrainThreeWays("finetune", Args, "last.safetensors", "vil_logit.bias");
        Assert.True(equivalence <= 1e-5, $"parameters differ by {equivalence}");
        Assert.True(trained > 1e-3, "training did not change the parameters");
        Assert.True(smallerBatch > 1e-3, "one rank's half batch gives the same result: the test could not tell");
    }

    [Fact]
    public async Task ARankThatDiesEndsTheJobWithAClearError()
    {
        var output = Path.Combine(data.Root, "dies");
        var args = PretrainArgs(output, 4).ToList();
        args[args.IndexOf("20")] = "100000";
        var info = new ProcessStartInfo("mpiexec") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-n", "2", "dotnet" }.Concat(Dotnet(args))) info.ArgumentList.Add(a);
        using var job = Process.Start(info)!;
        var stdout = job.StandardOutput.ReadToEndAsync();
        var stderr = job.StandardError.ReadToEndAsync();
        try
        {
            var started = Stopwatch.StartNew();
            while (!File.Exists(Path.Combine(output, "run.json")) && started.Elapsed < TimeSpan.FromSeconds(90)) Thread.Sleep(200);
            Assert.True(File.Exists(Path.Combine(output, "run.json")), "the job did not start");
            Thread.Sleep(2000);
            var rank1 = RankProcess(output, 1);
            Assert.True(rank1 is not null, "rank 1's process not found");
            rank1!.Kill();
            var watch = Stopwatch.StartNew();
            Assert.True(job.WaitForExit(TimeSpan.FromSeconds(60)), "the job hung after rank 1 died");
            var text = await stdout + await stderr;
            log.WriteLine($"ended {watch.Elapsed.TotalSeconds:F1} s after rank 1 was killed, exit code {job.ExitCode}:\n{text}");
            Assert.NotEqual(0, job.ExitCode);
            // MPICH's launcher names the failed process and ends the others; a rank that fails with an error says so itself.
            Assert.Matches("BAD TERMINATION|error: rank", text);
        }
        finally
        {
            if (!job.HasExited) job.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public void ShardedLossesWithGlobalDenominatorsAverageToTheFullBatchGradient()
    {
        using var store = FeatureStore.Open(data.Features);
        var tokenizer = ModelVocabulary.TokenizerFor(data.Weights);
        using var model = ModelCheckpoint.Load(data.Weights);
        model.eval();
        var corpus = CaptionCorpus.Load(data.Dataset, ["train"], store, tokenizer, 36);
        var tasks = new PretrainingTaskOptions { MaxRegions = model.Config.MaxRegionLength, RegionWeight = 0.5 };
        var builder = new PretrainingBatchBuilder(corpus, store, new SegmentMasker(tokenizer, SegmentMaskingMode.Paper), new RegionMasker(), null, tasks, tokenizer.PadId, regressFeatures: false);
        var indices = Enumerable.Range(0, 8).Select(i => i * 5 % corpus.Captions.Count).ToList();
        List<Random> Randoms(int first, int count) => Enumerable.Range(first, count).Select(p => new Random(PretrainingRun.ExampleSeed(3, 7, 0, p))).ToList();
        var parameters = model.parameters().ToList();

        foreach (var p in parameters) p.grad?.zero_();
        PretrainingLosses.Compute(model, builder.Build(indices, Randoms(0, 8)), tasks).Total.backward();
        DataParallel.EnsureGradients(parameters);
        var full = parameters.Select(p => p.grad!.clone()).ToList();

        foreach (var p in parameters) p.grad!.zero_();
        var shards = new[] { builder.Build(indices.Take(4).ToList(), Randoms(0, 4)), builder.Build(indices.Skip(4).ToList(), Randoms(4, 4)) };
        var counts = shards.Select(LossDenominators.Of).ToList();
        var global = new LossDenominators(counts.Sum(c => c.SegmentTargets), counts.Sum(c => c.RegionTargets), counts.Sum(c => c.Pairs), 2);
        Assert.True(global.SegmentTargets > 0 && global.RegionTargets > 0);
        Assert.NotEqual(counts[0].SegmentTargets, counts[1].SegmentTargets); // unequal shares: plain per-shard means would be wrong
        foreach (var shard in shards) PretrainingLosses.Compute(model, shard, tasks, global).Total.backward();
        double worst = 0, scale = 0;
        for (var i = 0; i < parameters.Count; i++)
        {
            worst = Math.Max(worst, (parameters[i].grad! / 2 - full[i]).abs().max().item<float>());
            scale = Math.Max(scale, full[i].abs().max().item<float>());
        }
        log.WriteLine($"max gradient difference {worst:E2} (largest gradient {scale:E2})");
        Assert.True(worst < 1e-6 * Math.Max(1, scale), $"sharded gradient differs by {worst}");
        Assert.True(scale > 1e-3);
    }

    [Fact]
    public void AProcessNotLaunchedByMpiIsASingleRankWithoutMpi()
    {
        Assert.False(ProcessGroup.LaunchedByMpi);
        var group = ProcessGroup.Current;
        Assert.Same(ProcessGroup.Single, group);
        Assert.Equal((0, 1, false), (group.Rank, group.Size, group.UsesMpi));
        var values = new[] { 1.5f, 2f };
        group.AllReduceSum(values.AsSpan());
        Assert.Equal([1.5f, 2f], values);
    }

    /// <summary>
    /// Trains 1 rank x 8, 2 ranks x 4 (mpiexec) and 1 rank x 4 with <paramref name="args"/>(output, batch); returns the
    /// 2-rank run's folder and the largest parameter differences: 1x8 against 2x4, against the initial weights and
    /// against 1x4 (<paramref name="except"/> left out).
    /// </summary>
    private (string Parallel, double Equivalence, double Trained, double SmallerBatch) TrainThreeWays(string name, Func<string, int, string[]> args, string weightsFile, string? except)
    {
        var single = Path.Combine(data.Root, $"{name}-single-8");
        var control = Path.Combine(data.Root, $"{name}-single-4");
        var parallel = Path.Combine(data.Root, $"{name}-mpi-2x4");
        var a = DistributedFixture.Run("dotnet", Dotnet(args(single, 8)), TimeSpan.FromMinutes(3));
        Assert.True(a.ExitCode == 0, a.Output);
        var b = DistributedFixture.Run("mpiexec", new[] { "-n", "2", "dotnet" }.Concat(Dotnet(args(parallel, 4))), TimeSpan.FromMinutes(3));
        log.WriteLine(b.Output);
        Assert.True(b.ExitCode == 0, b.Output);
        Assert.Contains("per rank x 2 ranks (MPI)", b.Output);
        var c = DistributedFixture.Run("dotnet", Dotnet(args(control, 4)), TimeSpan.FromMinutes(3));
        Assert.True(c.ExitCode == 0, c.Output);

        using var initial = ModelCheckpoint.Load(data.Weights);
        using var one = ModelCheckpoint.Load(Path.Combine(single, weightsFile));
        using var two = ModelCheckpoint.Load(Path.Combine(parallel, weightsFile));
        using var half = ModelCheckpoint.Load(Path.Combine(control, weightsFile));
        var result = (parallel, MaxDifference(one, two, except), MaxDifference(one, initial, except), MaxDifference(one, half, except));
        log.WriteLine($"{name}: max |1 rank x 8 - 2 ranks x 4| = {result.Item2:E2}; training moved parameters by up to {result.Item3:E2}; 1 rank x 4 differs by {result.Item4:E2}");
        return result;
    }

    private static double MaxDifference(InterBertModel a, InterBertModel b, string? except = null)
    {
        var other = b.state_dict();
        return a.state_dict().Where(kv => kv.Key != except).Max(kv => (kv.Value - other[kv.Key]).abs().max().item<float>());
    }

    /// <summary>The process of MPI rank <paramref name="rank"/> of the job writing to <paramref name="output"/> (from /proc).</summary>
    private static Process? RankProcess(string output, int rank)
    {
        foreach (var directory in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid)) continue;
            try
            {
                var commandLine = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ');
                if (!commandLine.Contains(output) || !commandLine.Contains("InterBert.Cli.dll")) continue;
                var environment = File.ReadAllText(Path.Combine(directory, "environ")).Split('\0');
                if (environment.Contains($"PMI_RANK={rank}")) return Process.GetProcessById(pid);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
            {
                // the process ended while being read
            }
        }
        return null;
    }
}
