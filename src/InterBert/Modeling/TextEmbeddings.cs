using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>BERT's embeddings: word + position + token type, LayerNorm, dropout (keys <c>embeddings.*</c>).</summary>
public sealed class TextEmbeddings : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly Embedding wordEmbeddings;
    private readonly Embedding positionEmbeddings;
    private readonly Embedding tokenTypeEmbeddings;
    private readonly LayerNorm layerNorm;
    private readonly AutocastDropout dropout;

    /// <summary>Creates the text embeddings of a configuration.</summary>
    public TextEmbeddings(InterBertConfig config) : base(nameof(TextEmbeddings))
    {
        wordEmbeddings = nn.Embedding(config.VocabSize, config.HiddenSize);
        positionEmbeddings = nn.Embedding(config.MaxPositionEmbeddings, config.HiddenSize);
        tokenTypeEmbeddings = nn.Embedding(config.TypeVocabSize, config.HiddenSize);
        layerNorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        dropout = new AutocastDropout(config.HiddenDropoutProb);
        register_module("word_embeddings", wordEmbeddings);
        register_module("position_embeddings", positionEmbeddings);
        register_module("token_type_embeddings", tokenTypeEmbeddings);
        register_module("LayerNorm", layerNorm);
        register_module("dropout", dropout);
    }

    /// <summary>The word embedding matrix, which the segment head's decoder shares.</summary>
    public Parameter WordEmbeddingWeight => wordEmbeddings.weight!;

    /// <inheritdoc/>
    public override Tensor forward(Tensor inputIds, Tensor? tokenTypeIds)
    {
        var length = inputIds.shape[1];
        if (length > positionEmbeddings.weight!.shape[0])
            throw new ArgumentException($"text of {length} tokens exceeds max_position_embeddings {positionEmbeddings.weight.shape[0]}");
        using var end = length.ToScalar(); // kept alive by the using until the positions exist
        var positions = arange(KeptScalars.Zero, end, KeptScalars.One, dtype: ScalarType.Int64, device: inputIds.device).unsqueeze(0);
        var embedded = wordEmbeddings.call(inputIds).Plus(positionEmbeddings.call(positions));
        embedded = tokenTypeIds is null
            ? embedded.Plus(tokenTypeEmbeddings.weight![0])
            : embedded.Plus(tokenTypeEmbeddings.call(tokenTypeIds));
        return dropout.call(layerNorm.call(embedded));
    }

    /// <summary>Submodules are registered explicitly under their checkpoint names in the constructor; field-based registration would add duplicate keys.</summary>
    protected override void RegisterComponents() { }
}
