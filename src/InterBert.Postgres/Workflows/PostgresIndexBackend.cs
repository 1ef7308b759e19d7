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
        if (options.Output is { } pointer)
        {
            // An appended batch's folders join those the pointer already lists.
            var earlier = options.Append && File.Exists(pointer) ? PostgresIndexLocation.Parse(pointer).ImageRoots : [];
            location.WritePointer(pointer, ImageIndexManifest.Roots(earlier.Concat(ImageIndexManifest.RootsOf(images))));
            if (location.HasPassword)
                host.Log($"index: the password is not written to {pointer}: give it through PGPASSWORD or a password file (PGPASSFILE, ~/.pgpass)");
        }
        host.Log($"index: {(options.Append ? "added or replaced" : "wrote")} {result.Written} images in {location.Display}; {result.Count} in all ({result.Elapsed.TotalSeconds:F1} s)");
        var reference = options.Output ?? "'" + location.Url + "'";
        host.Log($"search it: ./interbert search --index {reference} \"a query\"    serve it: ./interbert serve --index {reference}");
        return new ImageIndex.BuildResult(result.Written, 0, false, result.Elapsed);
    }

}
