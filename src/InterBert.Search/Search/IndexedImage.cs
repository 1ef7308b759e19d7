using System.Text.Json.Serialization;

namespace InterBert.Search;

/// <summary>One indexed image: its feature-store id and, when known, its image file (absolute path) and that file's SHA-256 (an index kept up to date with a folder).</summary>
public sealed record IndexedImage(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("image")] string? ImagePath,
    [property: JsonPropertyName("sha256"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Sha256 = null);
