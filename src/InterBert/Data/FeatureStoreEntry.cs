using System.Text.Json.Serialization;

namespace InterBert.Data;

/// <summary>
/// Where one image's record is: its shard, byte offset, region count, image size, whether it has class distributions,
/// and the SHA-256 of the image file it was extracted from (when known: imported features have none).
/// </summary>
public sealed record FeatureStoreEntry(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("offset")] long Offset,
    [property: JsonPropertyName("regions")] int Regions,
    [property: JsonPropertyName("width")] int Width,
    [property: JsonPropertyName("height")] int Height,
    [property: JsonPropertyName("has_classes")] bool HasClasses,
    [property: JsonPropertyName("sha256"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Sha256 = null)
{
    /// <summary>The shard file name (set when the index is read).</summary>
    [JsonIgnore] public string Shard { get; init; } = "";
}
