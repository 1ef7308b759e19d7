using System.Text.Json.Serialization;

namespace InterBert.Workflows;

/// <summary>The <see cref="GroundingProbe"/>'s result: the named regions asked about, and the percentage the region head named right (chance 50).</summary>
public sealed record GroundingResult(
    [property: JsonPropertyName("regions")] int Regions,
    [property: JsonPropertyName("named_right")] double NamedRight);
