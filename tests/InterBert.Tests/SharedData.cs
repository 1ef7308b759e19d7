using System.Text.Json.Nodes;

namespace InterBert.Tests;

/// <summary>The real sample data in ../shared/data (beside the repository); a clear failure names what is missing.</summary>
internal static class SharedData
{
    public static string RepositoryRoot { get; } = FindRoot();

    public static string Path(params string[] parts)
    {
        var path = System.IO.Path.Combine([RepositoryRoot, "..", "shared", .. parts]);
        if (!File.Exists(path) && !Directory.Exists(path))
            throw new FileNotFoundException($"sample data missing: {System.IO.Path.GetFullPath(path)} (the tests read ../shared beside the repository)");
        return System.IO.Path.GetFullPath(path);
    }

    public static string CocoDataset => Path("data", "coco-sample", "dataset.json");

    /// <summary>Every caption of the COCO sample, in file order.</summary>
    public static IReadOnlyList<string> CocoCaptions()
    {
        var json = JsonNode.Parse(File.ReadAllText(CocoDataset))!;
        return json["images"]!.AsArray().SelectMany(i => i!["sentences"]!.AsArray().Select(s => s!["raw"]!.GetValue<string>())).ToList();
    }

    private static string FindRoot()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(System.IO.Path.Combine(folder.FullName, "InterBert.sln"))) folder = folder.Parent;
        return folder?.FullName ?? throw new InvalidOperationException("cannot find the repository root (InterBert.sln) above the test binaries");
    }
}
