using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>A head over image hidden states: transform, then Linear to the region classes (<c>cls.imagePredictions</c>) or to the feature size (regression).</summary>
public sealed class RegionPredictionHead : nn.Module<Tensor, Tensor>
{
    private readonly PredictionHeadTransform transform;
    private readonly Linear decoder;

    /// <summary>Creates a head from <paramref name="hiddenSize"/> to <paramref name="outputSize"/>.</summary>
    public RegionPredictionHead(int hiddenSize, int outputSize, double layerNormEps) : base(nameof(RegionPredictionHead))
    {
        transform = new PredictionHeadTransform(hiddenSize, layerNormEps);
        decoder = nn.Linear(hiddenSize, outputSize);
        register_module("transform", transform);
        register_module("decoder", decoder);
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor hidden) => decoder.call(transform.call(hidden));

    /// <summary>Submodules are registered explicitly under their checkpoint names in the constructor; field-based registration would add duplicate keys.</summary>
    protected override void RegisterComponents() { }
}
