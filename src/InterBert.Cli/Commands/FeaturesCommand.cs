using System.CommandLine;
using InterBert.Data;
using InterBert.Vision;

namespace InterBert.Cli.Commands;

/// <summary>The <c>features</c> verb: region features from raw images into a feature store, and <c>features info</c>.</summary>
public static class FeaturesCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var dataset = new Option<string?>("--dataset") { Description = "dataset whose images to process (Karpathy JSON, COCO captions JSON, JSONL, MUGE *_texts.jsonl)" };
        var images = new Option<string?>("--images") { Description = "a folder of images (JPEG, PNG, WebP) instead of a dataset" };
        var tsv = new Option<string?>("--from-tsv") { Description = "import bottom-up-attention TSV features (image_id, image_w, image_h, num_boxes, boxes, features) instead of extracting" };
        var output = new Option<string>("--out") { Description = "feature store folder (created, or extended: stored images are skipped)", Required = true };
        var boxes = new Option<string?>("--boxes") { Description = "labelled boxes: objects.jsonl lines or COCO instances JSON" };
        var detector = new Option<string?>("--detector") { Description = "YOLOX ONNX model for images without given boxes" };
        var maxRegions = new Option<int>("--max-regions") { Description = "most regions per image, the whole image included", DefaultValueFactory = _ => 36 }.AtLeast(1);
        var gridAlways = new Option<bool>("--grid-always")
        {
            Description = "add a 3x3 grid of cells after the detector boxes in every image, not only where nothing is detected: the scene around the objects, as regions the cross-modal layers attend to",
        };
        var inputSize = new Option<int>("--input-size")
        {
            Description = "side in pixels each photo is resized to for ResNet-18 (a multiple of 32): 448 gives a 14 x 14 map, so that a small box has more than a cell or two to pool from; 224 is the network's own",
            DefaultValueFactory = _ => ResNetFeatureExtractor.InputSize,
        };
        var fp16 = new Option<bool>("--fp16") { Description = "store features as float16 (half the disk)" };
        var skipBad = new Option<bool>("--skip-bad") { Description = "skip and count bad images or entries instead of stopping" };
        var shardSize = new Option<int>("--shard-size") { Description = "images per shard", DefaultValueFactory = _ => 256 };
        var layer3Maps = new Option<bool>("--layer3-maps")
        {
            Description = "store each image's ResNet-18 map after layer3 (256 x 14 x 14) instead of region features, with the last stage's weights beside: what finetune --visual-maps trains that stage from",
        };
        var model = new Option<string?>("--model")
        {
            Description = "a model fine-tuned with --visual-maps: its own CNN stage computes the region features (the store then serves that model: evaluate, index, search)",
        };
        var command = new Command("features", "Extract region features from raw images into a feature store")
        {
            dataset, images, tsv, output, boxes, detector, maxRegions, gridAlways, inputSize, fp16, skipBad, shardSize, layer3Maps, model,
        };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            var store = parse.GetValue(output)!;
            var sources = new[] { parse.GetValue(dataset), parse.GetValue(images), parse.GetValue(tsv) }.Count(s => s is not null);
            if (sources != 1) throw new ArgumentException("give exactly one of --dataset, --images or --from-tsv");
            var maps = parse.GetValue(layer3Maps);
            if (maps && (parse.GetValue(boxes) is not null || parse.GetValue(detector) is not null || parse.GetValue(tsv) is not null))
                throw new ArgumentException("--layer3-maps stores each image's whole map: --boxes, --detector and --from-tsv do not apply");
            if (parse.GetValue(gridAlways) && (maps || parse.GetValue(tsv) is not null))
                throw new ArgumentException("--grid-always adds cells to extracted regions: not with --layer3-maps or --from-tsv");
            if (parse.GetValue(inputSize) != ResNetFeatureExtractor.InputSize && (maps || parse.GetValue(tsv) is not null))
                throw new ArgumentException("--input-size resizes the photos of extracted regions: not with --layer3-maps (whose maps are 224's) or --from-tsv");
            if (parse.GetValue(model) is not null && (maps || parse.GetValue(tsv) is not null))
                throw new ArgumentException("--model computes region features with a model's CNN stage: not with --layer3-maps or --from-tsv");
            if (parse.GetValue(tsv) is { } tsvPath)
            {
                var skippedLines = parse.GetValue(skipBad) ? new DatasetReport() : null;
                var imported = ProgressDisplay.Run("import", (progress, cancel) =>
                    BottomUpTsvReader.Import(tsvPath, store, parse.GetValue(fp16), parse.GetValue(shardSize),
                        new Progress<int>(n => progress.Report(new ProgressDisplay.Update(n, n, "images"))), cancel, skippedLines));
                Console.WriteLine($"features: imported {imported} images into {store}" + (skippedLines is { Skipped: > 0 } ? $"; skipped {skippedLines.Skipped} bad lines" : ""));
                foreach (var reason in skippedLines?.Reasons ?? []) Console.WriteLine($"  skipped: {reason}");
                return 0;
            }
            var report = new DatasetReport();
            var list = parse.GetValue(dataset) is { } datasetPath
                ? DatasetReader.Read(datasetPath, new DatasetReadOptions { SkipBad = parse.GetValue(skipBad), Report = report })
                    .Select(i => (i.Id, i.Location)).DistinctBy(i => i.Id).ToList()
                : FeatureExtractionJob.ImagesInFolder(parse.GetValue(images)!);
            var givenBoxes = parse.GetValue(boxes) is { } boxesPath ? RegionBoxFile.Read(boxesPath) : null;
            var threads = parse.GetValue(CommandLine.ThreadsOption);
            using var stageModel = parse.GetValue(model) is { } modelPath ? InterBert.Workflows.ModelLoading.LoadStageModel(modelPath) : null;
            using var extractor = RegionFeatureExtractor.Open(parse.GetValue(detector), parse.GetValue(maxRegions), threads, stage: stageModel, parallelImages: true, gridAlways: parse.GetValue(gridAlways),
                inputSize: parse.GetValue(inputSize));
            var result = ProgressDisplay.Run("features", (progress, cancel) => FeatureExtractionJob.Run(
                list, extractor, givenBoxes, store, parse.GetValue(fp16), parse.GetValue(skipBad), parse.GetValue(shardSize),
                new Progress<FeatureExtractionJob.Progress>(p => progress.Report(new ProgressDisplay.Update(p.Done, p.Total, $"stored {p.Stored}, skipped {p.Skipped}"))), cancel,
                layer3Maps: maps));
            var perSecond = result.Stored / Math.Max(result.Elapsed.TotalSeconds, 1e-9);
            Console.WriteLine($"features: stored {result.Stored}, already stored {result.AlreadyStored}, skipped {result.Skipped + report.Skipped} in {result.Elapsed.TotalSeconds:F1} s ({perSecond:F1} images/s) → {store}");
            foreach (var reason in report.Reasons.Concat(result.SkipReasons)) Console.WriteLine($"  skipped: {reason}");
            if (result.Cancelled) Console.WriteLine("features: interrupted; run the same command again to continue");
            return result.Cancelled ? 130 : 0;
        }));

        var infoStore = new Argument<string>("store") { Description = "feature store folder" };
        var info = new Command("info", "Summarise a feature store") { infoStore };
        info.SetAction(CommandLine.Guarded(parse =>
        {
            using var store = FeatureStore.Open(parse.GetValue(infoStore)!);
            var entries = store.Entries.ToList();
            var m = store.Manifest;
            Console.WriteLine($"store: {store.Folder}");
            Console.WriteLine($"images: {store.Count:N0} in {store.ShardCount} shards");
            Console.WriteLine($"features: {m.FeatureSize}-d {m.DType}; class distributions: {(m.ClassCount > 0 ? $"{m.ClassCount} classes, on {entries.Count(e => e.HasClasses):N0} images" : "none")}");
            if (m.ClassNames is { } names) Console.WriteLine($"classes: {string.Join(", ", names.Take(8))}{(names.Count > 8 ? $", ... ({names.Count} in all)" : "")}");
            if (entries.Count > 0)
                Console.WriteLine($"regions per image: min {entries.Min(e => e.Regions)}, mean {entries.Average(e => e.Regions):F1}, max {entries.Max(e => e.Regions)}");
            Console.WriteLine($"extractor: {m.Extractor}");
            var bytes = Directory.GetFiles(store.Folder, "shard-*.bin").Sum(f => new FileInfo(f).Length);
            Console.WriteLine($"size: {bytes / 1048576.0:F1} MiB");
            return 0;
        }));
        command.Subcommands.Add(info);
        return command;
    }
}
