using System.CommandLine;
using System.Diagnostics;
using InterBert.Cli;
using InterBert.Data;
using InterBert.Modeling;
using InterBert.Vision;

namespace InterBert.Benchmarks;

/// <summary>The <c>bench</c> verb: measurements that print figures (never pass/fail).</summary>
public static class BenchCommand
{
    /// <summary>Creates the verb and its measurements.</summary>
    public static Command Create()
    {
        var bench = new Command("bench", "Measure throughput and latency");
        bench.Subcommands.Add(Features());
        bench.Subcommands.Add(Train());
        bench.Subcommands.Add(Memory());
        bench.Subcommands.Add(Attention());
        bench.Subcommands.Add(Visual());
        bench.Subcommands.Add(Optimizer());
        bench.Subcommands.Add(Retrieval());
        bench.Subcommands.Add(AllReduceBenchmark.Create());
        bench.Subcommands.Add(SearchBenchmarks.Search());
        bench.Subcommands.Add(SearchBenchmarks.Serve());
        bench.Subcommands.Add(HostSafetyCheck.Create());
        bench.Subcommands.Add(SimilarPhotosBenchmark.Create());
        bench.Subcommands.Add(BindingBenchmark.Create());
        return bench;
    }

    private static Command Retrieval()
    {
        var presets = new Option<string[]>("--preset") { Description = "presets to measure", DefaultValueFactory = _ => ["small", "base"], AllowMultipleArgumentsPerToken = true };
        var precisions = PrecisionsOption();
        var command = new Command("retrieval", "Cross-modal pair scoring in fp32 and bf16: batched versus one pair per forward pass (the reference evaluation's way)") { presets, precisions };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            foreach (var name in parse.GetValue(presets)!)
            {
                var config = InterBertConfig.FromPreset(name);
                TorchSharp.torch.manual_seed(1);
                using var model = new InterBertModel(config);
                model.eval();
                var small = name != "base";
                var fp32Batched = 0.0;
                foreach (var precision in Precisions(parse))
                {
                    model.Precision = precision;
                    var batched = PairsPerSecond(model, 64, small ? 8 : 4);
                    var single = PairsPerSecond(model, 1, small ? 48 : 16);
                    if (precision == Precision.Fp32) fp32Batched = batched;
                    var flickr = 1000.0 * 5000;
                    Console.WriteLine($"bench retrieval: preset {name}, {precision.Name()} (16 tokens, 10 regions per pair): batched (64 pairs per forward) {batched:F1} pairs/s{(precision != Precision.Fp32 && fp32Batched > 0 ? $" ({batched / fp32Batched:F2}x fp32)" : "")}; one pair at a time {single:F1} pairs/s; {batched / single:F1}x");
                    Console.WriteLine($"  Flickr30K test (1,000 images x 5,000 captions = 5,000,000 pairs) on this machine: {flickr / batched / 3600:F1} h batched, {flickr / single / 3600:F1} h one pair at a time");
                }
            }
            return 0;
        }));
        return command;
    }

    /// <summary>Pairs scored per second with <paramref name="pairsPerForward"/> pairs per forward pass (after one warm-up pass).</summary>
    private static double PairsPerSecond(InterBertModel model, int pairsPerForward, int forwards)
    {
        using var noGrad = TorchSharp.torch.no_grad();
        using var autocast = model.Autocast();
        var watch = new Stopwatch();
        for (var k = 0; k <= forwards; k++)
        {
            using var scope = TorchSharp.torch.NewDisposeScope();
            var batch = TrainingBenchmark.SyntheticBatch(model.Config, pairsPerForward, 16, 10, k);
            if (k == 1) watch.Start();
            model.PairScores(batch.Text, batch.Image, zeroShot: false).data<float>();
        }
        return pairsPerForward * forwards / watch.Elapsed.TotalSeconds;
    }

    private static Command Train()
    {
        var preset = new Option<string>("--preset") { Description = "model preset", DefaultValueFactory = _ => "small" };
        var batch = new Option<int>("--batch-size") { Description = "pairs per step", DefaultValueFactory = _ => 32 };
        var steps = new Option<int>("--steps") { Description = "measured steps (after 2 warm-up steps)", DefaultValueFactory = _ => 5 };
        var command = new Command("train", "Pretraining step throughput in fp32 and bf16 against this machine's matmul throughput") { preset, batch, steps, PrecisionsOption() };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            var name = parse.GetValue(preset)!;
            var config = InterBertConfig.FromPreset(name);
            var precisions = Precisions(parse);
            Console.WriteLine($"bench train: preset {name}, batch {parse.GetValue(batch)} (36 tokens + 36 regions per pair), {TorchSharp.torch.get_num_threads()} threads");
            var fp32PairsPerSecond = 0.0;
            foreach (var precision in precisions)
            {
                var r = TrainingBenchmark.Run(config, parse.GetValue(batch), parse.GetValue(steps), precision: precision);
                var p = precision.Name();
                if (precision == Precision.Fp32) fp32PairsPerSecond = r.SamplesPerSecond;
                var versusFp32 = precision != Precision.Fp32 && fp32PairsPerSecond > 0 ? $" ({r.SamplesPerSecond / fp32PairsPerSecond:F2}x fp32)" : "";
                Console.WriteLine($"  {p} matmul:      {r.MatmulGflops:F1} GFLOP/s");
                Console.WriteLine($"  {p} step:        {r.SecondsPerStep:F3} s; {r.SamplesPerSecond:F1} pairs/s{versusFp32}; {r.TokensPerSecond:F0} tokens+regions/s");
                Console.WriteLine($"  {p} model FLOPs: {r.FlopsPerSample / 1e9:F2} GFLOP per pair (forward + backward); achieved {r.ModelGflops:F1} GFLOP/s = {100 * r.ModelGflops / r.MatmulGflops:F0}% of {p} matmul");
            }
            return 0;
        }));
        return command;
    }

    /// <summary>The precisions a benchmark measures side by side (default both, fp32 first; fp32 alone where bf16 would be emulated).</summary>
    internal static Option<string[]> PrecisionsOption() => precisionsOption;

    private static readonly Option<string[]> precisionsOption = new("--precision")
    {
        Description = "precisions to measure side by side (fp32, bf16; default both, or fp32 alone on a CPU without native bf16, where emulated bf16 takes minutes a step)",
        DefaultValueFactory = _ => Bf16Support.IsNative ? ["fp32", "bf16"] : ["fp32"], AllowMultipleArgumentsPerToken = true,
    };

    /// <summary>The parsed precisions of <see cref="PrecisionsOption"/>; says so when the default leaves bf16 out.</summary>
    internal static IReadOnlyList<Precision> Precisions(ParseResult parse)
    {
        if (parse.GetResult(precisionsOption) is null or { Implicit: true } && !Bf16Support.IsNative)
            Console.WriteLine($"bench: bf16 left out: {Bf16Support.SlowWarning} (--precision fp32 bf16 measures it anyway)");
        return parse.GetValue(precisionsOption)!.Select(p => PrecisionNames.Parse(p)).Distinct().ToList();
    }

    private static Command Attention()
    {
        var preset = new Option<string>("--preset") { Description = "model preset whose attention shape to measure", DefaultValueFactory = _ => "small" };
        var length = new Option<int>("--length") { Description = "sequence length (the joint [image ; text] sequence of bench train is 73)", DefaultValueFactory = _ => 73 };
        var command = new Command("attention", "Attention kernels, forward + backward: libtorch's scaled_dot_product_attention in fp32 and bf16 against the written-out bf16 attention") { preset, length };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            var config = InterBertConfig.FromPreset(parse.GetValue(preset)!);
            int batch = 32, heads = config.NumAttentionHeads, size = config.HiddenSize / heads, positions = parse.GetValue(length);
            if (positions < 1) throw new ArgumentException($"--length {positions}: must be at least 1");
            Console.WriteLine($"bench attention: preset {parse.GetValue(preset)}, batch {batch}, {heads} heads of {size}, length {positions}, {TorchSharp.torch.get_num_threads()} threads; milliseconds per call, forward + backward");
            foreach (var dropout in new[] { 0.0, config.AttentionProbsDropoutProb })
            {
                var fused32 = AttentionMilliseconds(batch, heads, positions, size, TorchSharp.torch.ScalarType.Float32, dropout, writtenOut: false);
                var fused16 = AttentionMilliseconds(batch, heads, positions, size, TorchSharp.torch.ScalarType.BFloat16, dropout, writtenOut: false);
                var written16 = AttentionMilliseconds(batch, heads, positions, size, TorchSharp.torch.ScalarType.BFloat16, dropout, writtenOut: true);
                Console.WriteLine($"  dropout {dropout}: scaled_dot_product_attention fp32 {fused32:F1} ms, bf16 {fused16:F1} ms; written out bf16 {written16:F1} ms");
            }
            return 0;
        }));
        return command;
    }

    /// <summary>Mean forward + backward time of one attention call (after two warm-up calls).</summary>
    private static double AttentionMilliseconds(int batch, int heads, int length, int size, TorchSharp.torch.ScalarType type, double dropout, bool writtenOut, int calls = 10)
    {
        var watch = new Stopwatch();
        for (var call = 0; call < calls + 2; call++)
        {
            using var scope = TorchSharp.torch.NewDisposeScope();
            var inputs = Enumerable.Range(0, 3).Select(_ => TorchSharp.torch.randn(batch, heads, length, size).to_type(type).requires_grad_(true)).ToArray();
            var mask = TorchSharp.torch.zeros(batch, 1, 1, length);
            if (call == 2) watch.Start();
            using var autocast = type == TorchSharp.torch.ScalarType.BFloat16 ? AutocastScope.Enter(Precision.Bf16) : null;
            var output = writtenOut
                ? BertSelfAttention.WrittenOutAttention(inputs[0], inputs[1], inputs[2], mask, dropout)
                : TorchSharp.torch.nn.functional.scaled_dot_product_attention(inputs[0], inputs[1], inputs[2], mask.to_type(type), dropout, false);
            output.to_type(TorchSharp.torch.ScalarType.Float32).sum().backward();
        }
        return watch.Elapsed.TotalMilliseconds / calls;
    }

    private static Command Visual()
    {
        var batch = new Option<int>("--batch") { Description = "photos per step (the recipes' fine-tuning takes 32 examples, pretraining 32 pairs)", DefaultValueFactory = _ => 32 };
        var size = new Option<int>("--size") { Description = "input side in pixels (224: the packaged graph's, a 7 x 7 final map)", DefaultValueFactory = _ => 224 };
        var precisions = PrecisionsOption();
        var command = new Command("visual", "The trainable ResNet-18 (the packaged graph converted to TorchSharp): forward + backward per step, the whole network against its last stage (layer4) from a cached layer3 map") { batch, size, precisions };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            int photos = parse.GetValue(batch), side = parse.GetValue(size);
            if (photos < 1 || side < 64) throw new ArgumentException("--batch must be at least 1 and --size at least 64");
            using var network = TrainableResNet18.FromPackagedGraphs();
            network.train();
            const string afterLayer3 = "ReLU347_Output_0";
            TorchSharp.torch.Tensor layer3;
            using (TorchSharp.torch.no_grad()) layer3 = network.Run(TorchSharp.torch.rand(photos, 3, side, side) * 255, afterLayer3);
            Console.WriteLine($"bench visual: batch {photos}, {side} x {side} (layer3 map {layer3.shape[1]} x {layer3.shape[2]} x {layer3.shape[3]}), {TorchSharp.torch.get_num_threads()} threads; seconds per step");
            foreach (var precision in Precisions(parse))
            {
                double Seconds(Func<TorchSharp.torch.Tensor> forward, bool backward, int calls = 3)
                {
                    var watch = new Stopwatch();
                    for (var call = 0; call < calls + 1; call++)
                    {
                        using var scope = TorchSharp.torch.NewDisposeScope();
                        network.zero_grad();
                        if (call == 1) watch.Start();
                        using (var autocast = precision == Precision.Bf16 ? AutocastScope.Enter(Precision.Bf16) : null)
                        using (var noGrad = backward ? null : TorchSharp.torch.no_grad())
                        {
                            var map = forward();
                            if (backward) map.to_type(TorchSharp.torch.ScalarType.Float32).pow(2).mean().backward();
                        }
                    }
                    return watch.Elapsed.TotalSeconds / calls;
                }
                var pixels = TorchSharp.torch.rand(photos, 3, side, side) * 255;
                var whole = Seconds(() => network.call(pixels), backward: true);
                var wholeForward = Seconds(() => network.call(pixels), backward: false);
                var last = Seconds(() => network.RunFrom(new Dictionary<string, TorchSharp.torch.Tensor> { [afterLayer3] = layer3 }, TrainableResNet18.FeatureMapName), backward: true);
                Console.WriteLine($"  {precision.Name()}: whole network forward + backward {whole:F2} s (forward alone {wholeForward:F2} s); layer4 from the cached layer3 map, forward + backward {last:F2} s");
            }
            return 0;
        }));
        return command;
    }

    private static Command Optimizer()
    {
        var preset = new Option<string>("--preset") { Description = "model preset whose weights to update", DefaultValueFactory = _ => "small" };
        var steps = new Option<int>("--steps") { Description = "measured steps (after 3 warm-up steps)", DefaultValueFactory = _ => 20 };
        var command = new Command("optimizer", "One AdamW step over every weight of a model (the trainer's groups, random gradients): TorchSharp's AdamW against the trainer's, with gradients on every row of the word table and on 64 of its rows") { preset, steps };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            var name = parse.GetValue(preset)!;
            var measured = parse.GetValue(steps);
            if (measured < 1) throw new ArgumentException("--steps must be at least 1");
            var config = InterBertConfig.FromPreset(name);
            var identical = true;
            foreach (var lookedUp in new int?[] { null, 64 })
            {
                InterBertModel Model() { TorchSharp.torch.manual_seed(1); return new InterBertModel(config); }
                using var libraryModel = Model();
                using var trainerModel = Model();
                var options = new InterBert.Training.TrainingOptions { LearningRate = 2e-4 };
                var noKeys = new HashSet<string>();
                using var trainer = InterBert.Training.ParameterGroups.Create(trainerModel, options, noKeys);
                using var libraryGroups = InterBert.Training.ParameterGroups.Create(libraryModel, options, noKeys);
                using var library = TorchSharp.torch.optim.AdamW(libraryGroups.Optimizer.ParamGroups.Cast<TorchSharp.Modules.AdamW.ParamGroup>(), 2e-4);
                var weights = libraryModel.named_parameters().Zip(trainerModel.parameters(), (a, b) => (a.name, Library: a.parameter, Trainer: b)).ToList();
                if (lookedUp is null)
                    Console.WriteLine($"bench optimizer: preset {name}, {weights.Sum(w => w.Library.numel()) / 1e6:F1} M weights in {weights.Count} tensors, {TorchSharp.torch.get_num_threads()} threads; milliseconds per step");
                double libraryMs = 0, trainerMs = 0;
                var watch = new Stopwatch();
                for (var step = 0; step < measured + 3; step++)
                {
                    TorchSharp.torch.manual_seed(100 + step);
                    // The parameters keep their gradients; the step's other tensors go with the scope.
                    using var scope = TorchSharp.torch.NewDisposeScope();
                    foreach (var (key, a, b) in weights)
                    {
                        var grad = TorchSharp.torch.randn_like(a);
                        if (lookedUp is { } rows && key.EndsWith("word_embeddings.weight", StringComparison.Ordinal))
                        {
                            var mask = TorchSharp.torch.zeros(a.shape[0], 1);
                            mask[TorchSharp.torch.randint(a.shape[0], rows)] = TorchSharp.torch.ones(1);
                            grad = grad * mask;
                        }
                        a.grad = grad;
                        b.grad = grad.clone();
                    }
                    watch.Restart();
                    library.step();
                    var first = watch.Elapsed.TotalMilliseconds;
                    watch.Restart();
                    trainer.Optimizer.step();
                    if (step < 3) continue;
                    libraryMs += first;
                    trainerMs += watch.Elapsed.TotalMilliseconds;
                }
                var same = weights.All(w => w.Library.data<float>().ToArray().AsSpan().SequenceEqual(w.Trainer.data<float>().ToArray()));
                identical &= same;
                Console.WriteLine($"  gradients on {(lookedUp is { } n ? $"{n} rows" : "every row")} of the word table: TorchSharp's AdamW {libraryMs / measured:F1} ms; the trainer's {trainerMs / measured:F1} ms ({libraryMs / trainerMs:F2}x); weights bit-identical after {measured + 3} steps: {(same ? "yes" : "NO")}");
            }
            return identical ? 0 : 1;
        }));
        return command;
    }

    private static Command Memory()
    {
        var steps = new Option<int>("--steps") { Description = "steps of the tiny run", DefaultValueFactory = _ => 500 };
        var command = new Command("memory", "Resident memory of a tiny training run after 100 steps and at the end") { steps };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            var last = Math.Max(101, parse.GetValue(steps));
            var readings = TrainingBenchmark.Memory(InterBert.Modeling.InterBertConfig.Tiny, 16, [100, (100 + last) / 2, last]);
            foreach (var (step, mib) in readings) Console.WriteLine($"bench memory: resident after {step,4} steps: {mib:F1} MiB");
            Console.WriteLine($"bench memory: growth from step 100 to {last}: {100 * (readings[^1].ResidentMiB / readings[0].ResidentMiB - 1):F1}%");
            return 0;
        }));
        return command;
    }

    private static Command Features()
    {
        var dataset = new Option<string>("--dataset") { Description = "dataset whose images to use", DefaultValueFactory = _ => "../shared/data/coco-sample/dataset.json" };
        var detector = new Option<string?>("--detector") { Description = "YOLOX model (regions for every image come from it)", DefaultValueFactory = _ => "../shared/models/yolox-nano/yolox_nano.onnx" };
        var count = new Option<int>("--images") { Description = "images to process", DefaultValueFactory = _ => 120 };
        var command = new Command("features", "Region feature extraction throughput (images/s, up to 36 regions each)") { dataset, detector, count };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            var images = DatasetReader.Read(parse.GetValue(dataset)!).Take(parse.GetValue(count)).Select(i => (i.Id, i.Location)).ToList();
            var threads = parse.GetValue(CommandLine.ThreadsOption);
            using var extractor = RegionFeatureExtractor.Open(parse.GetValue(detector), 36, threads, parallelImages: true);
            var folder = Path.Combine(Path.GetTempPath(), $"interbert-bench-{Guid.NewGuid():N}");
            try
            {
                // Warm-up on a few images (ONNX Runtime plans its kernels on first use).
                FeatureExtractionJob.Run(images.Take(3).ToList(), extractor, null, folder + "-warm", false, false);
                var regions = 0L;
                var watch = Stopwatch.StartNew();
                var result = FeatureExtractionJob.Run(images, extractor, null, folder, false, false);
                watch.Stop();
                using (var store = FeatureStore.Open(folder)) regions = store.Entries.Sum(e => (long)e.Regions);
                Console.WriteLine($"bench features: {result.Stored} images, {regions} regions ({(double)regions / result.Stored:F1} per image), {Environment.ProcessorCount} cores, {threads} threads, {extractor.Workers.Count} images at once");
                Console.WriteLine($"bench features: {result.Stored / watch.Elapsed.TotalSeconds:F1} images/s ({watch.Elapsed.TotalMilliseconds / result.Stored:F1} ms per image: decode, detector, ResNet-18, RoI align, store)");
            }
            finally
            {
                foreach (var f in new[] { folder, folder + "-warm" }) if (Directory.Exists(f)) Directory.Delete(f, true);
            }
            return 0;
        }));
        return command;
    }
}
