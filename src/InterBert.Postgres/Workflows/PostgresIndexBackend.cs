using InterBert.Data;
using InterBert.Search;

namespace InterBert.Workflows;

/// <summary>
/// PostgreSQL as an index backend (<c>--backend postgres</c>): <c>postgres://</c> URLs, connection strings and JSON
/// pointer files open a <see cref="PostgresImageIndex"/>, and the index job writes one. A host adds it with
/// <see cref="Register"/> (the command line does).
/// </summary>
public sealed class PostgresIndexBackend : IImageIndexBackend, IIndexJobBackend
{
    /// <summary>Registers PostgreSQL with <see cref="ImageIndexes"/> (search) and <see cref="IndexJob"/> (writing) for this process.</summary>
    public static void Register()
    {
        var backend = new PostgresIndexBackend();
        ImageIndexes.Register(backend);
        IndexJob.Register(backend);
    }

    /// <inheritdoc/>
    public string Name => "postgres";

    /// <inheritdoc/>
    public bool Recognises(string location) => PostgresIndexLocation.IsDatabase(location);

    /// <inheritdoc/>
    public IImageVectorIndex Open(string location) => PostgresImageIndex.Open(PostgresIndexLocation.Parse(location));

    /// <summary>A database index: rebuilt, appended to, or images removed, each in one transaction.</summary>
    public ImageIndex.BuildResult Index(IndexJobOptions options, WorkflowHost host, CancellationToken cancel)
    {
        var location = PostgresIndexLocation.Parse(options.Connection!, options.Table);
        if (options.Output is { } pointerPath) PostgresIndexLocation.ClaimPointer(pointerPath);
        if (options.Remove.Count > 0)
        {
            if (options.Append) throw new ArgumentException("give --append or --remove, not both");
            var removed = PostgresImageIndex.Remove(location, options.Weights, options.Remove);
            host.Log($"index: removed {removed.Removed} of {options.Remove.Count} images from {location.Display}; {removed.Count} remain");
            return new ImageIndex.BuildResult(removed.Count, 0, false, removed.Elapsed);
        }
        using var store = FeatureStore.Open(options.Features ?? throw new ArgumentException("--features is required"));
        var images = IndexJob.ImagesToIndex(store, options.Dataset, options.Split, options.ImagesFolder);
        var (model, _, _, _) = ModelLoading.Load(options.Weights, store, options.Precision);
        PostgresImageIndex.ChangeResult result;
        using (model)
        {
            var settings = new ImageIndexManifest { ExactBelow = options.ExactBelow, Connectivity = Math.Max(2, options.Connectivity) };
            result = host.RunStage("index", (progress, stop) => PostgresImageIndex.Write(model, options.Weights, store, images, location, options.Append, settings,
                new Progress<(int Done, int Total)>(p => progress.Report(new WorkflowProgress(p.Done, p.Total, "images"))), stop), cancel);
        }
        if (result.Cancelled)
        {
            host.Log($"index: interrupted; {location.Display} is as it was ({result.Count} images)");
            return new ImageIndex.BuildResult(0, 0, true, result.Elapsed);
        }
        WritePointer(options, location, images, options.Append, host);
        host.Log($"index: {(options.Append ? "added or replaced" : "wrote")} {result.Written} images in {location.Display}; {result.Count} in all ({result.Elapsed.TotalSeconds:F1} s)");
        LogUse(options, location, host);
        return new ImageIndex.BuildResult(result.Written, 0, false, result.Elapsed);
    }

    /// <summary>
    /// <c>index --update</c> on a database index: the folder's new and changed photos (and those whose file moved) added
    /// or replaced and its deleted ones removed, in one transaction, so an interrupted update leaves the index as it was;
    /// the first update of a table builds it.
    /// </summary>
    public FolderIndexUpdate.Result Update(IndexJobOptions options, WorkflowHost host, CancellationToken cancel)
    {
        var location = PostgresIndexLocation.Parse(options.Connection!, options.Table);
        if (options.Output is { } pointerPath) PostgresIndexLocation.ClaimPointer(pointerPath);
        var before = PostgresImageIndex.Images(location, options.Weights);
        var plan = FolderIndexUpdate.Prepare(options, before ?? [], host, cancel);
        if (plan.Cancelled) return Interrupted(location, host);
        var write = before is null ? plan.Images
            : plan.Images.Where((image, k) => plan.Reuse[k] < 0 || before[plan.Reuse[k]].ImagePath != image.ImagePath || before[plan.Reuse[k]].Sha256 != image.Sha256).ToList();
        if (before is not null && write.Count == 0 && plan.Removed.Count == 0)
        {
            host.Log($"index: {location.Display} is up to date with {options.ImagesFolder} ({plan.Images.Count} photos)");
            return plan.Done;
        }
        using var store = FeatureStore.Open(options.Features!);
        var (model, _, _, _) = ModelLoading.Load(options.Weights, store, options.Precision);
        PostgresImageIndex.ChangeResult result;
        using (model)
        {
            var settings = new ImageIndexManifest { ExactBelow = options.ExactBelow, Connectivity = Math.Max(2, options.Connectivity) };
            result = host.RunStage("index", (progress, stop) => before is null
                ? PostgresImageIndex.Write(model, options.Weights, store, write, location, append: false, settings, Progress(progress), stop)
                : PostgresImageIndex.Update(model, options.Weights, store, write, plan.Removed, location, Progress(progress), stop), cancel);
        }
        if (result.Cancelled) return Interrupted(location, host);
        WritePointer(options, location, plan.Images, append: before is not null, host);
        FolderIndexUpdate.LogUpdated(host, location.Display, options.ImagesFolder!, plan);
        LogUse(options, location, host);
        return plan.Done;
    }

    private static Progress<(int Done, int Total)> Progress(IProgress<WorkflowProgress> progress) =>
        new(p => progress.Report(new WorkflowProgress(p.Done, p.Total, "images")));

    private static FolderIndexUpdate.Result Interrupted(PostgresIndexLocation location, WorkflowHost host)
    {
        host.Log($"index: update interrupted; {location.Display} is as it was: run the same command again to finish it");
        return new FolderIndexUpdate.Result(0, 0, 0, 0, 0, 0, true);
    }

    private static void WritePointer(IndexJobOptions options, PostgresIndexLocation location, IReadOnlyList<IndexedImage> images, bool append, WorkflowHost host)
    {
        if (options.Output is not { } pointer) return;
        // An appended batch's folders join those the pointer already lists.
        var earlier = append && File.Exists(pointer) ? PostgresIndexLocation.Parse(pointer).ImageRoots : [];
        location.WritePointer(pointer, ImageIndexManifest.Roots(earlier.Concat(ImageIndexManifest.RootsOf(images))));
        if (location.HasPassword)
            host.Log($"index: the password is not written to {pointer}: give it through PGPASSWORD or a password file (PGPASSFILE, ~/.pgpass)");
    }

    private static void LogUse(IndexJobOptions options, PostgresIndexLocation location, WorkflowHost host)
    {
        var reference = options.Output ?? "'" + location.Url + "'";
        host.Log($"search it: ./interbert search --index {reference} \"a query\"    serve it: ./interbert serve --index {reference}");
    }

}
