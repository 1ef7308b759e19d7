namespace InterBert.Data;

/// <summary>A text whose words may refer to image regions: the words, and for each the region it names (-1: none).</summary>
public sealed record LinkedText(IReadOnlyList<string> Words, IReadOnlyList<int> Regions)
{
    /// <summary>The words joined by spaces.</summary>
    public override string ToString() => string.Join(" ", Words);
}
