using InterBert.Data;
using InterBert.Modeling;
using InterBert.Search;
using InterBert.Vision;
using InterBert.Weights;

namespace InterBert.Workflows;

/// <summary>The <c>index</c> job: the image vectors of a model in an approximate-nearest-neighbour index for two-stage search.</summary>
public static class IndexJob
{
    private static readonly object Gate = new();
    private static IReadOnlyList<IIndexJobBackend> backends = [];

    /// <summary>Adds a database backend the job can write (once per name).</summary>
    public static void Register(IIndexJobBackend backend)
    {
        lock (Gate)
            if (backends.All(b => b.Name != backend.Name)) backends = [.. backends, backend];
    }

    /// <summary>The registered database backend of that name; refuses one this process lacks.</summary>
    public static IIndexJobBackend Backend(string name)
    {
        lock (Gate) return backends.FirstOrDefault(b => b.Name == name) ?? throw ImageIndexes.NotAvailable(name);
    }

    /// <summary>Builds (or continues) the index as a stage of <paramref name="host"/>; logs what it wrote.</summary>
    public static ImageIndex.BuildResult Run(IndexJobOptions options, WorkflowHost host, CancellationToken cancel = default)
    {
        if (options.Remove.Count == 0 && !ModelCheckpoint.ReadMetadata(options.Weights).ContainsKey(ContrastiveLoss.WeightMetadataKey))
            host.Log($"index: note: {options.Weights} was not trained with the contrastive loss; its text and image vectors may not be aligned, so first-stage candidates can miss (fine-tune with --contrastive-weight)");
        if (RegionsNote(options) is { } note) host.Log(note);
        if (options.Update) throw new ArgumentException("an update is FolderIndexUpdate.Run's work (index --update)");
        if (options.Connection is not null)
            return Backend("postgres").Index(options, host, cancel);
        if (options.Append || options.Remove.Count > 0 || options.Table is not null)
            throw new ArgumentException("--append, --remove and --table belong to a database index (--backend postgres)");
        if (options.Output is null) throw new ArgumentException("--out is required: the index folder");
        ImageIndex.ClaimFolder(options.Output);
        var result = host.RunStage("index", (progress, stop) => Build(options, progress, stop), cancel);
        if (result.Cancelled)
        {
            host.Log($"index: interrupted after {result.Count} images; run the same command again to continue");
            return result;
        }
        host.Log($"index: {result.Count} images ({ModelCheckpoint.ReadConfig(options.Weights).BiHiddenSize}-d vectors{(result.Resumed > 0 ? $", {result.Resumed} from an earlier run" : "")}) in {result.Elapsed.TotalSeconds:F1} s → {options.Output}");
        host.Log($"search it: ./interbert search --index {options.Output} \"a query\"    serve it: ./interbert serve --index {options.Output}");
        return result;
    }

    /// <summary>
    /// A note when the model learnt on regions made otherwise than the store's: the grid's cells in every photo or only
    /// where nothing was detected (<c>features --grid-always</c>), or photos resized to another side (<c>features
    /// --input-size</c>). The model still ranks, less well than on regions like its training's; null when they agree or
    /// either does not say.
    /// </summary>
    internal static string? RegionsNote(IndexJobOptions options)
    {
        if (options.Features is not { } features || !File.Exists(Path.Combine(features, FeatureStore.ManifestFile))) return null;
        var modelFolder = Directory.Exists(options.Weights) ? options.Weights : Path.GetDirectoryName(Path.GetFullPath(options.Weights))!;
        var trained = ImagePreprocessing.ReadFrom(modelFolder)?.Regions;
        if (trained is null || FeatureStore.ReadManifest(features).Regions is not { } stored) return null;
        var differences = new List<string>();
        if (trained.GridAlways != stored.GridAlways)
            differences.Add($"{(trained.GridAlways ? "with" : "without")} a grid in every photo (the store {(stored.GridAlways ? "with" : "without")}; features {(trained.GridAlways ? "--grid-always" : "without --grid-always")})");
        if (trained.Side != stored.Side)
            differences.Add($"photos resized to {trained.Side} pixels (the store's to {stored.Side}; features --input-size {trained.Side})");
        if (differences.Count == 0) return null;
        return $"index: note: {options.Weights} was trained on regions {string.Join(" and ", differences)}: extract {features}'s photos as the model's were for its best ranking";
    }

    /// <summary>Builds (or continues) the index, reporting images done; the recipes run it as one of their stages.</summary>
    public static ImageIndex.BuildResult Build(IndexJobOptions options, IProgress<WorkflowProgress>? progress = null, CancellationToken cancel = default)
    {
        if (options.Output is null) throw new ArgumentException("--out is required: the index folder");
        using var store = FeatureStore.Open(options.Features ?? throw new ArgumentException("--features is required"));
        var images = ImagesToIndex(store, options.Dataset, options.Split, options.ImagesFolder);
        var (model, _, _, _) = ModelLoading.Load(options.Weights, store, options.Precision);
        using (model)
        {
            var settings = new ImageIndexManifest { ExactBelow = options.ExactBelow, Connectivity = Math.Max(2, options.Connectivity) };
            return ImageIndex.Build(model, options.Weights, store, images, options.Output, settings,
                new Progress<(int Done, int Total)>(p => progress?.Report(new WorkflowProgress(p.Done, p.Total, "images"))), cancel);
        }
    }

    /// <summary>The images to index with their files: a dataset's (one split or all), a folder's, or the whole store's.</summary>
    public static List<IndexedImage> ImagesToIndex(FeatureStore store, string? datasetPath, string? split, string? imagesFolder)
    {
        if (datasetPath is not null && imagesFolder is not null) throw new ArgumentException("give --dataset or --images, not both");
        if (split is not null && datasetPath is null) throw new ArgumentException("--split needs --dataset");
        List<(string Id, ImageLocation Location)>? located = null;
        string source;
        if (datasetPath is not null)
        {
            located = DatasetReader.Read(datasetPath).Where(i => split is null || i.Split == split).Select(i => (i.Id, i.Location)).DistinctBy(i => i.Id).ToList();
            source = split is null ? datasetPath : $"{datasetPath} (split {split})";
        }
        else if (imagesFolder is not null)
        {
            located = FeatureExtractionJob.ImagesInFolder(imagesFolder).Where(i => store.Contains(i.Id)).ToList();
            source = imagesFolder;
        }
        else
        {
            return store.Ids.Order(StringComparer.Ordinal).Select(id => new IndexedImage(id, null)).ToList();
        }
        var missing = located.Where(i => !store.Contains(i.Id)).ToList();
        if (missing.Count > 0)
            throw new InterBertException($"{source}: {missing.Count} images have no features in {store.Folder} (first: {missing[0].Id}); run 'interbert features' on them first");
        if (located.Count == 0) throw new InterBertException($"{source}: no images to index");
        // Images inside a base64 TSV (MUGE) have no file of their own to serve.
        return located.Select(i => new IndexedImage(i.Id, i.Location.Base64LineOffset < 0 ? Path.GetFullPath(i.Location.Path) : null)).ToList();
    }
}
