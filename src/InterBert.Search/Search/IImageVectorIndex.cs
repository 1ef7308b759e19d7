namespace InterBert.Search;

/// <summary>
/// The image vectors of one model, searchable by a query vector: a folder (<see cref="ImageIndex"/>) or a database
/// table (<c>PostgresImageIndex</c> of InterBert.Postgres). Searching is thread-safe.
/// </summary>
public interface IImageVectorIndex : IDisposable
{
    /// <summary>Where the index is, for messages (a folder, or the database and table).</summary>
    string Location { get; }

    /// <summary>The index description: the model it was built with, its feature store, the vector dimension, the score head, the search settings.</summary>
    ImageIndexManifest Manifest { get; }

    /// <summary>The number of images now (a database index may gain and lose images while it is served).</summary>
    int Count { get; }

    /// <summary>The <paramref name="count"/> images nearest to a normalised query vector by cosine similarity, best first.</summary>
    IReadOnlyList<IndexHit> NearestImages(float[] query, int count, SearchMode mode = SearchMode.Auto);

    /// <summary>The indexed image with this id, or null.</summary>
    IndexedImage? Find(string id);

    /// <summary>
    /// The folders whose files this index's images may be served from, as recorded where the index was built (a
    /// folder index's manifest, a database index's local pointer file), never read from the database itself.
    /// </summary>
    IReadOnlyList<string> ImageRoots { get; }

    /// <summary>The number of images, without holding a thread while a database answers (a count a few seconds old may do).</summary>
    Task<int> CountAsync(CancellationToken cancel = default) => Task.FromResult(Count);

    /// <summary>The indexed image with this id, or null, without holding a thread while a database answers.</summary>
    Task<IndexedImage?> FindAsync(string id, CancellationToken cancel = default) => Task.FromResult(Find(id));

    /// <summary>
    /// Whether another index has since replaced this one where it lives (a folder rebuilt or updated): a service then
    /// opens it again. A database index changes in place, so it never is.
    /// </summary>
    bool ReplacedOnDisk => false;

    /// <summary>Refuses a model other than the one the index was built with (by the weights' SHA-256).</summary>
    void CheckModel(string weightsPath, string? fingerprint = null);
}
