using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>
/// InterBERT's backbone, as modeling_bert's BertModel: text and image embeddings, the single-stream interaction module
/// over [image ; text], the two-stream extraction module and the poolers. The task heads live in
/// <see cref="InterBertModel"/>, which extends it under the same checkpoint keys (BERT's for the text path, the
/// reference code's for the rest), so a BERT checkpoint loads without renaming.
/// </summary>
public class InterBertBackbone : nn.Module
{
    private readonly TextEmbeddings embeddings;
    private readonly ImageEmbeddings vEmbeddings;
    private readonly InterBertEncoder encoder;
    private readonly Pooler tPooler;
    private readonly Pooler vPooler;
    private readonly Pooler? jointTPooler;
    private readonly Pooler? jointVPooler;
    private readonly RegionGeometryBias? geometryBias;
    private readonly RegionGeometryBias? vGeometryBias;
    private readonly ResNetStage? visualStage;

    /// <summary>Builds a backbone alone, with BERT-style random initialisation.</summary>
    public InterBertBackbone(InterBertConfig config) : this(config, nameof(InterBertBackbone), initialize: true)
    {
    }

    /// <summary>Builds and registers the backbone's modules; a model with heads initialises once, after adding them.</summary>
    protected InterBertBackbone(InterBertConfig config, string name, bool initialize) : base(name)
    {
        config.Validate();
        Config = config;
        embeddings = new TextEmbeddings(config);
        vEmbeddings = new ImageEmbeddings(config);
        encoder = new InterBertEncoder(config);
        tPooler = new Pooler(config.HiddenSize, config.BiHiddenSize);
        vPooler = new Pooler(config.VHiddenSize, config.BiHiddenSize);
        register_module("embeddings", embeddings);
        register_module("v_embeddings", vEmbeddings);
        register_module("encoder", encoder);
        register_module("t_pooler", tPooler);
        register_module("v_pooler", vPooler);
        if (config.UntiedExtraction)
        {
            jointTPooler = new Pooler(config.HiddenSize, config.BiHiddenSize);
            jointVPooler = new Pooler(config.VHiddenSize, config.BiHiddenSize);
            register_module(JointPoolerPrefix + "t_pooler", jointTPooler);
            register_module(JointPoolerPrefix + "v_pooler", jointVPooler);
        }
        if (config.GeometryAttentionBias)
        {
            geometryBias = new RegionGeometryBias(config.NumAttentionHeads);
            vGeometryBias = new RegionGeometryBias(config.VNumAttentionHeads);
            register_module("geometry_bias", geometryBias);
            register_module("v_geometry_bias", vGeometryBias);
        }
        if (config.VisualStage is not null)
        {
            visualStage = new ResNetStage();
            register_module(VisualStageKey, visualStage);
        }
        if (initialize) InitializeWeights();
    }

    /// <summary>Key prefix (without the dot) of the CNN stage's weights when the model has one (<see cref="InterBertConfig.VisualStage"/>).</summary>
    public const string VisualStageKey = "visual_stage";

    /// <summary>Whether a weight's key (as in <c>state_dict</c>) belongs to the CNN stage.</summary>
    public static bool IsVisualStageKey(string key) => key.StartsWith(VisualStageKey + ".", StringComparison.Ordinal);

    /// <summary>Whether the model computes its region features itself, with its own CNN stage, from layer3 maps.</summary>
    public bool HasVisualStage => visualStage is not null;

