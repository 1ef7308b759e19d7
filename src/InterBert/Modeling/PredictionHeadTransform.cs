using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>BERT's head transform: Linear, GELU, LayerNorm (<c>transform.*</c>).</summary>
public sealed class PredictionHeadTransform : nn.Module<Tensor, Tensor>
{
    private readonly Linear dense;
    private readonly LayerNorm layerNorm;

    /// <summary>Creates the transform for a hidden size.</summary>
    public PredictionHeadTransform(int hiddenSize, double layerNormEps) : base(nameof(PredictionHeadTransform))
    {
        dense = nn.Linear(hiddenSize, hiddenSize);
        layerNorm = nn.LayerNorm(hiddenSize, layerNormEps);
        register_module("dense", dense);
        register_module("LayerNorm", layerNorm);
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor hidden) => layerNorm.call(AutocastScope.Widen(nn.functional.gelu(dense.call(hidden))));

    /// <summary>Submodules are registered explicitly under their checkpoint names in the constructor; field-based registration would add duplicate keys.</summary>
    protected override void RegisterComponents() { }
}
