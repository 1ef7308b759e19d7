namespace InterBert.Tests.Architecture;

/// <summary>The library's namespaces depend on each other one way: no two need each other, directly or around a loop.</summary>
public class NamespaceCycleTests
{
    private static readonly string[] LibraryProjects = ["InterBert", "InterBert.Vision", "InterBert.Search", "InterBert.Postgres", "InterBert.Plotting", "InterBert.Recipes"];

    [Fact]
    public void TheCheckFindsALoopThroughAQualifiedName()
    {
        using var folder = new TempFolder();
        Directory.CreateDirectory(folder.File("Data"));
        Directory.CreateDirectory(folder.File("Text"));
        Directory.CreateDirectory(folder.File("Search"));
        File.WriteAllText(folder.File("Data/Corpus.cs"), "using Lib.Text;\nnamespace Lib.Data;\npublic sealed class Corpus { Tokenizer? t; }\n");
        // Text reaches Data by a qualified name only; a comment naming Search.Index is not a use.
        File.WriteAllText(folder.File("Text/Tokenizer.cs"), "namespace Lib.Text;\n// Search.Index\npublic sealed class Tokenizer { Data.Corpus? c; }\n");
        File.WriteAllText(folder.File("Search/Index.cs"), "using Lib.Data;\nnamespace Lib.Search;\npublic sealed class Index { }\n");
        var graph = NamespaceGraph.Read(folder.Path, "Lib");
        Assert.True(graph.Uses("Search", "Data"));
        Assert.False(graph.Uses("Text", "Search"));
        var cycle = graph.FindCycle();
        Assert.NotNull(cycle);
        Assert.StartsWith("Data -> Text -> Data", cycle);
        Assert.Contains(Path.Combine("Text", "Tokenizer.cs"), cycle);
    }

    [Fact]
    public void TheLibraryHasNoNamespaceCycle()
    {
        // The packages add types to the core's namespaces: all are read as one.
        var graph = NamespaceGraph.Read(LibraryProjects.Select(p => Path.Combine(SharedData.RepositoryRoot, "src", p)).ToList(), "InterBert");
        Assert.True(graph.Uses("Workflows", "Pretraining")); // the check sees the library at all
        var cycle = graph.FindCycle();
        Assert.True(cycle is null, $"namespace cycle: {cycle}");
    }
}