    /// <summary>
    /// A short hash of the CNN stage's weights (null without one): what a feature store computed by this stage records,
    /// so that features are only ever paired with the stage that made them.
    /// </summary>
    public string? VisualStageFingerprint()
    {
        if (visualStage is null) return null;
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var (name, value) in visualStage.state_dict().OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(name));
            using var detached = value.detach();
            using var contiguous = detached.contiguous();
            hash.AppendData(contiguous.bytes);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }

    /// <summary>
    /// Region features [B, R, 512] (fp32) computed by the model's CNN stage: the stage runs on layer3 maps
    /// [B, 256, H, W] (any float type) and its output is pooled by RoI align at <paramref name="grids"/>
    /// [B, R, bins, bins, 2] (<see cref="RoiAlign.Grid"/>); differentiable with respect to the stage's weights.
    /// </summary>
    public Tensor RegionFeatures(Tensor layer3Maps, Tensor grids)
    {
        if (visualStage is null) throw new InvalidOperationException("the model has no visual stage (its configuration's visual_stage is absent)");
        using var autocast = Autocast();
        // Under bf16 autocast the convolutions cast their inputs themselves; in fp32 the (16-bit) stored maps are widened.
        var maps = AutocastScope.IsActive ? layer3Maps : layer3Maps.to_type(ScalarType.Float32);
        return AutocastScope.Widen(RoiAlign.Pool(visualStage.call(maps), grids));
    }

    /// <summary>
    /// The joint pass's key of a single-stream layer's weight (<c>encoder.layer.i.*</c> → <c>encoder.joint_layer.i.*</c>),
    /// or null for any other key: what an untied interaction copies its layers from.
    /// </summary>
    public string? JointKeyOf(string key) => JointKeyOf(Config, key);

    /// <summary>
    /// The joint pass's key of a weight in a model of <paramref name="config"/>: a single-stream layer's
    /// (<c>encoder.layer.i.*</c> → <c>encoder.joint_layer.i.*</c>) when the interaction is untied, and with untied
    /// extraction also the text stream's layers, the image stream's (<c>encoder.v_layer.j.*</c> →
    /// <c>encoder.joint_v_layer.j.*</c>) and the poolers' (<c>t_pooler.*</c> → <c>joint_t_pooler.*</c>); null for any
    /// other key.
    /// </summary>
    public static string? JointKeyOf(InterBertConfig config, string key)
    {
        if (!config.UntiedInteraction) return null;
        if (key.StartsWith("encoder.layer.", StringComparison.Ordinal))
            return config.UntiedExtraction || int.Parse(key.Split('.')[2], System.Globalization.CultureInfo.InvariantCulture) < config.NumHiddenLayers
                ? "encoder." + InterBertEncoder.JointLayerName + key["encoder.layer".Length..] : null;
        if (!config.UntiedExtraction) return null;
        if (key.StartsWith("encoder.v_layer.", StringComparison.Ordinal)) return "encoder." + InterBertEncoder.JointImageLayerName + key["encoder.v_layer".Length..];
        return key.StartsWith("t_pooler.", StringComparison.Ordinal) || key.StartsWith("v_pooler.", StringComparison.Ordinal) ? JointPoolerPrefix + key : null;
    }

    /// <summary>Prefix of the joint pass's own poolers' names when its extraction is untied (<see cref="InterBertConfig.UntiedExtraction"/>).</summary>
    public const string JointPoolerPrefix = "joint_";

    /// <summary>The region embeddings (appearance and box of each region).</summary>
    public ImageEmbeddings RegionEmbeddings => vEmbeddings;

    /// <summary>The configuration the model was built from.</summary>
    public InterBertConfig Config { get; }

    /// <summary>The word embedding table (the masked segment head's output weights are tied to it).</summary>
    protected Tensor WordEmbeddingWeight => embeddings.WordEmbeddingWeight;

    /// <summary>
    /// The arithmetic of forward passes and heads: with <see cref="Precision.Bf16"/> each runs inside an
    /// <see cref="AutocastScope"/> (bf16 matrix products, fp32 LayerNorm and outputs); parameters stay fp32 either way.
    /// Training loops may open one scope around a whole step so that weights are cast once per step.
    /// </summary>
    public Precision Precision { get; set; } = Precision.Fp32;

    /// <summary>Begins an autocast region of this model's precision on the calling thread (nothing for fp32).</summary>
    public IDisposable? Autocast() => Precision == Precision.Bf16 ? AutocastScope.Enter(Precision.Bf16) : null;

    /// <summary>
    /// Runs the model. With both inputs: joint single-stream interaction, then the two streams.
    /// With text only: no image token and no image parameter is touched (single-modal tasks, text embeddings).
    /// With image only: the image path alone (image embeddings).
    /// </summary>
    public InterBertOutput Forward(TextBatch? text, ImageBatch? image)
    {
        if (text is null && image is null) throw new ArgumentException("a forward pass needs text, an image, or both");
        using var autocast = Autocast();
        var textHidden = text is null ? null : embeddings.call(text.InputIds, text.TokenTypeIds);
        var imageHidden = image is null ? null : vEmbeddings.call(image.Features, image.Locations, image.RegionMask);
        var textMask = text?.AttentionMask;
        var imageMask = image is null ? null : ImageEmbeddings.MaskWithGlobalToken(image.RegionMask);
        var dtype = (textHidden ?? imageHidden)!.dtype;
        // The geometry of every pair of image positions, embedded once for the biases of both streams.
        Tensor? pairGeometry = null, pairMask = null;
        if (image is not null && geometryBias is not null) (pairGeometry, pairMask) = RegionGeometryBias.ImagePositionPairs(image.Locations, image.RegionMask);

        var jointPass = textHidden is not null && imageHidden is not null;
        if (textHidden is not null && imageHidden is not null)
        {
            if (text!.RegionLinks is { } links)
            {
                // Image position 0 is the global token, so region r sits at r + 1; unlinked tokens gather it and are masked off.
                var positions = links.clamp_min(KeptScalars.MinusOne).add(KeptScalars.One, KeptScalars.One).unsqueeze(-1).expand(-1, -1, imageHidden.shape[2]);
                var linked = links.ge(KeptScalars.Zero).unsqueeze(-1).to_type(imageHidden.dtype);
                textHidden = textHidden.Plus(imageHidden.gather(1, positions) * linked);
            }
            var imageLength = imageHidden.shape[1];
            var joint = cat([imageHidden, textHidden], 1);
            var jointMask = cat([imageMask!.to_type(ScalarType.Int64), textMask!.to_type(ScalarType.Int64)], 1);
            var jointAttention = InterBertEncoder.AdditiveMask(jointMask, dtype);
            if (geometryBias is not null)
            {
                // Text positions follow the image's: the bias covers the image block and is zero for every pair with a token.
                var bias = geometryBias.call(pairGeometry!, pairMask!);
                var textLength = joint.shape[1] - imageLength;
                jointAttention = jointAttention.Plus(nn.functional.pad(bias, [0, textLength, 0, textLength]));
            }
            joint = encoder.Interact(joint, jointAttention, joint: true);
            imageHidden = joint.narrow(1, 0, imageLength);
            textHidden = joint.narrow(1, imageLength, joint.shape[1] - imageLength);
        }
        else if (textHidden is not null)
        {
            textHidden = encoder.Interact(textHidden, InterBertEncoder.AdditiveMask(textMask!, dtype));
        }
        else
        {
            var imageAttention = InterBertEncoder.AdditiveMask(imageMask!, dtype);
            if (geometryBias is not null) imageAttention = imageAttention.Plus(geometryBias.call(pairGeometry!, pairMask!));
            imageHidden = encoder.Interact(imageHidden!, imageAttention);
        }

        if (textHidden is not null) textHidden = encoder.ExtractText(textHidden, InterBertEncoder.AdditiveMask(textMask!, dtype), jointPass);
        if (imageHidden is not null)
        {
            var imageAttention = InterBertEncoder.AdditiveMask(imageMask!, dtype);
            if (vGeometryBias is not null) imageAttention = imageAttention.Plus(vGeometryBias.call(pairGeometry!, pairMask!));
            imageHidden = encoder.ExtractImage(imageHidden, imageAttention, jointPass);
        }
        // With untied extraction the joint pass pools with its own poolers (jointTPooler and jointVPooler exist together).
        var (textPooler, imagePooler) = jointPass && jointTPooler is not null ? (jointTPooler, jointVPooler!) : (tPooler, vPooler);
        return new InterBertOutput(
            textHidden, imageHidden,
            textHidden is null ? null : textPooler.call(textHidden),
            imageHidden is null ? null : imagePooler.call(imageHidden));
    }

    /// <summary>A text sequence's positions in the pooled vectors' space (see <see cref="Pooler.EachPosition"/>).</summary>
    public Tensor TextPositions(Tensor textSequence) => tPooler.EachPosition(textSequence);

    /// <summary>An image sequence's positions in the pooled vectors' space (see <see cref="Pooler.EachPosition"/>).</summary>
    public Tensor ImagePositions(Tensor imageSequence) => vPooler.EachPosition(imageSequence);

    /// <summary>Runs a head in the model's precision; its output is fp32 whatever the precision (losses and scores are computed in fp32).</summary>
    protected Tensor InPrecision(Func<Tensor> head)
    {
        using var autocast = Autocast();
        return AutocastScope.Widen(head());
    }

    /// <summary>Which part of the model a parameter belongs to: "text", "image" or "heads".</summary>
    public static string PartOf(string parameterName) => parameterName switch
    {
        _ when parameterName.StartsWith("embeddings.", StringComparison.Ordinal) || parameterName.StartsWith("encoder.layer.", StringComparison.Ordinal)
            || parameterName.StartsWith("encoder." + InterBertEncoder.JointLayerName + ".", StringComparison.Ordinal) => "text",
        _ when parameterName.StartsWith("v_embeddings.", StringComparison.Ordinal) || parameterName.StartsWith("encoder.v_layer.", StringComparison.Ordinal)
            || parameterName.StartsWith("encoder." + InterBertEncoder.JointImageLayerName + ".", StringComparison.Ordinal)
            || parameterName.StartsWith("geometry_bias.", StringComparison.Ordinal) || parameterName.StartsWith("v_geometry_bias.", StringComparison.Ordinal)
            || IsVisualStageKey(parameterName) => "image",
        _ => "heads",
    };

    /// <summary>Parameter counts per part (text path, image path, heads) and in total.</summary>
    public IReadOnlyDictionary<string, long> ParameterCounts()
    {
        var counts = new Dictionary<string, long> { ["text"] = 0, ["image"] = 0, ["heads"] = 0 };
        foreach (var (name, parameter) in named_parameters()) counts[PartOf(name)] += parameter.numel();
        counts["total"] = counts["text"] + counts["image"] + counts["heads"];
        return counts;
    }

    /// <summary>BERT's initialisation: normal(0, initializer_range) weights, zero biases, LayerNorm 1 and 0.</summary>
    protected void InitializeWeights()
    {
        using var noGrad = no_grad();
        foreach (var (name, module) in named_modules())
        {
            var std = PartOf(name + ".") == "image" ? Config.VInitializerRange : Config.InitializerRange;
            switch (module)
            {
                case Linear linear:
                    linear.weight!.normal_(0, std);
                    linear.bias?.zero_();
                    break;
                case Embedding embedding:
                    embedding.weight!.normal_(0, std);
                    break;
                case LayerNorm layerNorm:
                    layerNorm.weight!.fill_(1.0);
                    layerNorm.bias!.zero_();
                    break;
            }
        }
        // The geometry bias starts at none, whatever the initialisation of linear maps above.
        geometryBias?.ResetToZero();
        vGeometryBias?.ResetToZero();
    }

    /// <summary>Submodules are registered explicitly under their checkpoint names in the constructor; field-based registration would add duplicate keys.</summary>
    protected override void RegisterComponents() { }
}
