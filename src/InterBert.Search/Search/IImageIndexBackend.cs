namespace InterBert.Search;

/// <summary>
/// An index store beside the folder index that a host adds with <see cref="ImageIndexes.Register"/> (InterBert.Postgres
/// adds PostgreSQL): it recognises its locations and opens them for search (the index job writes them through the
/// backend's <c>IIndexJobBackend</c>).
/// </summary>
public interface IImageIndexBackend
{
    /// <summary>The backend's name, as <c>--backend</c> gives it (<c>postgres</c>).</summary>
    string Name { get; }

    /// <summary>Whether <paramref name="location"/> (what <c>--index</c> names) is one of this backend's indexes.</summary>
    bool Recognises(string location);

    /// <summary>Opens the index for search; errors are one line naming it.</summary>
    IImageVectorIndex Open(string location);

}
