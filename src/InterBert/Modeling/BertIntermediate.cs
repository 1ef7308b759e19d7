using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>The first half of the feed-forward: Linear to the intermediate size and GELU (BERT's <c>intermediate</c>).</summary>
public sealed class BertIntermediate : nn.Module<Tensor, Tensor>
{
    private readonly Linear dense;
    private readonly bool relu;

    /// <summary>Creates the expansion for a layer shape.</summary>
    public BertIntermediate(BertLayerShape shape) : base(nameof(BertIntermediate))
    {
        dense = nn.Linear(shape.HiddenSize, shape.IntermediateSize);
        relu = shape.HiddenAct == "relu";
        register_module("dense", dense);
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor hidden)
    {
        var projected = dense.call(hidden);
        // BERT's GELU is the exact (erf) form, which is torch's default.
        return relu ? nn.functional.relu(projected) : nn.functional.gelu(projected);
    }

    /// <summary>Submodules are registered explicitly under their checkpoint names in the constructor; field-based registration would add duplicate keys.</summary>
    protected override void RegisterComponents() { }
}
