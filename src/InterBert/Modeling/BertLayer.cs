using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>One transformer layer in BERT's post-LayerNorm form, with BERT's checkpoint key names.</summary>
public sealed class BertLayer : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly BertAttention attention;
    private readonly BertIntermediate intermediate;
    private readonly BertSelfOutput output;

    /// <summary>Creates a layer of the given shape.</summary>
    public BertLayer(BertLayerShape shape) : base(nameof(BertLayer))
    {
        attention = new BertAttention(shape);
        intermediate = new BertIntermediate(shape);
        output = new BertSelfOutput(shape, shape.IntermediateSize);
        register_module("attention", attention);
        register_module("intermediate", intermediate);
        register_module("output", output);
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor hidden, Tensor additiveMask)
    {
        var attended = attention.call(hidden, additiveMask);
        return output.call(intermediate.call(attended), attended);
    }

    /// <summary>Submodules are registered explicitly under their checkpoint names in the constructor; field-based registration would add duplicate keys.</summary>
    protected override void RegisterComponents() { }
}
