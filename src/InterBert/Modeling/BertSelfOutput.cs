using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>A projection, dropout, residual and LayerNorm: BERT's <c>attention.output</c> and <c>output</c> blocks.</summary>
public sealed class BertSelfOutput : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly Linear dense;
    private readonly LayerNorm layerNorm;
    private readonly AutocastDropout dropout;

    /// <summary>Creates the block projecting <paramref name="inputSize"/> back to the hidden size.</summary>
    public BertSelfOutput(BertLayerShape shape, int inputSize) : base(nameof(BertSelfOutput))
    {
        dense = nn.Linear(inputSize, shape.HiddenSize);
        layerNorm = nn.LayerNorm(shape.HiddenSize, shape.LayerNormEps);
        dropout = new AutocastDropout(shape.HiddenDropoutProb);
        register_module("dense", dense);
        register_module("LayerNorm", layerNorm);
        register_module("dropout", dropout);
    }

    /// <summary>LayerNorm(dropout(dense(x)) + residual).</summary>
    public override Tensor forward(Tensor x, Tensor residual) => layerNorm.call(dropout.call(dense.call(x)).Plus(residual));

    /// <summary>Submodules are registered explicitly under their checkpoint names in the constructor; field-based registration would add duplicate keys.</summary>
    protected override void RegisterComponents() { }
}
