using System.Text.Json.Serialization;

namespace InterBert.Search;

/// <summary>One indexed image: its feature-store id and, when known, its image file (absolute path).</summary>
public sealed record IndexedImage([property: JsonPropertyName("id")] string Id, [property: JsonPropertyName("image")] string? ImagePath);
