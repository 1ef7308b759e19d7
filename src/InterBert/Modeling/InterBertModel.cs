using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>
/// InterBERT: text and image embeddings, a single-stream interaction module over [image ; text],
/// a two-stream extraction module, poolers and the task heads. Checkpoint keys are BERT's for the
/// text path and the reference code's for the rest, so a BERT checkpoint loads without renaming.
/// </summary>
public sealed class InterBertModel : nn.Module
{
    private readonly TextEmbeddings embeddings;
    private readonly ImageEmbeddings vEmbeddings;
    private readonly InterBertEncoder encoder;
    private readonly Pooler tPooler;
    private readonly Pooler vPooler;
    private readonly PreTrainingHeads cls;
    private readonly Linear vilLogit;
    private readonly AutocastDropout fusionDropout;
    private readonly Parameter logitScale;

    /// <summary>Builds a model with BERT-style random initialisation.</summary>
    public InterBertModel(InterBertConfig config) : base(nameof(InterBertModel))
    {
        config.Validate();
        Config = config;
        embeddings = new TextEmbeddings(config);
        vEmbeddings = new ImageEmbeddings(config);
        encoder = new InterBertEncoder(config);
        tPooler = new Pooler(config.HiddenSize, config.BiHiddenSize);
        vPooler = new Pooler(config.VHiddenSize, config.BiHiddenSize);
        cls = new PreTrainingHeads(config);
        vilLogit = nn.Linear(config.BiHiddenSize, 1);
        fusionDropout = new AutocastDropout(config.HiddenDropoutProb);
        register_module("embeddings", embeddings);
        register_module("v_embeddings", vEmbeddings);
        register_module("encoder", encoder);
        register_module("t_pooler", tPooler);
        register_module("v_pooler", vPooler);
        register_module("cls", cls);
        register_module("vil_logit", vilLogit);
        register_module("fusion_dropout", fusionDropout);
        // CLIP's learnable inverse temperature, started at 1/0.07; used only by the optional contrastive loss.
        logitScale = nn.Parameter(full(1, InitialLogitScale));
        register_parameter(LogitScaleKey, logitScale);
        InitializeWeights();
    }

    /// <summary>Checkpoint key of the contrastive loss's learnable log inverse temperature (absent from older files).</summary>
    public const string LogitScaleKey = "logit_scale";

    /// <summary>
    /// The matching head's class for "the caption belongs to the image": 0, as in the reference implementation and
    /// BERT's next-sentence head, so that weights trained by either score the right way round.
    /// </summary>
    public const int MatchedIndex = 0;

    /// <summary>ln(1 / 0.07): the log inverse temperature a new model starts with.</summary>
    public static readonly double InitialLogitScale = Math.Log(1 / 0.07);

    /// <summary>The contrastive loss's log inverse temperature [1].</summary>
    public Tensor LogitScale => logitScale;

    /// <summary>The region embeddings (appearance and box of each region).</summary>
    public ImageEmbeddings RegionEmbeddings => vEmbeddings;

    /// <summary>The configuration the model was built from.</summary>
    public InterBertConfig Config { get; }

    /// <summary>The pretraining heads.</summary>
    public PreTrainingHeads Heads => cls;

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

        if (textHidden is not null && imageHidden is not null)
        {
            if (text!.RegionLinks is { } links)
            {
                // Image position 0 is the global token, so region r sits at r + 1; unlinked tokens gather it and are masked off.
                var positions = (links.clamp_min(-1) + 1).unsqueeze(-1).expand(-1, -1, imageHidden.shape[2]);
                var linked = links.ge(0).unsqueeze(-1).to_type(imageHidden.dtype);
                textHidden = textHidden + imageHidden.gather(1, positions) * linked;
            }
            var imageLength = imageHidden.shape[1];
            var joint = cat([imageHidden, textHidden], 1);
            var jointMask = cat([imageMask!.to_type(ScalarType.Int64), textMask!.to_type(ScalarType.Int64)], 1);
            joint = encoder.Interact(joint, InterBertEncoder.AdditiveMask(jointMask, dtype));
            imageHidden = joint.narrow(1, 0, imageLength);
            textHidden = joint.narrow(1, imageLength, joint.shape[1] - imageLength);
        }
        else if (textHidden is not null)
        {
            textHidden = encoder.Interact(textHidden, InterBertEncoder.AdditiveMask(textMask!, dtype));
        }
        else
        {
            imageHidden = encoder.Interact(imageHidden!, InterBertEncoder.AdditiveMask(imageMask!, dtype));
        }

