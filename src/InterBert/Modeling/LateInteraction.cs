using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>
/// A re-ranker that reads every word and every region: single-stream layers over [image ; text] as the two unimodal
/// passes left them (the sequences whose first positions give the search vectors), each position marked with its
/// modality, then a score from the text's [CLS] position. ALBEF's fusion encoder sits on its unimodal encoders the same
/// way. A pair costs these few layers over sequences that search computes once per caption and once per photo, so it
/// can be trained on many more pairs than the full joint pass, and a first stage held fixed stays exactly itself.
/// </summary>
public sealed class LateInteraction : nn.Module<Tensor, Tensor, Tensor, Tensor, Tensor>
{
    private readonly Parameter modality;
    private readonly ModuleList<BertLayer> layer;
    private readonly Linear pooler;
    private readonly Linear score;

    /// <summary>Creates <see cref="InterBertConfig.LateInteractionLayers"/> layers of the text path's shape.</summary>
    public LateInteraction(InterBertConfig config) : base(nameof(LateInteraction))
    {
        if (config.VHiddenSize != config.HiddenSize)
            throw new ArgumentException($"late interaction joins the text and image sequences: their hidden sizes must match ({config.HiddenSize} and {config.VHiddenSize})");
        var shape = BertLayerShape.Text(config);
        modality = nn.Parameter(zeros(2, config.HiddenSize));
        layer = nn.ModuleList(Enumerable.Range(0, config.LateInteractionLayers).Select(_ => new BertLayer(shape)).ToArray());
        pooler = nn.Linear(config.HiddenSize, config.HiddenSize);
        score = nn.Linear(config.HiddenSize, 1);
        register_parameter("modality", modality);
        register_module("layer", layer);
        register_module("pooler", pooler);
        register_module("score", score);
    }

    /// <summary>Checkpoint name (under the model) of the late interaction.</summary>
    public const string Name = "late_interaction";

    /// <summary>Checkpoint key of layer <paramref name="index"/>'s parameter <paramref name="suffix"/> (as in a <see cref="BertLayer"/>).</summary>
    public static string LayerKey(int index, string suffix) => $"{Name}.layer.{index}.{suffix}";

    /// <summary>
    /// The score [B] of each pair: <paramref name="textSequence"/> [B, T, H] with <paramref name="textMask"/> [B, T],
    /// <paramref name="imageSequence"/> [B, R + 1, H] with <paramref name="imageMask"/> [B, R + 1] (1 real, 0 padding).
    /// </summary>
    public override Tensor forward(Tensor textSequence, Tensor textMask, Tensor imageSequence, Tensor imageMask)
    {
        var imageLength = imageSequence.shape[1];
        var dtype = textSequence.dtype;
        var joint = cat([imageSequence.to_type(dtype).Plus(modality[0].to_type(dtype)), textSequence.Plus(modality[1].to_type(dtype))], 1);
        var mask = cat([imageMask.to_type(ScalarType.Int64), textMask.to_type(ScalarType.Int64)], 1);
        var attention = InterBertEncoder.AdditiveMask(mask, dtype);
        foreach (var fusion in layer) joint = fusion.call(joint, attention);
        // The text's [CLS] has attended to every region and word: ALBEF's matching head reads the same position.
        var cls = joint.select(1, imageLength);
        using var fp32 = AutocastScope.IsActive ? AutocastScope.Enter(Precision.Fp32) : null;
        return score.call(tanh(pooler.call(cls.to_type(ScalarType.Float32)))).squeeze(-1);
    }

    /// <summary>Submodules are registered explicitly under their checkpoint names in the constructor; field-based registration would add duplicate keys.</summary>
    protected override void RegisterComponents() { }
}
