using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>
/// InterBERT with its task heads, as modeling_bert's BertForPreTraining: the <see cref="InterBertBackbone"/> plus the
/// pretraining heads (masked segments, masked regions, image-text matching), the retrieval score head and the
/// contrastive loss's temperature. Checkpoint keys are BERT's for the text path and the reference code's for the
/// rest, so a BERT checkpoint loads without renaming.
/// </summary>
public sealed class InterBertModel : InterBertBackbone
{
    private readonly PreTrainingHeads cls;
    private readonly Linear vilLogit;
    private readonly AutocastDropout fusionDropout;
    private readonly Parameter logitScale;
    private readonly LateInteraction? lateInteraction;

    /// <summary>Builds a model with BERT-style random initialisation.</summary>
    public InterBertModel(InterBertConfig config) : base(config, nameof(InterBertModel), initialize: false)
    {
        cls = new PreTrainingHeads(config);
        vilLogit = nn.Linear(config.BiHiddenSize, 1);
        fusionDropout = new AutocastDropout(config.HiddenDropoutProb);
        register_module("cls", cls);
        register_module(ScoreHeadName, vilLogit);
        register_module("fusion_dropout", fusionDropout);
        // CLIP's learnable inverse temperature, started at 1/0.07; used only by the optional contrastive loss.
        logitScale = nn.Parameter(full(1, InitialLogitScale));
        register_parameter(LogitScaleKey, logitScale);
        if (config.LateInteractionLayers > 0)
        {
            lateInteraction = new LateInteraction(config);
            register_module(LateInteraction.Name, lateInteraction);
        }
        InitializeModelWeights();
    }

    /// <summary>Checkpoint name of the score head (<see cref="Score"/>), the reference implementation's.</summary>
    public const string ScoreHeadName = "vil_logit";

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

    /// <summary>The pretraining heads.</summary>
    public PreTrainingHeads Heads => cls;

    /// <summary>The fused pooled vector: pooled text ⊙ pooled image ("mul", the paper's) or their sum, with dropout.</summary>
    public Tensor Fuse(InterBertOutput output)
    {
        if (output.PooledText is null || output.PooledImage is null)
            throw new ArgumentException("fusion needs a forward pass with both text and image");
        var fused = Config.PoolingMethod == "sum" ? output.PooledText.Plus(output.PooledImage) : output.PooledText * output.PooledImage;
        return fusionDropout.call(fused);
    }

    /// <summary>Image-text matching logits [B, 2]: index <see cref="MatchedIndex"/> (0) = matched, 1 = not matched.</summary>
    public Tensor MatchingLogits(InterBertOutput output) => InFp32(() => cls.Matching.call(Fuse(output)));

    /// <summary>Whether pair scores come from the late interaction (<see cref="InterBertConfig.LateInteractionLayers"/>) rather than the joint pass.</summary>
    public bool HasLateInteraction => lateInteraction is not null;

    /// <summary>
    /// The late interaction's score [B] (<see cref="LateInteraction"/>) from a text-only and an image-only pass of the
    /// same pairs (their sequences and masks).
    /// </summary>
    public Tensor LateScore(InterBertOutput textPass, TextBatch text, InterBertOutput imagePass, ImageBatch image) =>
        LateScore(textPass.TextSequence ?? throw new ArgumentException("late interaction needs a text pass"), text.AttentionMask,
            imagePass.ImageSequence ?? throw new ArgumentException("late interaction needs an image pass"), ImageEmbeddings.MaskWithGlobalToken(image.RegionMask));

    /// <summary>The late interaction's score [B] from the unimodal sequences and their masks (1 real, 0 padding; the image's with its global token).</summary>
    public Tensor LateScore(Tensor textSequence, Tensor textMask, Tensor imageSequence, Tensor imageMask)
    {
        var late = lateInteraction ?? throw new InvalidOperationException("the model has no late interaction (late_interaction_layers is 0)");
        using var autocast = Autocast();
        return late.call(textSequence, textMask, imageSequence, imageMask);
    }

