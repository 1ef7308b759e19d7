using static TorchSharp.torch;

namespace InterBert.Weights;

/// <summary>
/// A pretrained BERT-architecture text encoder read from somewhere (ONNX graph, Hugging Face checkpoint):
/// its tensors under Hugging Face BERT names, its vocabulary file's bytes and casing.
/// </summary>
public sealed class PretrainedTextEncoder(
    string source, IReadOnlyDictionary<string, Tensor> state, byte[] vocabulary, bool lowerCase, int? attentionHeads,
    IReadOnlyCollection<string>? freshKeys = null) : IDisposable
{
    /// <summary>Where the weights came from, for messages.</summary>
    public string Source { get; } = source;
    /// <summary>Tensors by Hugging Face BERT name (with or without the <c>bert.</c> prefix).</summary>
    public IReadOnlyDictionary<string, Tensor> State { get; } = state;
    /// <summary>The <c>vocab.txt</c> bytes that the weights were trained with.</summary>
    public byte[] Vocabulary { get; } = vocabulary;
    /// <summary>Whether the vocabulary is uncased (lower-case and strip accents).</summary>
    public bool LowerCase { get; } = lowerCase;
    /// <summary>Attention heads, when the source says (weights alone cannot tell).</summary>
    public int? AttentionHeads { get; } = attentionHeads;

    /// <summary>Model keys whose values are mostly not pretrained (a transplanted vocabulary's embeddings): not listed as pretrained.</summary>
    public IReadOnlyCollection<string> FreshKeys { get; } = freshKeys ?? [];

    /// <summary>The tensor of a BERT key, with or without the <c>bert.</c> prefix.</summary>
    public Tensor? Find(string key) =>
        State.TryGetValue(key, out var t) ? t : State.TryGetValue("bert." + key, out t) ? t : null;

    /// <summary>Number of transformer layers present.</summary>
    public int LayerCount
    {
        get
        {
            var count = 0;
            while (Find($"encoder.layer.{count}.attention.self.query.weight") is not null) count++;
            return count;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var tensor in State.Values) tensor.Dispose();
    }
}
