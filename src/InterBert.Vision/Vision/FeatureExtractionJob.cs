using System.Diagnostics;
using System.Runtime.ExceptionServices;
using InterBert.Data;

namespace InterBert.Vision;

/// <summary>
/// Extracts and stores the region features of many images: skips images already in the store (resume),
/// writes shards atomically, and either stops at the first bad image with a one-line error or, with
/// <c>skipBad</c>, skips and counts it. Cancellation writes what was extracted so far.
/// </summary>
public static class FeatureExtractionJob
{
    /// <summary>Progress: images done (stored, reused or skipped) of the total.</summary>
    public sealed record Progress(int Done, int Total, int Stored, int Skipped);

    /// <summary>What a run did.</summary>
    public sealed record Result(int Stored, int AlreadyStored, int Skipped, IReadOnlyList<string> SkipReasons, TimeSpan Elapsed, bool Cancelled);

    /// <summary>
    /// Runs the extraction of <paramref name="images"/> into the store at <paramref name="storeFolder"/>; the ids in
    /// <paramref name="replace"/> are extracted again even when stored (their files changed). With
    /// <paramref name="layer3Maps"/>, each record is the image's map after layer3 instead of its regions, and the last
    /// stage's weights are written beside (<see cref="WriteStageWeights"/>).
    /// </summary>
    public static Result Run(
        IReadOnlyList<(string Id, ImageLocation Location)> images, RegionFeatureExtractor extractor,
        IReadOnlyDictionary<string, List<RegionBox>>? boxes, string storeFolder, bool float16, bool skipBad,
        int shardSize = 256, IProgress<Progress>? progress = null, CancellationToken cancel = default, IReadOnlySet<string>? replace = null,
        bool layer3Maps = false)
    {
        if (layer3Maps && extractor.InputSize != ResNetFeatureExtractor.InputSize)
            throw new InterBertException($"input size {extractor.InputSize}: layer3 maps are stored for 224-pixel photos, the size a model's CNN stage trains on");
        // Given boxes with categories of their own set the classes; otherwise they are the detector's 80 COCO ones.
        var classNames = boxes is null ? null : RegionBoxFile.ClassNames(boxes);
        var manifest = layer3Maps
            ? new FeatureStoreManifest
            {
                FeatureSize = RegionFeatureExtractor.Layer3MapShape.Aggregate(1, (a, b) => a * b), MapShape = RegionFeatureExtractor.Layer3MapShape,
                DType = float16 ? "float16" : "float32", Extractor = $"ResNet-18 (Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1) {ResNetFeatureExtractor.InputSize}x{ResNetFeatureExtractor.InputSize}, the map after layer3",
            }
            : new FeatureStoreManifest
            {
                FeatureSize = ResNetFeatureExtractor.FeatureSize, ClassCount = classNames?.Count ?? RegionFeatureExtractor.ClassCount,
                ClassNames = classNames is null || ReferenceEquals(classNames, CocoCategories.Names) ? null : classNames,
                DType = float16 ? "float16" : "float32", Extractor = extractor.Describe(givenBoxes: boxes is not null),
                Regions = extractor.Source(givenBoxes: boxes is not null), VisualStage = extractor.Stage?.VisualStageFingerprint(),
            };
        using var writer = new FeatureStoreWriter(storeFolder, manifest, shardSize);
        var watch = Stopwatch.StartNew();
        int stored = 0, already = 0, skipped = 0, done = 0;
        var reasons = new List<string>();
        var workers = extractor.Workers;
        var pending = new List<(string Id, ImageLocation Location)>(workers.Count);
        // Up to one image per worker at a time, extracted at once and stored in input order: the store's content and
        // order, and the image a bad-image error names, are those of one image at a time.
        void ExtractPending()
        {
            var results = new (ImageRegions? Regions, string? Sha256, ExceptionDispatchInfo? Error)[pending.Count];
            void ExtractOne(int k)
            {
                var (id, location) = pending[k];
                try
                {
                    var given = boxes is null ? null : boxes.GetValueOrDefault(id) ?? boxes.GetValueOrDefault(id.TrimStart('0'));
                    var bytes = location.ReadBytes();
                    var regions = layer3Maps ? workers[k].ExtractLayer3Map(id, bytes, location.ToString()) : workers[k].Extract(id, bytes, location.ToString(), given);
                    // The file's hash goes with its features, so a later update can tell a changed photo from the one stored.
                    var sha256 = location.Base64LineOffset < 0 ? Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)) : null;
                    results[k] = (regions, sha256, null);
                }
                catch (Exception e)
                {
                    results[k] = (null, null, ExceptionDispatchInfo.Capture(e));
                }
            }
            if (pending.Count == 1) ExtractOne(0);
            else Parallel.For(0, pending.Count, new ParallelOptions { MaxDegreeOfParallelism = pending.Count }, ExtractOne);
            for (var k = 0; k < pending.Count; k++)
            {
                var (regions, sha256, error) = results[k];
                if (error?.SourceException is InterBertException bad && skipBad)
                {
                    skipped++;
                    if (reasons.Count < 20) reasons.Add(bad.Message);
                }
                else if (error is not null)
                {
                    error.Throw();
                }
                else
                {
                    if (replace?.Contains(pending[k].Id) == true) writer.Replace(regions!, sha256);
                    else writer.Add(regions!, sha256);
                    stored++;
                }
                progress?.Report(new Progress(++done, images.Count, stored, skipped));
            }
            pending.Clear();
        }
        foreach (var (id, location) in images)
        {
            if (cancel.IsCancellationRequested) break;
            if (writer.Contains(id) && replace?.Contains(id) != true)
            {
                already++;
                progress?.Report(new Progress(++done, images.Count, stored, skipped));
                continue;
            }
            pending.Add((id, location));
            if (pending.Count == workers.Count) ExtractPending();
        }
        if (pending.Count > 0 && !cancel.IsCancellationRequested) ExtractPending();
        writer.Flush();
        if (layer3Maps) WriteStageWeights(storeFolder);
        return new Result(stored, already, skipped, reasons, watch.Elapsed, cancel.IsCancellationRequested);
    }

    /// <summary>
    /// Writes the packaged network's last stage beside its layer3 maps (<see cref="Tasks.VisualStageInputs.StageWeightsFile"/>):
    /// the stage that continues them, where a model that trains its own starts. Written once; an existing file is kept.
    /// </summary>
    public static void WriteStageWeights(string storeFolder)
    {
        var path = Path.Combine(storeFolder, Tasks.VisualStageInputs.StageWeightsFile);
        if (File.Exists(path)) return;
        using var network = TrainableResNet18.FromPackagedGraphs();
        var state = network.StageState();
        try
        {
            AtomicFile.Write(path, temporary =>
            {
                using var stream = File.Create(temporary);
                TorchSharp.PyBridge.Safetensors.SaveStateDict(stream, state);
            });
        }
        finally
        {
            foreach (var tensor in state.Values) tensor.Dispose();
        }
    }

    /// <summary>The images of a folder (JPEG, PNG, WebP; recursive), identified by file name without extension.</summary>
    public static List<(string Id, ImageLocation Location)> ImagesInFolder(string folder)
    {
        if (!Directory.Exists(folder)) throw new InterBertException($"{folder}: images folder not found");
        string[] extensions = [".jpg", ".jpeg", ".png", ".webp"];
        return Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal)
            .Select(f => (Path.GetFileNameWithoutExtension(f), new ImageLocation(f)))
            .ToList();
    }
}