        if (textHidden is not null) textHidden = encoder.ExtractText(textHidden, InterBertEncoder.AdditiveMask(textMask!, dtype));
        if (imageHidden is not null) imageHidden = encoder.ExtractImage(imageHidden, InterBertEncoder.AdditiveMask(imageMask!, dtype));
        return new InterBertOutput(
            textHidden, imageHidden,
            textHidden is null ? null : tPooler.call(textHidden),
            imageHidden is null ? null : vPooler.call(imageHidden));
    }

    /// <summary>The fused pooled vector: pooled text ⊙ pooled image ("mul", the paper's) or their sum, with dropout.</summary>
    public Tensor Fuse(InterBertOutput output)
    {
        if (output.PooledText is null || output.PooledImage is null)
            throw new ArgumentException("fusion needs a forward pass with both text and image");
        var fused = Config.PoolingMethod == "sum" ? output.PooledText + output.PooledImage : output.PooledText * output.PooledImage;
        return fusionDropout.call(fused);
    }

    /// <summary>Image-text matching logits [B, 2]: index <see cref="MatchedIndex"/> (0) = matched, 1 = not matched.</summary>
    public Tensor MatchingLogits(InterBertOutput output) => InFp32(() => cls.Matching.call(Fuse(output)));

    /// <summary>The score head [B] used by retrieval and multiple choice.</summary>
    public Tensor Score(InterBertOutput output) => InFp32(() => vilLogit.call(Fuse(output)).squeeze(-1));

    /// <summary>
    /// The score of each text-image pair of a forward pass: the score head (fine-tuned models), or, zero-shot, the
    /// matching head's margin (matched minus not matched).
    /// </summary>
    public Tensor PairScores(TextBatch text, ImageBatch image, bool zeroShot)
    {
        var output = Forward(text, image);
        if (!zeroShot) return Score(output);
        var logits = MatchingLogits(output);
        return logits.select(1, MatchedIndex) - logits.select(1, 1 - MatchedIndex);
    }

    /// <summary>Vocabulary logits for text hidden states (masked segment modeling).</summary>
    public Tensor SegmentLogits(Tensor textHidden) => InPrecision(() => cls.Segment.call(textHidden, embeddings.WordEmbeddingWeight));

    /// <summary>Region class logits for image hidden states (masked region modeling).</summary>
    public Tensor RegionLogits(Tensor imageHidden) => InPrecision(() => cls.Region.call(imageHidden));

    /// <summary>Regressed region features, or throws when the model has no regression head (<c>predict_feature</c> false).</summary>
    public Tensor RegressFeatures(Tensor imageHidden) =>
        InPrecision(() => (cls.FeatureRegression ?? throw new InvalidOperationException("the model has no feature-regression head: set predict_feature in its configuration"))
        .call(imageHidden));

    /// <summary>Runs a one- or two-output head on the fused vector in fp32 in every precision (its cost is nil; its margins are the scores).</summary>
    private static Tensor InFp32(Func<Tensor> head)
    {
        using var fp32 = AutocastScope.IsActive ? AutocastScope.Enter(Precision.Fp32) : null;
        return head();
    }

    /// <summary>Runs a head in the model's precision; its output is fp32 whatever the precision (losses and scores are computed in fp32).</summary>
    private Tensor InPrecision(Func<Tensor> head)
    {
        using var autocast = Autocast();
        return AutocastScope.Widen(head());
    }

    /// <summary>Which part of the model a parameter belongs to: "text", "image" or "heads".</summary>
    public static string PartOf(string parameterName) => parameterName switch
    {
        _ when parameterName.StartsWith("embeddings.", StringComparison.Ordinal) || parameterName.StartsWith("encoder.layer.", StringComparison.Ordinal) => "text",
        _ when parameterName.StartsWith("v_embeddings.", StringComparison.Ordinal) || parameterName.StartsWith("encoder.v_layer.", StringComparison.Ordinal) => "image",
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
    private void InitializeWeights()
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
        // Versions whose matching head had "matched" at index 1 drew the same rows the other way round: turning
        // them keeps every seed's run identical to theirs (the loss is symmetric in the class order).
        var matching = cls.Matching.weight!;
        using var turned = matching.flip(0);
        matching.copy_(turned);
    }

    /// <summary>Submodules are registered explicitly under their checkpoint names in the constructor; field-based registration would add duplicate keys.</summary>
    protected override void RegisterComponents() { }
}
