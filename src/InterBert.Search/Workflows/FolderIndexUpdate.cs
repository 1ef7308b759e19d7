using System.Security.Cryptography;
using InterBert.Data;
using InterBert.Search;
using InterBert.Vision;

namespace InterBert.Workflows;

/// <summary>
/// <c>index --images DIR --update</c>: brings a folder index in line with a folder of photos that keeps changing. Each
/// photo is known by its id (file name) and the SHA-256 of its file: new and changed photos get features (appended to
/// the store, a changed photo's superseding its old ones) and vectors; photos no longer in the folder leave the index;
/// the rest keep the vectors they have. The new index is written beside the old one and swapped in whole, so an
/// interrupted update leaves the old index working and a re-run finishes the job.
/// </summary>
public static class FolderIndexUpdate
{
    /// <summary>What an update found and did.</summary>
    public sealed record Result(int Added, int Changed, int Removed, int Unchanged, int Embedded, int Skipped, bool Cancelled)
    {
        /// <summary>Whether the index needed no change.</summary>
        public bool UpToDate => Added == 0 && Changed == 0 && Removed == 0 && Embedded == 0;
    }

    /// <summary>Updates (or first builds) the index <see cref="IndexJobOptions.Output"/> from <see cref="IndexJobOptions.ImagesFolder"/> as stages of <paramref name="host"/>.</summary>
    public static Result Run(IndexJobOptions options, WorkflowHost host, CancellationToken cancel = default)
    {
        var photosFolder = options.ImagesFolder ?? throw new ArgumentException("--update needs --images: the folder the index follows");
        var output = options.Output ?? throw new ArgumentException("--out is required: the index folder");
        var storeFolder = options.Features ?? throw new ArgumentException("--features is required");
        if (options.Dataset is not null) throw new ArgumentException("--update follows a folder (--images), not a dataset");
        if (!File.Exists(Path.Combine(storeFolder, FeatureStore.ManifestFile)))
            throw new InterBertException($"{storeFolder}: no feature store yet; run 'interbert features --images {photosFolder} --out {storeFolder}' once first (it sets how photos become regions)");
        ImageIndex.ClaimFolder(output);
        var photos = FeatureExtractionJob.ImagesInFolder(photosFolder);
        if (photos.GroupBy(p => p.Id).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new InterBertException($"{photosFolder}: two photos are named {twice.Key} ({string.Join(", ", twice.Select(p => p.Location.Path))}); photos are known by file name, so rename one");
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
        if (cancel.IsCancellationRequested) return Cancelled(host);

        using var old = File.Exists(Path.Combine(output, ImageIndex.ManifestFile)) ? ImageIndex.Open(output) : null;
        old?.CheckModel(options.Weights);
        var before = old?.Images.Select((image, position) => (image, position)).ToDictionary(e => e.image.Id, e => e) ?? [];

        // Features: photos the store lacks, and photos whose file is not the one their features (or their vector) came from.
        var extract = new List<(string Id, ImageLocation Location)>();
        var replace = new HashSet<string>(StringComparer.Ordinal);
        ImagePreprocessing preprocessing;
        string dtype;
        using (var store = FeatureStore.Open(storeFolder))
        {
            preprocessing = ImagePreprocessing.Of(store.Manifest)
                ?? throw new InterBertException($"{storeFolder}: the store's features were imported; an update needs a store made by 'interbert features' (it knows how photos become regions)");
            dtype = store.Manifest.DType;
            for (var k = 0; k < photos.Count; k++)
            {
                var (id, location) = photos[k];
                var known = store.Sha256Of(id) ?? (before.TryGetValue(id, out var entry) ? entry.image.Sha256 : null);
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
            using var extractor = RegionFeatureExtractor.Open(preprocessing.ResolveDetector(storeFolder), preprocessing.Regions.MaxRegions, 0, preprocessing.Regions.GridSize);
            var extracted = host.RunStage("features", (progress, stop) => FeatureExtractionJob.Run(extract, extractor, null, storeFolder, dtype == "float16", options.SkipBad,
                progress: new Progress<FeatureExtractionJob.Progress>(p => progress.Report(new WorkflowProgress(p.Done, p.Total, $"photos, {p.Skipped} skipped"))),
                cancel: stop, replace: replace), cancel);
            skipped = extracted.Skipped;
            foreach (var reason in extracted.SkipReasons) host.Log($"index: skipped {reason}");
            if (extracted.Cancelled) return Cancelled(host);
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
            var fresh = !before.TryGetValue(id, out var entry) || refreshed.Contains(id) || (entry.image.Sha256 is { } was && was != hashes[k]);
            reuse.Add(fresh ? -1 : entry.position);
            if (!before.ContainsKey(id)) added++;
            else if (fresh) changed++;
            else unchanged++;
        }
        var kept = images.Select(i => i.Id).ToHashSet(StringComparer.Ordinal);
        var removed = before.Keys.Count(id => !kept.Contains(id));
        var embedded = reuse.Count(r => r < 0);
        // Nothing new, nothing gone, every photo where it was: the index stays as it is (its hashes recorded once).
        if (old is not null && embedded == 0 && removed == 0 && images.Select(i => (i.Id, i.ImagePath, i.Sha256)).SequenceEqual(old.Images.Select(i => (i.Id, i.ImagePath, i.Sha256))))
        {
            host.Log($"index: {output} is up to date with {photosFolder} ({images.Count} photos)");
            return new Result(0, 0, 0, unchanged, 0, skipped, false);
        }
        if (images.Count == 0) throw new InterBertException($"{photosFolder}: no photos to index");

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
        host.Log($"index: updated {output} from {photosFolder}: {added} new, {changed} changed, {removed} removed, {unchanged} unchanged; {embedded} embedded{(skipped > 0 ? $", {skipped} unreadable skipped" : "")}");
        return new Result(added, changed, removed, unchanged, embedded, skipped, false);
    }

    private static Result Cancelled(WorkflowHost host)
    {
        host.Log("index: update interrupted; run the same command again to finish it (the index in place is untouched)");
        return new Result(0, 0, 0, 0, 0, 0, true);
    }
}
