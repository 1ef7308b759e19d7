using System.Text.Json.Serialization;

namespace InterBert.Workflows;

/// <summary>
/// The <see cref="GroundingProbe"/>'s result: the named regions asked about and the percentage the region head named
/// right (chance 50); of those whose object comes in several sizes, the percentage whose true size it preferred.
/// </summary>
public sealed record GroundingResult(
    [property: JsonPropertyName("regions")] int Regions,
    [property: JsonPropertyName("named_right")] double NamedRight,
    [property: JsonPropertyName("sized_regions")] int SizedRegions = 0,
    [property: JsonPropertyName("size_right")] double SizeRight = 0);
