namespace InterBert.Data;

/// <summary>How datasets are read: which split, how long a caption may be, and whether bad entries are skipped (and counted) or fatal.</summary>
public sealed record DatasetReadOptions
{
    /// <summary>Only images of this split (null: all).</summary>
    public string? Split { get; init; }
    /// <summary>Longest caption accepted, in characters.</summary>
    public int MaxCaptionCharacters { get; init; } = 2000;
    /// <summary>Skip bad entries (counted in <see cref="DatasetReport"/>) instead of stopping with an error.</summary>
    public bool SkipBad { get; init; }
    /// <summary>The labels a classification file may hold (null: any); another label is a bad line.</summary>
    public IReadOnlyCollection<string>? Labels { get; init; }
    /// <summary>Where skipped entries are counted.</summary>
    public DatasetReport Report { get; init; } = new();
}
