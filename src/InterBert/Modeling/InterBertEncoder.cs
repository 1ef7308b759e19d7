using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>
/// The single-stream interaction module (<c>layer.0 .. layer.{n-1}</c>, over [image ; text]) and the
/// two-stream extraction module: the text stream (<c>layer.n .. layer.{n+m-1}</c>) and the image stream (<c>v_layer.*</c>).
/// Keeping all text-path layers in one list makes BERT layer i load as <c>layer.i</c> with no renaming.
/// </summary>
public sealed class InterBertEncoder : nn.Module
{
    private readonly ModuleList<BertLayer> layer;
    private readonly ModuleList<BertLayer> vLayer;
    private readonly ModuleList<BertLayer>? jointLayer;
    private readonly ModuleList<BertLayer>? jointVLayer;
    private readonly int singleStreamLayers;

    /// <summary>Creates the encoder of a configuration.</summary>
    public InterBertEncoder(InterBertConfig config) : base(nameof(InterBertEncoder))
    {
        singleStreamLayers = config.NumHiddenLayers;
        var textShape = BertLayerShape.Text(config);
        var imageShape = BertLayerShape.Image(config);
        layer = nn.ModuleList(Enumerable.Range(0, config.TextPathLayers).Select(_ => new BertLayer(textShape)).ToArray());
        vLayer = nn.ModuleList(Enumerable.Range(0, config.VNumHiddenLayers).Select(_ => new BertLayer(imageShape)).ToArray());
        register_module("layer", layer);
        register_module("v_layer", vLayer);
        if (config.UntiedInteraction)
        {
            // Untied extraction: the joint copy holds the text stream's layers too, at the same indices.
            jointLayer = nn.ModuleList(Enumerable.Range(0, config.UntiedExtraction ? config.TextPathLayers : config.NumHiddenLayers).Select(_ => new BertLayer(textShape)).ToArray());
            register_module(JointLayerName, jointLayer);
        }
        if (config.UntiedExtraction)
        {
            jointVLayer = nn.ModuleList(Enumerable.Range(0, config.VNumHiddenLayers).Select(_ => new BertLayer(imageShape)).ToArray());
            register_module(JointImageLayerName, jointVLayer);
        }
    }

    /// <summary>Name (under <c>encoder.</c>) of the joint pass's own image-stream layers when its extraction is untied (<see cref="InterBertConfig.UntiedExtraction"/>).</summary>
    public const string JointImageLayerName = "joint_v_layer";

    /// <summary>Name (under <c>encoder.</c>) of the joint pass's own single-stream layers when the interaction is untied (<see cref="InterBertConfig.UntiedInteraction"/>).</summary>
    public const string JointLayerName = "joint_layer";

    /// <summary>
    /// Runs the single-stream interaction layers over a sequence: one modality alone, or, with <paramref name="joint"/>,
    /// [image ; text] (through the joint pass's own copy when the interaction is untied).
    /// </summary>
    public Tensor Interact(Tensor hidden, Tensor additiveMask, bool joint = false)
    {
        var layers = joint && jointLayer is not null ? jointLayer : layer;
        for (var i = 0; i < singleStreamLayers; i++) hidden = layers[i].call(hidden, additiveMask);
        return hidden;
    }

    /// <summary>Runs the text stream of the extraction module (the joint pass's own copy, with <paramref name="joint"/>, when its extraction is untied).</summary>
    public Tensor ExtractText(Tensor hidden, Tensor additiveMask, bool joint = false)
    {
        var layers = joint && jointVLayer is not null ? jointLayer! : layer;
        for (var i = singleStreamLayers; i < layers.Count; i++) hidden = layers[i].call(hidden, additiveMask);
        return hidden;
    }

    /// <summary>Runs the image stream of the extraction module (the joint pass's own copy, with <paramref name="joint"/>, when its extraction is untied).</summary>
    public Tensor ExtractImage(Tensor hidden, Tensor additiveMask, bool joint = false)
    {
        foreach (var imageLayer in joint && jointVLayer is not null ? jointVLayer : vLayer) hidden = imageLayer.call(hidden, additiveMask);
        return hidden;
    }

    /// <summary>Turns a [B, L] mask of 1 (attend) and 0 (padding) into the additive [B, 1, 1, L] form attention takes.</summary>
    public static Tensor AdditiveMask(Tensor mask, ScalarType dtype)
    {
        // A large finite negative rather than -inf keeps softmax finite for any row.
        // (mask - 1) * 1e9, the same as (1 - mask) * -1e9, with kept scalars.
        return mask.to_type(dtype).sub(KeptScalars.One).mul(KeptScalars.Of(1e9)).view(mask.shape[0], 1, 1, mask.shape[1]);
    }

    /// <summary>Submodules are registered explicitly under their checkpoint names in the constructor; field-based registration would add duplicate keys.</summary>
    protected override void RegisterComponents() { }
}
