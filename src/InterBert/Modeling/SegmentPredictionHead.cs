using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>
/// The masked segment modeling head: BERT's LM head (<c>cls.predictions.*</c>), whose decoder is tied to the
/// word embeddings (so only the transform and the output bias are its own parameters).
/// </summary>
public sealed class SegmentPredictionHead : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly PredictionHeadTransform transform;
    private readonly Parameter bias;

    /// <summary>Creates the head of a configuration.</summary>
    public SegmentPredictionHead(InterBertConfig config) : base(nameof(SegmentPredictionHead))
    {
        transform = new PredictionHeadTransform(config.HiddenSize, config.LayerNormEps);
        bias = new Parameter(zeros(config.VocabSize));
        register_module("transform", transform);
        register_parameter("bias", bias);
    }

    /// <summary>Vocabulary logits for text hidden states [..., H], using the shared word embedding matrix.</summary>
    public override Tensor forward(Tensor hidden, Tensor wordEmbeddingWeight) =>
        nn.functional.linear(transform.call(hidden), wordEmbeddingWeight, bias);

    /// <summary>Submodules are registered explicitly under their checkpoint names in the constructor; field-based registration would add duplicate keys.</summary>
    protected override void RegisterComponents() { }
}
