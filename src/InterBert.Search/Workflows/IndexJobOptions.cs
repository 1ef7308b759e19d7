using InterBert.Modeling;

namespace InterBert.Workflows;

/// <summary>What <see cref="IndexJob"/> indexes: the search model, the feature store, which images (a dataset's, a folder's or the store's) and the index's settings.</summary>
public sealed record IndexJobOptions
{
    /// <summary>The search model's weights.</summary>
    public required string Weights { get; init; }
    /// <summary>Feature store of the images (for a removal, not read).</summary>
    public string? Features { get; init; }
    /// <summary>The index folder (replaced when complete); with a database backend, an optional pointer file (JSON) to write.</summary>
    public string? Output { get; init; }
    /// <summary>
    /// A database index instead of a folder: a <c>postgres://</c> URL or an Npgsql connection string (see
    /// <c>PostgresIndexLocation</c> in InterBert.Postgres).
    /// </summary>
    public string? Connection { get; init; }
    /// <summary>The database index's table (default <c>interbert_images</c>).</summary>
    public string? Table { get; init; }
    /// <summary>Database index: add (or replace) the images in the existing index instead of rebuilding it.</summary>
    public bool Append { get; init; }
    /// <summary>Database index: remove these image ids (nothing else is done).</summary>
    public IReadOnlyList<string> Remove { get; init; } = [];
    /// <summary>Dataset naming the images and their files (null: every image of the store, without files).</summary>
    public string? Dataset { get; init; }
    /// <summary>Index only this split of <see cref="Dataset"/>.</summary>
    public string? Split { get; init; }
    /// <summary>A folder of the image files, named by id, instead of <see cref="Dataset"/>.</summary>
    public string? ImagesFolder { get; init; }
    /// <summary>
    /// Folder index: follow <see cref="ImagesFolder"/> (see <see cref="FolderIndexUpdate"/>): embed its new and changed
    /// photos, drop the deleted ones, keep the rest; the first run builds the index.
    /// </summary>
    public bool Update { get; init; }
    /// <summary>With <see cref="Update"/>: skip and count photos that cannot be read instead of stopping at the first.</summary>
    public bool SkipBad { get; init; }
    /// <summary>Collections up to this size are searched exactly, larger ones by the HNSW graph.</summary>
    public int ExactBelow { get; init; } = 20_000;
    /// <summary>HNSW graph degree.</summary>
    public int Connectivity { get; init; } = 16;
    /// <summary>Arithmetic of the matrix products.</summary>
    public Precision Precision { get; init; } = Precision.Fp32;
}
