namespace InterBert.Weights;

/// <summary>
/// What loading a weights file did: the model keys it filled (<c>Used</c>), the model keys it left as they
/// were (<c>Missing</c>), the file's keys with no place in the model (<c>Unexpected</c>), and the file's keys
/// deliberately skipped because the model derives them (<c>Ignored</c>, e.g. the tied decoder).
/// </summary>
public sealed record LoadReport(
    IReadOnlyList<string> Used, IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected, IReadOnlyList<string> Ignored)
{
    /// <summary>A one-paragraph summary for people.</summary>
    public string Summary() =>
        $"used {Used.Count} keys, missing {Missing.Count}, unexpected {Unexpected.Count}, ignored {Ignored.Count}";
}
