namespace InterBert.Data;

/// <summary>Counts what reading a dataset skipped, with the first few reasons.</summary>
public sealed class DatasetReport
{
    private readonly List<string> reasons = [];

    /// <summary>Entries skipped as bad.</summary>
    public int Skipped { get; private set; }

    /// <summary>The first reasons (at most 20).</summary>
    public IReadOnlyList<string> Reasons => reasons;

    /// <summary>Counts one skipped entry.</summary>
    public void Skip(string reason)
    {
        Skipped++;
        if (reasons.Count < 20) reasons.Add(reason);
    }
}
