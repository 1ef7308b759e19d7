using System.Text.Json;

namespace InterBert.Workflows;

/// <summary>
/// Remembers, in <c>stages.json</c>, the fingerprint of the inputs each stage last started and finished with: a stage
/// whose fingerprint is unchanged and finished is reused; one that started with other inputs has its folder cleared
/// first; one that started with the same inputs and was interrupted continues (stages that can resume do).
/// </summary>
public sealed class StageCache
{
    /// <summary>The cache's file in a working folder, by which such a folder is recognised.</summary>
    public const string FileName = "stages.json";
    private readonly string path;
    private readonly Dictionary<string, string> entries;

    /// <summary>Opens (or starts) the cache of a workflow folder (the demo, a benchmark recipe).</summary>
    public StageCache(string folder)
    {
        path = Path.Combine(folder, FileName);
        try
        {
            entries = File.Exists(path) ? JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path)) ?? [] : [];
        }
        catch (JsonException)
        {
            entries = []; // an unreadable cache only costs recomputation
        }
    }

    /// <summary>Whether the stage finished with this fingerprint.</summary>
    public bool IsDone(string stage, string fingerprint) => entries.GetValueOrDefault(stage + ".done") == fingerprint;

    /// <summary>Records the start of a stage; returns false when it had started with other inputs (its output is stale).</summary>
    public bool Start(string stage, string fingerprint)
    {
        var same = entries.GetValueOrDefault(stage + ".started") == fingerprint;
        entries[stage + ".started"] = fingerprint;
        entries.Remove(stage + ".done");
        Save();
        return same;
    }

    /// <summary>Records that a stage finished, and how long it took.</summary>
    public void Finish(string stage, string fingerprint, double seconds)
    {
        entries[stage + ".done"] = fingerprint;
        entries[stage + ".seconds"] = seconds.ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
        Save();
    }

    /// <summary>Seconds the stage took when it last ran to the end (0 when unknown).</summary>
    public double SecondsOf(string stage) =>
        double.TryParse(entries.GetValueOrDefault(stage + ".seconds"), System.Globalization.CultureInfo.InvariantCulture, out var seconds) ? seconds : 0;

    private void Save() => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(entries, new JsonSerializerOptions { WriteIndented = true }));
}
