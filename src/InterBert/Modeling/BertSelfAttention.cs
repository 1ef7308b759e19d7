using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>Multi-head self-attention (BERT's <c>attention.self</c>: query, key, value).</summary>
public sealed class BertSelfAttention : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly Linear query;
    private readonly Linear key;
    private readonly Linear value;
    private readonly int heads;
    private readonly int headSize;
    private readonly double dropout;

    /// <summary>Creates the attention projections for a layer shape.</summary>
    public BertSelfAttention(BertLayerShape shape) : base(nameof(BertSelfAttention))
    {
        heads = shape.NumAttentionHeads;
        headSize = shape.HiddenSize / shape.NumAttentionHeads;
        dropout = shape.AttentionProbsDropoutProb;
        query = nn.Linear(shape.HiddenSize, shape.HiddenSize);
        key = nn.Linear(shape.HiddenSize, shape.HiddenSize);
        value = nn.Linear(shape.HiddenSize, shape.HiddenSize);
        register_module("query", query);
        register_module("key", key);
        register_module("value", value);
    }

    /// <summary>Attends over <paramref name="hidden"/> [B, L, H]; <paramref name="additiveMask"/> is [B, 1, 1, L] with 0 for real and a large negative number for padded keys.</summary>
    public override Tensor forward(Tensor hidden, Tensor additiveMask)
    {
        var batch = hidden.shape[0];
        var length = hidden.shape[1];
        Tensor Split(Linear projection) => projection.call(hidden).view(batch, length, heads, headSize).transpose(1, 2);
        var context = nn.functional.scaled_dot_product_attention(
            Split(query), Split(key), Split(value), additiveMask, training ? dropout : 0.0, false);
        return context.transpose(1, 2).reshape(batch, length, heads * headSize);
    }

    /// <summary>Submodules are registered explicitly under their checkpoint names in the constructor; field-based registration would add duplicate keys.</summary>
    protected override void RegisterComponents() { }
}
