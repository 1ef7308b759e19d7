namespace InterBert.Search;

/// <summary>
/// Opens an index by what <c>--index</c> names: a folder, or a location of a registered backend (a <c>postgres://</c>
/// URL or a JSON pointer file once InterBert.Postgres is registered).
/// </summary>
public static class ImageIndexes
{
    private static readonly object Gate = new();
    private static IReadOnlyList<IImageIndexBackend> backends = [];

    /// <summary>The backends registered in this process.</summary>
    public static IReadOnlyList<IImageIndexBackend> Backends => backends;

    /// <summary>Adds a backend (once per name; registering the same name again keeps the first).</summary>
    public static void Register(IImageIndexBackend backend)
    {
        lock (Gate)
            if (backends.All(b => b.Name != backend.Name)) backends = [.. backends, backend];
    }

    /// <summary>The registered backend of that name; a one-line error naming the package that adds it otherwise.</summary>
    public static IImageIndexBackend Backend(string name) => backends.FirstOrDefault(b => b.Name == name) ?? throw NotAvailable(name);

    /// <summary>The one-line error for a backend this program did not register, naming the package that adds it.</summary>
    public static InterBertException NotAvailable(string name) =>
        new($"the {name} index backend is not available in this program (it comes with the InterBert.{char.ToUpperInvariant(name[0])}{name[1..]} package; register it with its Register method)");

    /// <summary>Opens the index <paramref name="location"/> names; errors are one line naming it.</summary>
    public static IImageVectorIndex Open(string location)
    {
        if (backends.FirstOrDefault(b => b.Recognises(location)) is { } backend) return backend.Open(location);
        if (location.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || location.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
            return Backend("postgres").Open(location);
        return ImageIndex.Open(location);
    }
}
