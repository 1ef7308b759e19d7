using System.Text.Json;
using System.Text.Json.Serialization;

namespace InterBert.Data;

/// <summary>
/// How a model's photos were turned into regions and features, kept beside its weights as
/// <c>preprocessor_config.json</c> (Hugging Face's name for an image processor's settings), so that a program given the
/// model alone extracts new photos as the model was trained: the feature extractor, the most regions, the grid, the
/// detector (its path and SHA-256) and whether features were rounded to float16.
/// </summary>
public sealed record ImagePreprocessing
{
    /// <summary>The file name in a model folder.</summary>
    public const string FileName = "preprocessor_config.json";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>What this file describes.</summary>
    [JsonPropertyName("processor_class")] public string ProcessorClass { get; init; } = "InterBertRegionFeatures";
    /// <summary>The feature extractor, as the feature store describes it.</summary>
    [JsonPropertyName("feature_extractor")] public string FeatureExtractor { get; init; } = "";
    /// <summary>Region feature dimension.</summary>
    [JsonPropertyName("feature_size")] public int FeatureSize { get; init; }
    /// <summary>"float16" when the features were stored rounded to half precision, else "float32".</summary>
    [JsonPropertyName("feature_dtype")] public string FeatureDType { get; init; } = "float32";
    /// <summary>How regions were chosen.</summary>
    [JsonPropertyName("regions")] public RegionSource Regions { get; init; } = new();
    /// <summary>SHA-256 of the detector model, when there was one: a file elsewhere with the same bytes does as well.</summary>
    [JsonPropertyName("detector_sha256")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? DetectorSha256 { get; init; }

    /// <summary>
    /// The preprocessing a feature store's records had, or null for a store that does not say (imported features).
    /// With <paramref name="fingerprintDetector"/>, the detector's SHA-256 is recorded (for a description written to
    /// go elsewhere); without it the detector is taken at its path as it is.
    /// </summary>
    public static ImagePreprocessing? Of(FeatureStoreManifest store, bool fingerprintDetector = false) => store.Regions is not { } regions ? null : new ImagePreprocessing
    {
        FeatureExtractor = store.Extractor, FeatureSize = store.FeatureSize, FeatureDType = store.DType, Regions = regions,
        DetectorSha256 = fingerprintDetector && regions.Detector is { } detector && File.Exists(detector) ? FileHash.Sha256(detector) : null,
    };

    /// <summary>The preprocessing of the feature store at <paramref name="storeFolder"/>, fingerprinted; a store that does not say is a one-line error.</summary>
    public static ImagePreprocessing OfStore(string storeFolder)
    {
        using var store = FeatureStore.Open(storeFolder);
        return Of(store.Manifest, fingerprintDetector: true)
            ?? throw new InterBertException($"{storeFolder}: the store does not say how its regions were made (imported features)");
    }

    /// <summary>Writes the file into <paramref name="folder"/> (atomically).</summary>
    public void WriteTo(string folder) => AtomicFile.WriteAllText(Path.Combine(folder, FileName), JsonSerializer.Serialize(this, Json) + "\n");

    /// <summary>The file in <paramref name="folder"/>, or null when there is none; a corrupt one is a one-line error.</summary>
    public static ImagePreprocessing? ReadFrom(string folder)
    {
        var path = Path.Combine(folder, FileName);
        if (!File.Exists(path)) return null;
        try
        {
            return JsonSerializer.Deserialize<ImagePreprocessing>(File.ReadAllText(path)) ?? throw new JsonException("empty");
        }
        catch (JsonException e)
        {
            throw new InterBertException($"{path}: not an image preprocessing description ({e.Message.Split('\n')[0]})");
        }
    }

    /// <summary>
    /// The detector to use: the recorded path when its bytes are still the recorded ones, else a <c>detector.onnx</c>
    /// with those bytes in <paramref name="folder"/>; null when none was used. A missing detector is a one-line error.
    /// </summary>
    public string? ResolveDetector(string folder)
    {
        if (Regions.Detector is not { } recorded) return null;
        if (File.Exists(recorded) && (DetectorSha256 is null || FileHash.Sha256(recorded) == DetectorSha256)) return recorded;
        var beside = Path.Combine(folder, "detector.onnx");
        if (File.Exists(beside) && (DetectorSha256 is null || FileHash.Sha256(beside) == DetectorSha256)) return beside;
        throw new InterBertException($"{Path.Combine(folder, FileName)}: the model's photos were boxed by the detector {recorded}, which is not there (nor detector.onnx beside it); give the detector explicitly");
    }

}
