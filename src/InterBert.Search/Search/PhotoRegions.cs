using InterBert.Data;
using InterBert.Modeling;
using InterBert.Vision;

namespace InterBert.Search;

/// <summary>
/// Turns new photos into regions the way a model's (or an index's) photos were: the same detector or grid, the same
/// number of regions, features rounded as the store rounded them, so a photo's vector is comparable with the stored
/// ones. The image networks are opened on the first photo: a program that embeds only texts needs no detector.
/// </summary>
internal sealed class PhotoRegions : IDisposable
{
    private readonly Lazy<RegionFeatureExtractor> extractor;
    private readonly bool roundToHalf;

    /// <summary>
    /// Photos become regions as <paramref name="preprocessing"/> says (defaults where it is null), with
    /// <paramref name="detector"/> and <paramref name="maxRegions"/> overriding it; a recorded detector is looked for
    /// beside <paramref name="modelFolder"/> when it has moved.
    /// </summary>
    /// With <paramref name="stage"/> (a model with its own fine-tuned CNN stage), that stage computes the features.
    public PhotoRegions(ImagePreprocessing? preprocessing, string modelFolder, string? detector = null, int? maxRegions = null, int threads = 0, InterBertBackbone? stage = null)
    {
        Source = new RegionSource
        {
            MaxRegions = maxRegions ?? preprocessing?.Regions.MaxRegions ?? 36,
            GridSize = preprocessing?.Regions.GridSize ?? 3,
            GridAlways = preprocessing?.Regions.GridAlways ?? false,
            InputSize = preprocessing?.Regions.InputSize ?? 0,
            Detector = detector is not null ? Path.GetFullPath(detector) : preprocessing?.Regions.Detector,
        };
        Func<string?> resolveDetector = detector is not null ? () => Source.Detector : () => preprocessing?.ResolveDetector(modelFolder);
        roundToHalf = preprocessing?.FeatureDType == "float16";
        extractor = new Lazy<RegionFeatureExtractor>(() => RegionFeatureExtractor.Open(resolveDetector(), Source.MaxRegions, threads, Source.GridSize, stage, gridAlways: Source.GridAlways, inputSize: Source.Side),
            LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>How photos become regions.</summary>
    public RegionSource Source { get; }

    /// <summary>The regions of an encoded photo; <paramref name="name"/> names it in errors and is the regions' id.</summary>
    public ImageRegions Extract(byte[] encoded, string name)
    {
        var regions = extractor.Value.Extract(Path.GetFileNameWithoutExtension(name), encoded, name, givenBoxes: null);
        if (!roundToHalf) return regions;
        return regions with { Features = Array.ConvertAll(regions.Features, v => (float)(Half)v) };
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (extractor.IsValueCreated) extractor.Value.Dispose();
    }
}
