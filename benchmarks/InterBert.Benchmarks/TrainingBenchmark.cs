using System.Diagnostics;
using InterBert.Modeling;
using InterBert.Pretraining;
using InterBert.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace InterBert.Benchmarks;

/// <summary>
/// Measures this process's fp32 matrix-multiply throughput and the pretraining step throughput of a model
/// configuration (synthetic batches of 36 tokens and 36 regions, all three losses, AdamW), and the model FLOPs
/// those steps achieve.
/// </summary>
public static class TrainingBenchmark
{
    /// <summary>What one measurement found.</summary>
    public sealed record Result(double MatmulGflops, double SamplesPerSecond, double TokensPerSecond, double ModelGflops, double SecondsPerStep, double FlopsPerSample);

    /// <summary>GEMM throughput (GFLOP/s) in <paramref name="precision"/>: the best of <paramref name="trials"/> timings on square matrices of size <paramref name="n"/>.</summary>
    public static double MatmulGflops(int n = 1536, int repeats = 8, int trials = 3, Precision precision = Precision.Fp32)
    {
        using var scope = NewDisposeScope();
        var type = precision == Precision.Bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
        var a = randn(n, n).to_type(type);
        var b = randn(n, n).to_type(type);
        matmul(a, b).Dispose();
        var best = 0.0;
        for (var trial = 0; trial < trials; trial++)
        {
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < repeats; i++) matmul(a, b).Dispose();
            best = Math.Max(best, 2.0 * n * n * n * repeats / watch.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    /// <summary>
    /// Forward FLOPs of one pair: every Linear (2 · in · out per position), attention scores and weighted sums
    /// (4 · L · h per position), and the heads on the masked share of positions. Training costs three times this.
    /// </summary>
    public static double ForwardFlopsPerSample(InterBertConfig c, int tokens, int regions, double maskedShare = 0.15)
    {
        var h = (double)c.HiddenSize;
        double Layer(int length, double ffn) => length * (2 * 4 * h * h + 2 * 2 * h * ffn + 4 * length * h);
        var joint = tokens + regions + 1;
        var flops = c.NumHiddenLayers * Layer(joint, c.IntermediateSize)
            + c.TNumHiddenLayers * Layer(tokens, c.IntermediateSize)
            + c.VNumHiddenLayers * Layer(regions + 1, c.VIntermediateSize);
        flops += (regions + 1) * 2 * (c.VFeatureSize + InterBertConfig.LocationSize) * h; // image embeddings
        flops += 2 * 2 * h * c.BiHiddenSize; // poolers
        flops += maskedShare * tokens * 2 * (h * h + h * c.VocabSize); // segment head
        flops += maskedShare * regions * 2 * (h * h + h * c.VTargetSize); // region head
        return flops;
    }

    /// <summary>Runs <paramref name="steps"/> measured training steps (after warm-up) of a configuration.</summary>
    public static Result Run(InterBertConfig config, int batchSize, int steps = 5, int warmup = 2, int tokens = 36, int regions = 36, Precision precision = Precision.Fp32)
    {
        manual_seed(1);
        using var model = new InterBertModel(config) { Precision = precision };
        model.train();
        var groups = ParameterGroups.Create(model, new TrainingOptions(), new HashSet<string>());
        var tasks = new PretrainingTaskOptions();
        var matmulGflops = MatmulGflops(precision: precision);
        var watch = new Stopwatch();
        for (var step = 0; step < warmup + steps; step++)
        {
            if (step == warmup) watch.Start();
            using var scope = NewDisposeScope();
            var batch = SyntheticBatch(config, batchSize, tokens, regions, step);
            PretrainingLosses losses;
            using (model.Autocast()) losses = PretrainingLosses.Compute(model, batch, tasks);
            groups.Step(losses.Total);
        }
        var seconds = watch.Elapsed.TotalSeconds / steps;
        // The machine's peak may differ before and after a long run (clock, other load): compare with the better one.
        matmulGflops = Math.Max(matmulGflops, MatmulGflops(precision: precision));
        var flopsPerSample = 3 * ForwardFlopsPerSample(config, tokens, regions);
        return new Result(matmulGflops, batchSize / seconds, batchSize * (tokens + regions) / seconds, flopsPerSample * batchSize / seconds / 1e9, seconds, flopsPerSample);
    }

    /// <summary>A random batch with every task active: 15% of tokens and regions masked, half the pairs matched.</summary>
    public static PretrainingBatch SyntheticBatch(InterBertConfig config, int batchSize, int tokens, int regions, int seed)
    {
        var generator = new Generator((ulong)seed + 1);
        var ids = randint(1000, config.VocabSize, [batchSize, tokens], generator: generator);
        var labels = where(rand([batchSize, tokens], generator: generator) < 0.15, ids, full([batchSize, tokens], (long)SegmentMasker.Ignore));
        var features = randn([batchSize, regions, config.VFeatureSize], generator: generator);
        var corner = rand([batchSize, regions, 2], generator: generator) * 0.5;
        var locations = cat([corner, corner + 0.4, full([batchSize, regions, 1], 0.16f)], -1);
        var masked = rand([batchSize, regions], generator: generator) < 0.15;
        var classes = softmax(randn([batchSize, regions, config.VTargetSize], generator: generator), -1);
        var matched = randint(2, [batchSize], generator: generator);
        return new PretrainingBatch(new TextBatch(ids, ones_like(ids)), labels,
            new ImageBatch(features, locations, ones(batchSize, regions, dtype: ScalarType.Int64)), masked,
            config.PredictFeature ? null : classes, config.PredictFeature ? features : null, matched);
    }

    /// <summary>Resident memory (MiB) after each of the given step counts of a tiny training loop.</summary>
    public static List<(int Step, double ResidentMiB)> Memory(InterBertConfig config, int batchSize, IReadOnlyList<int> checkpoints)
    {
        manual_seed(1);
        using var model = new InterBertModel(config);
        model.train();
        var groups = ParameterGroups.Create(model, new TrainingOptions(), new HashSet<string>());
        var results = new List<(int, double)>();
        var last = checkpoints.Max();
        for (var step = 1; step <= last; step++)
        {
            using (NewDisposeScope())
            {
                var losses = PretrainingLosses.Compute(model, SyntheticBatch(config, batchSize, 24, 12, step), new PretrainingTaskOptions());
                groups.Step(losses.Total);
            }
            if (checkpoints.Contains(step))
            {
                // Aggressive collection returns the managed heap's free memory to the system, so what remains is live.
                GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                GC.WaitForPendingFinalizers();
                using var process = Process.GetCurrentProcess();
                results.Add((step, process.WorkingSet64 / 1048576.0));
            }
        }
        return results;
    }
}
