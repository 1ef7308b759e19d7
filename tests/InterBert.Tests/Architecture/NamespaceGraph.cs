using System.Text.RegularExpressions;

namespace InterBert.Tests.Architecture;

/// <summary>
/// Which namespaces of a source tree use which: <c>using InterBert.X</c> directives and qualified names <c>X.Type</c>
/// (or <c>InterBert.X.Type</c>) of a type declared in namespace X. Each edge keeps the files that make it.
/// </summary>
internal sealed partial class NamespaceGraph
{
    private readonly Dictionary<string, Dictionary<string, SortedSet<string>>> edges = new(StringComparer.Ordinal);

    private NamespaceGraph() { }

    /// <summary>The graph of the C# files under <paramref name="folder"/> (bin/ and obj/ skipped) in namespaces under <paramref name="root"/>.</summary>
    public static NamespaceGraph Read(string folder, string root) => Read([folder], root);

    /// <summary>The graph of several projects' sources at once (projects that share namespaces); paths name the project folder.</summary>
    public static NamespaceGraph Read(IReadOnlyList<string> folders, string root)
    {
        var files = folders.SelectMany(folder => Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
            .Select(f => (Path: folders.Count == 1 ? Path.GetRelativePath(folder, f) : Path.GetRelativePath(Path.GetDirectoryName(folder)!, f), Code: Comment().Replace(File.ReadAllText(f), ""))))
            .Select(f => (f.Path, f.Code, Namespace: NamespaceOf(f.Code, root)))
            .Where(f => f.Namespace is not null)
            .ToList();
        var declared = files.GroupBy(f => f.Namespace!)
            .ToDictionary(g => g.Key, g => g.SelectMany(f => Declaration().Matches(f.Code).Select(m => m.Groups[1].Value)).ToHashSet(StringComparer.Ordinal));
        var graph = new NamespaceGraph();
        var prefix = Regex.Escape(root);
        foreach (var (path, code, me) in files)
        {
            foreach (Match directive in Regex.Matches(code, $@"^\s*using\s+(?:static\s+)?{prefix}\.(\w+)", RegexOptions.Multiline))
                graph.Add(me!, directive.Groups[1].Value, path);
            var body = Regex.Replace(code, @"^\s*using\s.*$", "", RegexOptions.Multiline);
            foreach (var (other, types) in declared)
            {
                if (other == me || other.Length == 0) continue;
                if (types.Any(type => Regex.IsMatch(body, $@"(?<![\w.])(?:{prefix}\.)?{Regex.Escape(other)}\.{type}\b"))) graph.Add(me!, other, path);
            }
        }
        return graph;
    }

    /// <summary>A cycle as "A -> B -> A (files)", or null when the graph has none.</summary>
    public string? FindCycle()
    {
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1: on the path, 2: done
        var path = new List<string>();
        string? Visit(string node)
        {
            state[node] = 1;
            path.Add(node);
            foreach (var next in edges.TryGetValue(node, out var outgoing) ? outgoing.Keys.Order(StringComparer.Ordinal).ToList() : [])
            {
                if (state.GetValueOrDefault(next) == 1)
                {
                    var cycle = path.Skip(path.IndexOf(next)).Append(next).ToList();
                    var why = cycle.Zip(cycle.Skip(1), (a, b) => $"{a} -> {b}: {string.Join(", ", edges[a][b])}");
                    return $"{string.Join(" -> ", cycle)} ({string.Join("; ", why)})";
                }
                if (state.GetValueOrDefault(next) == 0 && Visit(next) is { } found) return found;
            }
            path.RemoveAt(path.Count - 1);
            state[node] = 2;
            return null;
        }
        foreach (var node in edges.Keys.Order(StringComparer.Ordinal))
            if (state.GetValueOrDefault(node) == 0 && Visit(node) is { } cycle) return cycle;
        return null;
    }

    /// <summary>Whether <paramref name="from"/> uses <paramref name="to"/>.</summary>
    public bool Uses(string from, string to) => edges.TryGetValue(from, out var outgoing) && outgoing.ContainsKey(to);

    private void Add(string from, string to, string file)
    {
        if (from == to) return;
        if (!edges.TryGetValue(from, out var outgoing)) edges[from] = outgoing = new(StringComparer.Ordinal);
        if (!outgoing.TryGetValue(to, out var files)) outgoing[to] = files = new(StringComparer.Ordinal);
        files.Add(file);
    }

    /// <summary>The sub-namespace of a file ("" for the root namespace itself), or null outside the root.</summary>
    private static string? NamespaceOf(string code, string root)
    {
        var match = Regex.Match(code, $@"^\s*namespace\s+{Regex.Escape(root)}(?:\.(\w+))?[\w.]*\s*[;{{]", RegexOptions.Multiline);
        return match.Success ? match.Groups[1].Value : null;
    }

    [GeneratedRegex(@"//[^\n]*|/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex Comment();

    [GeneratedRegex(@"\b(?:class|record|struct|enum|interface)\s+(\w+)")]
    private static partial Regex Declaration();
}
