using System.CommandLine;
using System.Runtime;
using InterBert.Cli;
using InterBert.Inference;

namespace InterBert.Benchmarks;

/// <summary>
/// <c>bench host</c>: the pipeline as a library host uses it, under whatever runtime settings the process has (run it
/// with the defaults: server GC, concurrent GC, tiered JIT): several threads call one pipeline while another thread
/// allocates and collects as fast as it can, so that collections land in the middle of native calls. Every answer
/// must equal the single-threaded one.
/// </summary>
public static class HostSafetyCheck
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "a model folder (or weights file)", Required = true };
        var photo = new Option<string>("--photo") { Description = "a photo to embed and score", Required = true };
        var threads = new Option<int>("--callers") { Description = "threads calling the pipeline", DefaultValueFactory = _ => 6 }.AtLeast(1);
        var calls = new Option<int>("--calls") { Description = "calls in all", DefaultValueFactory = _ => 600 }.AtLeast(1);
        var command = new Command("host", "Many threads on one pipeline while another thread allocates and collects: every answer must equal the single-threaded one") { model, photo, threads, calls };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            using var pipeline = InterBertPipeline.Load(parse.GetValue(model)!);
            var regions = pipeline.ExtractRegions(parse.GetValue(photo)!);
            string[] captions = ["a man riding a wave on a surfboard", "two dogs playing in the snow", "a plate of food with broccoli"];
            var texts = captions.Select(pipeline.EmbedText).ToArray();
            var image = pipeline.EmbedImage(regions);
            var scores = captions.Select(c => pipeline.Score(c, [regions])[0]).ToArray();
            var callers = parse.GetValue(threads);
            var perCaller = Math.Max(1, parse.GetValue(calls) / callers);
            using var stop = new CancellationTokenSource();
            long collections = 0;
            var collector = new Thread(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var garbage = new byte[64][];
                    for (var k = 0; k < garbage.Length; k++) garbage[k] = new byte[4096];
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    Interlocked.Increment(ref collections);
                }
            }) { IsBackground = true, Name = "collector" };
            collector.Start();
            var failures = 0;
            var firstFailure = "";
            var workers = Enumerable.Range(0, callers).Select(w => new Thread(() =>
            {
                for (var n = 0; n < perCaller; n++)
                {
                    var c = (w + n) % captions.Length;
                    try
                    {
                        var same = (n % 3) switch
                        {
                            0 => pipeline.EmbedText(captions[c]).SequenceEqual(texts[c]),
                            1 => pipeline.EmbedImage(regions).SequenceEqual(image),
                            _ => pipeline.Score(captions[c], [regions])[0] == scores[c],
                        };
                        if (!same && Interlocked.Increment(ref failures) == 1) firstFailure = $"call {n} of thread {w}: a different answer";
                    }
                    catch (Exception e)
                    {
                        if (Interlocked.Increment(ref failures) == 1) firstFailure = $"call {n} of thread {w}: {e.GetType().Name}: {e.Message.Split('\n')[0]}";
                    }
                }
            })).ToList();
            var watch = System.Diagnostics.Stopwatch.StartNew();
            workers.ForEach(t => t.Start());
            workers.ForEach(t => t.Join());
            stop.Cancel();
            collector.Join();
            Console.WriteLine($"bench host: server GC {GCSettings.IsServerGC}, concurrent GC {GCSettings.LatencyMode != GCLatencyMode.Batch}, " +
                $"tiered JIT {Environment.GetEnvironmentVariable("DOTNET_TieredCompilation") ?? "as configured"}");
            Console.WriteLine($"bench host: {callers * perCaller} calls on {callers} threads in {watch.Elapsed.TotalSeconds:F1} s, {Interlocked.Read(ref collections)} collections meanwhile, {failures} failures{(failures > 0 ? $" (first: {firstFailure})" : "")}");
            return failures == 0 ? 0 : 1;
        }));
        return command;
    }
}
