using System.Security.Cryptography;
using InterBert.Data;
using InterBert.Search;
using InterBert.Vision;

namespace InterBert.Workflows;

/// <summary>
/// <c>index --images DIR --update</c>: brings an index in line with a folder of photos that keeps changing. Each
/// photo is known by its id (file name) and the SHA-256 of its file: new and changed photos get features (appended to
/// the store, a changed photo's superseding its old ones) and vectors; photos no longer in the folder leave the index;
/// the rest keep the vectors they have. A folder index is written beside the old one and swapped in whole, a database
/// index changed in one transaction, so an interrupted update leaves the old index working and a re-run finishes the job.
/// </summary>
public static class FolderIndexUpdate
{
    /// <summary>What an update found and did.</summary>
    public sealed record Result(int Added, int Changed, int Removed, int Unchanged, int Embedded, int Skipped, bool Cancelled)
    {
        /// <summary>Whether the index needed no change.</summary>
        public bool UpToDate => Added == 0 && Changed == 0 && Removed == 0 && Embedded == 0;
    }

    /// <summary>
    /// What a folder holds against what an index holds: the photos to index (in folder order, each with its file's
    /// hash), for each the position of the index entry whose vector still holds (-1: embed it), the ids to remove, and counts.
    /// </summary>
    public sealed record Plan(IReadOnlyList<IndexedImage> Images, IReadOnlyList<int> Reuse, IReadOnlyList<string> Removed, int Added, int Changed, int Unchanged, int Skipped, bool Cancelled)
    {
        /// <summary>Photos whose vectors must be computed.</summary>
        public int Embedded => Reuse.Count(r => r < 0);

        /// <summary>The result of carrying the plan out.</summary>
        public Result Done => new(Added, Changed, Removed.Count, Unchanged, Embedded, Skipped, false);
    }

    /// <summary>
    /// Updates (or first builds) the index from <see cref="IndexJobOptions.ImagesFolder"/> as stages of <paramref name="host"/>:
    /// the folder index <see cref="IndexJobOptions.Output"/>, or with a connection, the database index of a registered backend.
    /// </summary>
    public static Result Run(IndexJobOptions options, WorkflowHost host, CancellationToken cancel = default)
    {
        if (options.Connection is not null) return IndexJob.Backend("postgres").Update(options, host, cancel);
        var output = options.Output ?? throw new ArgumentException("--out is required: the index folder");
        if (IndexJob.RegionsNote(options) is { } note) host.Log(note);
        ImageIndex.ClaimFolder(output);
        using var old = File.Exists(Path.Combine(output, ImageIndex.ManifestFile)) ? ImageIndex.Open(output) : null;
        old?.CheckModel(options.Weights);
        var plan = Prepare(options, old?.Images ?? [], host, cancel);
        if (plan.Cancelled) return Cancelled(host);
        var (images, reuse) = (plan.Images, plan.Reuse);
        // Nothing new, nothing gone, every photo where it was: the index stays as it is (its hashes recorded once).
        if (old is not null && plan.Embedded == 0 && plan.Removed.Count == 0 && images.Select(i => (i.Id, i.ImagePath, i.Sha256)).SequenceEqual(old.Images.Select(i => (i.Id, i.ImagePath, i.Sha256))))
        {
            host.Log($"index: {output} is up to date with {options.ImagesFolder} ({images.Count} photos)");
            return plan.Done;
        }

        using var current = FeatureStore.Open(options.Features!);
        var (model, _, _, _) = ModelLoading.Load(options.Weights, current, options.Precision);
        using (model)
        {
            var settings = old?.Manifest ?? new ImageIndexManifest { ExactBelow = options.ExactBelow, Connectivity = Math.Max(2, options.Connectivity) };
            var manifest = ImageIndex.Describe(model, options.Weights, current, images, settings);
            float[] VectorsOf(int start, IReadOnlyList<IndexedImage> block)
            {
                var dimension = manifest.Dimension;
                var values = new float[block.Count * dimension];
                var computeAt = Enumerable.Range(0, block.Count).Where(k => reuse[start + k] < 0).ToList();
                if (computeAt.Count > 0)
                {
                    var computed = ImageIndex.ComputeVectors(model, current, computeAt.Select(k => block[k]).ToList());
                    for (var j = 0; j < computeAt.Count; j++) Array.Copy(computed, j * dimension, values, computeAt[j] * dimension, dimension);
                }
                for (var k = 0; k < block.Count; k++)
                    if (reuse[start + k] >= 0) old!.Vector(reuse[start + k]).CopyTo(values.AsSpan(k * dimension, dimension));
                return values;
            }
            var written = host.RunStage("index", (progress, stop) => ImageIndex.Write(output, manifest, images, VectorsOf, 64,
                new Progress<(int Done, int Total)>(p => progress.Report(new WorkflowProgress(p.Done, p.Total, "images"))), stop), cancel);
            if (written.Cancelled) return Cancelled(host);
        }
        LogUpdated(host, output, options.ImagesFolder!, plan);
        return plan.Done;
    }

    /// <summary>Logs what an update did (the same line for every backend).</summary>
    public static void LogUpdated(WorkflowHost host, string index, string folder, Plan plan) =>
        host.Log($"index: updated {index} from {folder}: {plan.Added} new, {plan.Changed} changed, {plan.Removed.Count} removed, {plan.Unchanged} unchanged; {plan.Embedded} embedded{(plan.Skipped > 0 ? $", {plan.Skipped} unreadable skipped" : "")}");

