using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>Pools a sequence by its first token: Linear(hidden → bi_hidden_size) then ReLU (<c>t_pooler</c>, <c>v_pooler</c>).</summary>
public sealed class Pooler : nn.Module<Tensor, Tensor>
{
    private readonly Linear dense;

    /// <summary>Creates a pooler from <paramref name="hiddenSize"/> to <paramref name="pooledSize"/>.</summary>
    public Pooler(int hiddenSize, int pooledSize) : base(nameof(Pooler))
    {
        dense = nn.Linear(hiddenSize, pooledSize);
        register_module("dense", dense);
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor sequence)
    {
        // fp32 even under bf16 autocast: one vector per sequence costs nothing, and the contrastive loss, matching and
        // search compare these vectors by margins that bf16's rounding of the output would blur.
        using var fp32 = AutocastScope.IsActive ? AutocastScope.Enter(Precision.Fp32) : null;
        return nn.functional.relu(dense.call(sequence.select(1, 0)));
    }

    /// <summary>
    /// Every position through the pooler's layer, not only the first: [B, L, bi_hidden] in the space the pooled vectors
    /// share, so that words and regions can be compared one by one (<see cref="TokenRegionMatching"/>).
    /// </summary>
    public Tensor EachPosition(Tensor sequence)
    {
        using var fp32 = AutocastScope.IsActive ? AutocastScope.Enter(Precision.Fp32) : null;
        return nn.functional.relu(dense.call(sequence));
    }

    /// <summary>Submodules are registered explicitly under their checkpoint names in the constructor; field-based registration would add duplicate keys.</summary>
    protected override void RegisterComponents() { }
}
