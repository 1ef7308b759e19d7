using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>Self-attention followed by its output block (BERT's <c>attention</c>).</summary>
public sealed class BertAttention : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly BertSelfAttention self;
    private readonly BertSelfOutput output;

    /// <summary>Creates the attention block for a layer shape.</summary>
    public BertAttention(BertLayerShape shape) : base(nameof(BertAttention))
    {
        self = new BertSelfAttention(shape);
        output = new BertSelfOutput(shape, shape.HiddenSize);
        register_module("self", self);
        register_module("output", output);
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor hidden, Tensor additiveMask) => output.call(self.call(hidden, additiveMask), hidden);

    /// <summary>Submodules are registered explicitly under their checkpoint names in the constructor; field-based registration would add duplicate keys.</summary>
    protected override void RegisterComponents() { }
}