    /// <summary>
    /// The joint pass's score [B] used by retrieval and multiple choice: the score head over the fused pooled vectors,
    /// or, when <see cref="InterBertConfig.PairScore"/> is <see cref="InterBertConfig.JointCosineScore"/>, the cosine
    /// of the joint pass's pooled text and image vectors times the contrastive loss's inverse temperature (held fixed
    /// here: the ranking loss trains the vectors, the contrastive loss the temperature).
    /// </summary>
    public Tensor Score(InterBertOutput output)
    {
        if (Config.PairScore != InterBertConfig.JointCosineScore) return InFp32(() => vilLogit.call(Fuse(output)).squeeze(-1));
        if (output.PooledText is null || output.PooledImage is null) throw new ArgumentException("the joint cosine needs a forward pass with both text and image");
        return InFp32(() => nn.functional.cosine_similarity(output.PooledText.to_type(ScalarType.Float32), output.PooledImage.to_type(ScalarType.Float32), dim: 1)
            * ContrastiveLoss.Scale(logitScale).detach());
    }

    /// <summary>
    /// The score of each text-image pair: the joint pass's <see cref="Score"/> (fine-tuned models), or the late
    /// interaction over a text-only and an image-only pass when the model has one, or, zero-shot, the matching head's
    /// margin (matched minus not matched); plus, when the configuration sets
    /// <see cref="InterBertConfig.RegionJudgeWeight"/>, that weight times <see cref="GroundedLikelihood"/>.
    /// </summary>
    public Tensor PairScores(TextBatch text, ImageBatch image, bool zeroShot)
    {
        Tensor score;
        if (!zeroShot && lateInteraction is not null) score = LateScore(Forward(text, null), text, Forward(null, image), image);
        else if (!zeroShot) score = Score(Forward(text, image));
        else
        {
            var logits = MatchingLogits(Forward(text, image));
            score = logits.select(1, MatchedIndex) - logits.select(1, 1 - MatchedIndex);
        }
        return Config.RegionJudgeWeight > 0 ? score + Config.RegionJudgeWeight * GroundedLikelihood(text, image) : score;
    }

    /// <summary>
    /// The region head as a judge of the caption [B]: with every region's features hidden (the boxes stay), as masked
    /// region modeling hides one, how much better the caption lets the head name the regions than no caption does:
    /// log p(classes | caption, boxes) − log p(classes | [CLS] [SEP], boxes), each Σ over regions and classes of q·log p
    /// with q each region's class distribution (<see cref="ImageBatch.Classes"/>; padding and the whole image add
    /// nothing). A caption that names the objects where their boxes are explains them better than the same caption
    /// with its objects swapped, once the model binds words to boxes; the caption-free term takes out what the boxes
    /// alone say, so that images with more or easier regions are not preferred for every caption.
    /// </summary>
    public Tensor GroundedLikelihood(TextBatch text, ImageBatch image)
    {
        var classes = image.Classes ?? throw new InterBertException("the region head judges a caption by the regions' class distributions, and these regions have none (a feature store of labelled or detected boxes has them)");
        var hidden = image with { Features = zeros_like(image.Features) };
        var regions = image.Features.shape[1];
        Tensor LogLikelihood(TextBatch caption) =>
            // Position 0 of the image sequence is the global token.
            (classes * RegionLogits(Forward(caption, hidden).ImageSequence!.narrow(1, 1, regions)).to_type(ScalarType.Float32).log_softmax(-1)).sum([1, 2]);
        // The empty caption of each pair: its [CLS] and its [SEP] (the last token the mask keeps).
        var separator = text.InputIds.gather(1, text.AttentionMask.sum(1, keepdim: true, type: ScalarType.Int64) - 1);
        var empty = new TextBatch(cat([text.InputIds.narrow(1, 0, 1), separator], 1), ones_like(text.AttentionMask.narrow(1, 0, 2)));
        return LogLikelihood(text) - LogLikelihood(empty);
    }

    /// <summary>Vocabulary logits for text hidden states (masked segment modeling).</summary>
    public Tensor SegmentLogits(Tensor textHidden) => InPrecision(() => cls.Segment.call(textHidden, WordEmbeddingWeight));

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

    /// <summary>BERT's initialisation of every module, the heads included, then the matching head's rows turned.</summary>
    private void InitializeModelWeights()
    {
        InitializeWeights();
        using var noGrad = no_grad();
        // Versions whose matching head had "matched" at index 1 drew the same rows the other way round: turning
        // them keeps every seed's run identical to theirs (the loss is symmetric in the class order).
        var matching = cls.Matching.weight!;
        using var turned = matching.flip(0);
        matching.copy_(turned);
    }
}
