using System.Text.Json;
using System.Text.Json.Nodes;

namespace InterBert.Training;

/// <summary>The run's <c>metrics.jsonl</c>: one JSON object per logged step or evaluation, flushed as written.</summary>
public sealed class MetricsLog(string path)
{
    /// <summary>The file.</summary>
    public string Path { get; } = path;

    /// <summary>Appends one object.</summary>
    public void Append(IReadOnlyDictionary<string, object> values)
    {
        var node = new JsonObject();
        foreach (var (key, value) in values) node[key] = JsonValue.Create(value);
        File.AppendAllText(Path, node.ToJsonString() + "\n");
    }

    /// <summary>Every object in the file (a torn last line from a crash is ignored).</summary>
    public List<JsonObject> ReadAll()
    {
        if (!File.Exists(Path)) return [];
        var rows = new List<JsonObject>();
        foreach (var line in File.ReadLines(Path))
        {
            try
            {
                if (JsonNode.Parse(line) is JsonObject o) rows.Add(o);
            }
            catch (JsonException)
            {
            }
        }
        return rows;
    }

    /// <summary>Drops the lines of steps after <paramref name="step"/> (a resumed run rewrites them), atomically.</summary>
    public void TruncateAfter(int step)
    {
        var kept = ReadAll().Where(o => (o["step"]?.GetValue<int>() ?? 0) <= step).Select(o => o.ToJsonString());
        AtomicFile.WriteAllText(Path, string.Concat(kept.Select(l => l + "\n")));
    }
}
