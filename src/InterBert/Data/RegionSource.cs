using System.Text.Json.Serialization;

namespace InterBert.Data;

/// <summary>
/// Where a feature store's regions came from (<c>store.json</c>'s <c>regions</c>): what a program needs to turn a new
/// photo into regions the same way, so that its vectors are comparable with the stored ones.
/// </summary>
public sealed record RegionSource
{
    /// <summary>Most regions per image, the whole image included.</summary>
    [JsonPropertyName("max_regions")] public int MaxRegions { get; init; } = 36;
    /// <summary>Cells per side of the fallback grid.</summary>
    [JsonPropertyName("grid_size")] public int GridSize { get; init; } = 3;
    /// <summary>Whether the grid's cells follow the detector boxes in every image, not only where nothing was detected (<c>features --grid-always</c>).</summary>
    [JsonPropertyName("grid_always")] public bool GridAlways { get; init; }
    /// <summary>
    /// Side of the square the photos were resized to before the CNN (<c>features --input-size</c>); 0 in stores written
    /// before the option, which were all extracted at 224 (<see cref="Side"/>).
    /// </summary>
    [JsonPropertyName("input_size")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public int InputSize { get; init; }
    /// <summary>The side the photos were resized to: <see cref="InputSize"/>, or 224 where the store does not say.</summary>
    [JsonIgnore] public int Side => InputSize > 0 ? InputSize : DefaultInputSize;
    /// <summary>The CNN's own input side, the one every store was extracted at before <see cref="InputSize"/> existed.</summary>
    public const int DefaultInputSize = 224;
    /// <summary>The YOLOX ONNX model that boxed images without given boxes (absolute path), or null: none.</summary>
    [JsonPropertyName("detector")] public string? Detector { get; init; }
    /// <summary>Whether a boxes file gave the boxes of the images it lists (a new photo has none: it takes the detector or the grid).</summary>
    [JsonPropertyName("given_boxes")] public bool GivenBoxes { get; init; }
}
