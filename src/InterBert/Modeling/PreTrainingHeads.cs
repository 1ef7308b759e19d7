using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>
/// The pretraining heads under <c>cls.*</c>: segment (<c>predictions</c>), image-text matching
/// (<c>bi_seq_relationship</c>), region classes (<c>imagePredictions</c>) and, when configured,
/// feature regression (<c>imageFeatureRegression</c>).
/// </summary>
public sealed class PreTrainingHeads : nn.Module
{
    /// <summary>Creates the heads of a configuration.</summary>
    public PreTrainingHeads(InterBertConfig config) : base(nameof(PreTrainingHeads))
    {
        Segment = new SegmentPredictionHead(config);
        Matching = nn.Linear(config.BiHiddenSize, 2);
        Region = new RegionPredictionHead(config.VHiddenSize, config.VTargetSize, config.LayerNormEps);
        register_module("predictions", Segment);
        register_module("bi_seq_relationship", Matching);
        register_module("imagePredictions", Region);
        if (config.PredictFeature)
        {
            FeatureRegression = new RegionPredictionHead(config.VHiddenSize, config.VFeatureSize, config.LayerNormEps);
            register_module("imageFeatureRegression", FeatureRegression);
        }
    }

    /// <summary>Masked segment modeling head.</summary>
    public SegmentPredictionHead Segment { get; }
    /// <summary>Image-text matching head: 2 logits (0 = matched, 1 = not matched) from the fused pooled vector.</summary>
    public Linear Matching { get; }
    /// <summary>Masked region modeling head: class logits.</summary>
    public RegionPredictionHead Region { get; }
    /// <summary>Optional feature-regression head for masked region modeling.</summary>
    public RegionPredictionHead? FeatureRegression { get; }

    /// <summary>Submodules are registered explicitly under their checkpoint names in the constructor; field-based registration would add duplicate keys.</summary>
    protected override void RegisterComponents() { }
}
