using InterBert.Search;

namespace InterBert.Server;

/// <summary>
/// Which image files the service serves: only files inside the allowed folders, and only as images. The paths come
/// from the index, which whoever can write the database table controls, so each is checked before it is opened.
/// </summary>
internal sealed class ImageFiles(IReadOnlyList<string> roots)
{
    private static readonly Dictionary<string, string> Types = new(StringComparer.OrdinalIgnoreCase)
    {
        [".jpg"] = "image/jpeg", [".jpeg"] = "image/jpeg", [".png"] = "image/png", [".gif"] = "image/gif",
        [".webp"] = "image/webp", [".bmp"] = "image/bmp",
    };

    private readonly IReadOnlyList<string> roots = roots.Select(r => Path.GetFullPath(r).TrimEnd(Path.DirectorySeparatorChar)).ToList();

    /// <summary>Why <paramref name="path"/> is not served, or null when it may be.</summary>
    public string? Check(string path)
    {
        if (!Path.IsPathFullyQualified(path)) return "not an absolute path";
        if (!Types.ContainsKey(Path.GetExtension(path))) return "not an image file type";
        var full = Path.GetFullPath(path);
        // A link inside a root may point anywhere: its final target must be inside a root too.
        try
        {
            if (File.Exists(full) && new FileInfo(full).LinkTarget is not null && File.ResolveLinkTarget(full, returnFinalTarget: true) is { } target)
                full = Path.GetFullPath(target.FullName);
        }
        catch (IOException)
        {
            return "an unresolvable link";
        }
        if (roots.Count == 0) return "no image folders are served (serve --image-root)";
        return roots.Any(r => ImageIndexManifest.IsInside(full, r)) ? null : "outside the folders the index was built from";
    }

    /// <summary>The content type of an image file that passed <see cref="Check"/>.</summary>
    public static string ContentType(string path) => Types[Path.GetExtension(path)];
}
