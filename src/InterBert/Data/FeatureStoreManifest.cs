using System.Text.Json;
using System.Text.Json.Serialization;

namespace InterBert.Data;

/// <summary>The description of a feature store (<c>store.json</c>): what every record holds.</summary>
public sealed record FeatureStoreManifest
{
    /// <summary>Format name.</summary>
    [JsonPropertyName("format")] public string Format { get; init; } = "interbert-features";
    /// <summary>Format version.</summary>
    [JsonPropertyName("version")] public int Version { get; init; } = 1;
    /// <summary>Region feature dimension.</summary>
    [JsonPropertyName("feature_size")] public int FeatureSize { get; init; }
    /// <summary>Classes in the region class distributions (0: none stored).</summary>
    [JsonPropertyName("class_count")] public int ClassCount { get; init; }
    /// <summary>The classes' names by index, when they are not the 80 COCO categories (given boxes with categories of their own).</summary>
    [JsonPropertyName("class_names")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? ClassNames { get; init; }
    /// <summary>"float16" or "float32": how features are stored.</summary>
    [JsonPropertyName("dtype")] public string DType { get; init; } = "float32";
    /// <summary>What produced the features.</summary>
    [JsonPropertyName("extractor")] public string Extractor { get; init; } = "";
    /// <summary>How the regions were chosen, for extracting new photos the same way (absent in imported stores and older ones).</summary>
    [JsonPropertyName("regions")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public RegionSource? Regions { get; init; }

    /// <summary>
    /// For a store of CNN feature maps rather than region features (<c>features --layer3-maps</c>): the shape
    /// (channels, height, width) of each image's one record; absent in region feature stores.
    /// </summary>
    [JsonPropertyName("map_shape")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<int>? MapShape { get; init; }

    /// <summary>
    /// When the features were computed by a model's own fine-tuned CNN stage (<c>features --model</c>): that stage's
    /// fingerprint (<see cref="Modeling.InterBertBackbone.VisualStageFingerprint"/>); absent for the packaged network's.
    /// </summary>
    [JsonPropertyName("visual_stage")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? VisualStage { get; init; }

    /// <summary>Bytes per stored feature value.</summary>
    [JsonIgnore] public int FeatureBytes => DType == "float16" ? 2 : 4;

    /// <summary>Bytes of one record with <paramref name="regions"/> regions.</summary>
    public long RecordBytes(int regions, bool hasClasses) =>
        (long)regions * (4 * 4 + 5 * 4 + FeatureSize * FeatureBytes + (hasClasses ? ClassCount * 4 : 0));

    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = true };
}
