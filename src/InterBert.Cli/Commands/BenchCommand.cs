using System.CommandLine;
using System.Diagnostics;
using InterBert.Data;
using InterBert.Vision;

namespace InterBert.Cli.Commands;

/// <summary>The <c>bench</c> verb: measurements that print figures (never pass/fail).</summary>
public static class BenchCommand
{
    /// <summary>Creates the verb and its measurements.</summary>
    public static Command Create()
    {
        var bench = new Command("bench", "Measure throughput and latency");
        bench.Subcommands.Add(Features());
        return bench;
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
            using var network = new ResNetFeatureExtractor(threads: threads);
            using var yolox = parse.GetValue(detector) is { } path ? new YoloxDetector(path, threads) : null;
            var extractor = new RegionFeatureExtractor(network, yolox, new ImageDecoder());
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
                Console.WriteLine($"bench features: {result.Stored} images, {regions} regions ({(double)regions / result.Stored:F1} per image), {Environment.ProcessorCount} cores, {threads} threads");
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
