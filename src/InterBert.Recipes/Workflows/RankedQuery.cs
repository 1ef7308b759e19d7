using System.Text.Json.Serialization;

namespace InterBert.Workflows;

/// <summary>A test caption, the id of its image, and the ids of the images ranked first for it.</summary>
public sealed record RankedQuery(
    [property: JsonPropertyName("caption")] string Caption,
    [property: JsonPropertyName("truth")] string Truth,
    [property: JsonPropertyName("ranked")] IReadOnlyList<string> Ranked)
{
    /// <summary>The true image's place among the ranked ones, 1-based ("below 5" when it is not among them).</summary>
    public string TruthRank()
    {
        var index = Ranked.ToList().IndexOf(Truth);
        return index < 0 ? $"below {Ranked.Count}" : (index + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
