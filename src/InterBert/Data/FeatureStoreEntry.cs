using System.Text.Json.Serialization;

namespace InterBert.Data;

/// <summary>Where one image's record is: its shard, byte offset, region count, image size and whether it has class distributions.</summary>
public sealed record FeatureStoreEntry(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("offset")] long Offset,
    [property: JsonPropertyName("regions")] int Regions,
    [property: JsonPropertyName("width")] int Width,
    [property: JsonPropertyName("height")] int Height,
    [property: JsonPropertyName("has_classes")] bool HasClasses)
{
    /// <summary>The shard file name (set when the index is read).</summary>
    [JsonIgnore] public string Shard { get; init; } = "";
}
