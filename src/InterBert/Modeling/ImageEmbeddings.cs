using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>
/// Region embeddings: LayerNorm(Linear(feature) + Linear(location)), dropout (keys <c>v_embeddings.*</c>); with
/// <see cref="InterBertConfig.VLocationLayerNorm"/>, (LayerNorm(Linear(feature)) + location_LayerNorm(Linear(location))) / 2.
/// Prepends a global image token whose feature is the mean of the real regions and whose location is the whole image.
/// </summary>
public sealed class ImageEmbeddings : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    private readonly Linear imageEmbeddings;
    private readonly Linear imageLocationEmbeddings;
    private readonly LayerNorm layerNorm;
    private readonly LayerNorm? locationLayerNorm;
    private readonly AutocastDropout dropout;
    private readonly int featureSize;
    private readonly int locationFrequencies;

    /// <summary>Creates the image embeddings of a configuration.</summary>
    public ImageEmbeddings(InterBertConfig config) : base(nameof(ImageEmbeddings))
    {
        featureSize = config.VFeatureSize;
        locationFrequencies = config.VLocationFrequencies;
        imageEmbeddings = nn.Linear(config.VFeatureSize, config.VHiddenSize);
        imageLocationEmbeddings = nn.Linear(config.LocationInputSize, config.VHiddenSize);
        layerNorm = nn.LayerNorm(config.VHiddenSize, config.LayerNormEps);
        dropout = new AutocastDropout(config.VHiddenDropoutProb);
        register_module("image_embeddings", imageEmbeddings);
        register_module("image_location_embeddings", imageLocationEmbeddings);
        register_module("LayerNorm", layerNorm);
        register_module("dropout", dropout);
        if (config.VLocationLayerNorm)
        {
            locationLayerNorm = nn.LayerNorm(config.VHiddenSize, config.LayerNormEps);
            register_module("location_LayerNorm", locationLayerNorm);
        }
    }

    /// <summary>Embeds features [B, R, F] and locations [B, R, 5] of regions with mask [B, R]; returns [B, R + 1, H].</summary>
    public override Tensor forward(Tensor regionFeatures, Tensor regionLocations, Tensor regionMask)
    {
        if (regionFeatures.shape[^1] != featureSize)
            throw new ArgumentException($"region features have {regionFeatures.shape[^1]} dimensions but the model expects v_feature_size {featureSize}");
        var (withGlobalFeatures, withGlobalLocations) = PrependGlobalToken(regionFeatures, regionLocations, regionMask);
        // Under bf16 autocast the projections come out in bf16; LayerNorm and everything after it stay fp32.
        var features = AutocastScope.Widen(imageEmbeddings.call(withGlobalFeatures));
        var locations = AutocastScope.Widen(imageLocationEmbeddings.call(LocationInput(withGlobalLocations, locationFrequencies)));
        // Normalised apart, the box carries as much weight as the appearance, however large the features are.
        var embedded = locationLayerNorm is null
            ? layerNorm.call(features.Plus(locations))
            : layerNorm.call(features).Plus(locationLayerNorm.call(locations)).div(KeptScalars.Of(2));
        return dropout.call(embedded);
    }

    /// <summary>
    /// The location input of boxes [.., 5]: the five numbers themselves, then, with <paramref name="frequencies"/> n &gt; 0,
    /// sin(2^k·π·v) for k = 0..n-1 and each number v, then the cosines in the same order: [.., 5·(1 + 2n)].
    /// </summary>
    public static Tensor LocationInput(Tensor locations, int frequencies)
    {
        if (frequencies == 0) return locations;
        // Computed in fp32 whatever the autocast: bf16 keeps 8 bits, too few for the finest frequencies' phases.
        var values = locations.to_type(ScalarType.Float32);
        var scales = tensor(Enumerable.Range(0, frequencies).Select(k => MathF.PI * (1 << k)).ToArray(), device: locations.device);
        var phases = values.unsqueeze(-1).mul(scales).flatten(-2); // [.., 5·n]: number-major, frequency-minor
        return cat([values, phases.sin(), phases.cos()], -1).to_type(locations.dtype);
    }

    /// <summary>Adds the global token (mean of real region features, whole-image location) in front of the regions.</summary>
    public static (Tensor Features, Tensor Locations) PrependGlobalToken(Tensor features, Tensor locations, Tensor regionMask)
    {
        var weights = regionMask.to_type(features.dtype).unsqueeze(-1);
        var count = weights.sum(1).clamp_min(KeptScalars.One);
        var mean = (features * weights).sum(1) / count;
        var wholeImage = tensor(new float[] { 0, 0, 1, 1, 1 }, dtype: locations.dtype, device: locations.device)
            .expand(locations.shape[0], InterBertConfig.LocationSize);
        return (cat([mean.unsqueeze(1), features], 1), cat([wholeImage.unsqueeze(1), locations], 1));
    }

    /// <summary>The region mask with the always-present global token in front: [B, R + 1].</summary>
    public static Tensor MaskWithGlobalToken(Tensor regionMask) =>
        cat([ones(regionMask.shape[0], 1, dtype: regionMask.dtype, device: regionMask.device), regionMask], 1);

    /// <summary>Submodules are registered explicitly under their checkpoint names in the constructor; field-based registration would add duplicate keys.</summary>
    protected override void RegisterComponents() { }
}
