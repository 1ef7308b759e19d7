namespace InterBert.Search;

/// <summary>Opens an index by what <c>--index</c> names: a folder, a <c>postgres://</c> URL, or a JSON file pointing to a database index.</summary>
public static class ImageIndexes
{
    /// <summary>Opens the index <paramref name="location"/> names; errors are one line naming it.</summary>
    public static IImageVectorIndex Open(string location) =>
        PostgresIndexLocation.IsDatabase(location) ? PostgresImageIndex.Open(PostgresIndexLocation.Parse(location)) : ImageIndex.Open(location);
}
