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
        Tensor Split(Tensor projected) => projected.view(batch, length, heads, headSize).transpose(1, 2);
        Tensor context;
        if (AutocastScope.IsActive)
        {
            // One product for query, key and value: the input is cast to bf16 once and the matrix is three times wider.
            var fused = nn.functional.linear(hidden, cat([query.weight!, key.weight!, value.weight!]), cat([query.bias!, key.bias!, value.bias!]));
            var parts = fused.chunk(3, -1);
            context = WrittenOutAttention(Split(parts[0]), Split(parts[1]), Split(parts[2]), additiveMask, training ? dropout : 0.0);
        }
        else
        {
            context = nn.functional.scaled_dot_product_attention(
                Split(query.call(hidden)), Split(key.call(hidden)), Split(value.call(hidden)), additiveMask, training ? dropout : 0.0, false);
        }
        return context.transpose(1, 2).reshape(batch, length, heads * headSize);
    }

    /// <summary>
    /// Attention of q, k, v [B, heads, L, d] written out, as used under bf16 autocast: scores and the weighted sum are
    /// (bf16) matrix products, the softmax and the dropout of the probabilities fp32 (the mask from
    /// <see cref="AutocastDropout"/>'s fast generator). Measured by <c>bench attention</c>, libtorch's fused CPU
    /// kernel is slower in bf16 than these two products (its flash backward, and the math fallback it takes with dropout).
    /// </summary>
    public static Tensor WrittenOutAttention(Tensor q, Tensor k, Tensor v, Tensor additiveMask, double dropout)
    {
        var scores = matmul(q.mul(KeptScalars.Of(1.0 / Math.Sqrt(q.shape[^1]))), k.transpose(-1, -2));
        var probabilities = softmax(scores.to_type(ScalarType.Float32).Plus(additiveMask), -1);
        if (dropout > 0) probabilities = AutocastDropout.Apply(probabilities, dropout);
        // Explicit, so the product is bf16 with bf16 values even outside an autocast region (mixed types would abort).
        return matmul(probabilities.to_type(v.dtype), v);
    }

    /// <summary>Submodules are registered explicitly under their checkpoint names in the constructor; field-based registration would add duplicate keys.</summary>
    protected override void RegisterComponents() { }
}
