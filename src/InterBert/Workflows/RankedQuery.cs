using System.Text.Json.Serialization;

namespace InterBert.Workflows;

/// <summary>A test caption, the id of its image, and the ids of the images ranked first for it.</summary>
public sealed record RankedQuery(
    [property: JsonPropertyName("caption")] string Caption,
    [property: JsonPropertyName("truth")] string Truth,
    [property: JsonPropertyName("ranked")] IReadOnlyList<string> Ranked);