    /// <summary>
    /// Compares the folder with an index's entries (<paramref name="before"/>, in the index's order, with the hashes they
    /// were embedded from) and brings the feature store up to date: hashes every photo, extracts the features of new and
    /// changed ones (resumable: an interrupted extraction keeps what it wrote). Nothing of the index is changed.
    /// </summary>
    public static Plan Prepare(IndexJobOptions options, IReadOnlyList<IndexedImage> before, WorkflowHost host, CancellationToken cancel)
    {
        var photosFolder = options.ImagesFolder ?? throw new ArgumentException("--update needs --images: the folder the index follows");
        var storeFolder = options.Features ?? throw new ArgumentException("--features is required");
        if (options.Dataset is not null) throw new ArgumentException("--update follows a folder (--images), not a dataset");
        if (!File.Exists(Path.Combine(storeFolder, FeatureStore.ManifestFile)))
            throw new InterBertException($"{storeFolder}: no feature store yet; run 'interbert features --images {photosFolder} --out {storeFolder}' once first (it sets how photos become regions)");
        var photos = FeatureExtractionJob.ImagesInFolder(photosFolder);
        if (photos.GroupBy(p => p.Id).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new InterBertException($"{photosFolder}: two photos are named {twice.Key} ({string.Join(", ", twice.Select(p => p.Location.Path))}); photos are known by file name, so rename one");
        var stopped = new Plan([], [], [], 0, 0, 0, 0, true);
        var hashes = host.RunStage("hash", (progress, stop) =>
        {
            var values = new string[photos.Count];
            for (var k = 0; k < photos.Count && !stop.IsCancellationRequested; k++)
            {
                using (var file = File.OpenRead(photos[k].Location.Path)) values[k] = Convert.ToHexStringLower(SHA256.HashData(file));
                progress.Report(new WorkflowProgress(k + 1, photos.Count, "photos"));
            }
            return values;
        }, cancel);
        if (cancel.IsCancellationRequested) return stopped;
        var indexed = before.Select((image, position) => (image, position)).ToDictionary(e => e.image.Id, e => e);

        // Features: photos the store lacks, and photos whose file is not the one their features (or their vector) came from.
        var extract = new List<(string Id, ImageLocation Location)>();
        var replace = new HashSet<string>(StringComparer.Ordinal);
        ImagePreprocessing preprocessing;
        string dtype;
        string? visualStage;
        using (var store = FeatureStore.Open(storeFolder))
        {
            preprocessing = ImagePreprocessing.Of(store.Manifest)
                ?? throw new InterBertException($"{storeFolder}: the store's features were imported; an update needs a store made by 'interbert features' (it knows how photos become regions)");
            dtype = store.Manifest.DType;
            visualStage = store.Manifest.VisualStage;
            for (var k = 0; k < photos.Count; k++)
            {
                var (id, location) = photos[k];
                var known = store.Sha256Of(id) ?? (indexed.TryGetValue(id, out var entry) ? entry.image.Sha256 : null);
                if (!store.Contains(id)) extract.Add((id, location));
                else if (known is not null && known != hashes[k])
                {
                    extract.Add((id, location));
                    replace.Add(id);
                }
            }
        }
        var skipped = 0;
        if (extract.Count > 0)
        {
            // Features computed by a model's own CNN stage are extended by the same stage: the index's model.
            using var stageModel = visualStage is null ? null : ModelLoading.LoadStageModel(options.Weights, options.Precision, visualStage);
            using var extractor = RegionFeatureExtractor.Open(preprocessing.ResolveDetector(storeFolder), preprocessing.Regions.MaxRegions, 0, preprocessing.Regions.GridSize, stageModel, parallelImages: true, gridAlways: preprocessing.Regions.GridAlways,
                inputSize: preprocessing.Regions.Side);
            var extracted = host.RunStage("features", (progress, stop) => FeatureExtractionJob.Run(extract, extractor, null, storeFolder, dtype == "float16", options.SkipBad,
                progress: new Progress<FeatureExtractionJob.Progress>(p => progress.Report(new WorkflowProgress(p.Done, p.Total, $"photos, {p.Skipped} skipped"))),
                cancel: stop, replace: replace), cancel);
            skipped = extracted.Skipped;
            foreach (var reason in extracted.SkipReasons) host.Log($"index: skipped {reason}");
            if (extracted.Cancelled) return stopped;
        }

        using var current = FeatureStore.Open(storeFolder);
        var refreshed = extract.Select(e => e.Id).ToHashSet(StringComparer.Ordinal);
        var images = new List<IndexedImage>(photos.Count);
        var reuse = new List<int>(photos.Count);
        int added = 0, changed = 0, unchanged = 0;
        for (var k = 0; k < photos.Count; k++)
        {
            var (id, location) = photos[k];
            // A photo that could not be read (skipped) has no features of its own: it leaves the index.
            if (!current.Contains(id) || (refreshed.Contains(id) && current.Sha256Of(id) != hashes[k])) continue;
            images.Add(new IndexedImage(id, Path.GetFullPath(location.Path), hashes[k]));
            var fresh = !indexed.TryGetValue(id, out var entry) || refreshed.Contains(id) || (entry.image.Sha256 is { } was && was != hashes[k]);
            reuse.Add(fresh ? -1 : entry.position);
            if (!indexed.ContainsKey(id)) added++;
            else if (fresh) changed++;
            else unchanged++;
        }
        var kept = images.Select(i => i.Id).ToHashSet(StringComparer.Ordinal);
        var removed = before.Select(i => i.Id).Where(id => !kept.Contains(id)).ToList();
        if (images.Count == 0) throw new InterBertException($"{photosFolder}: no photos to index");
        return new Plan(images, reuse, removed, added, changed, unchanged, skipped, false);
    }

    private static Result Cancelled(WorkflowHost host)
    {
        host.Log("index: update interrupted; run the same command again to finish it (the index in place is untouched)");
        return new Result(0, 0, 0, 0, 0, 0, true);
    }
}
