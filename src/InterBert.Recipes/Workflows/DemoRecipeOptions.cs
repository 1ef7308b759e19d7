using InterBert.Modeling;
using InterBert.Pretraining;

namespace InterBert.Workflows;

/// <summary>
/// The sizes and recipes of a demo run. The default fits in under fifteen minutes on two cores (in bf16 10.2 measured
/// in English, 12.8 in Chinese); <see cref="Grounded"/> (<c>demo --grounded</c>) adds a grounding curriculum on scene
/// layouts before pretraining, the region head judging captions and fine-tuning that keeps the binding, in about 15.
/// </summary>
public sealed record DemoRecipeOptions : IRecipeTraining
{
    /// <summary>Pretraining and fine-tuning steps that fit the time in bf16 (the default).</summary>
    public const int Bf16PretrainSteps = 800, Bf16FinetuneSteps = 400;

    /// <summary>Pretraining steps of the grounded recipe, after its grounding stages.</summary>
    public const int GroundedPretrainSteps = 400;

    /// <summary>
    /// The grounded recipe's steps in each of the four grounding stages, in English and in Chinese (with captions read
    /// whole, 150 bound the English seeds that 300 with masked captions did not; 300 bind more, 98.7% against 74.4% with
    /// seed 4, and fit in 15 minutes since the optimiser step got cheaper; Chinese steps take longer, and its 150 bind
    /// seed 1 with aligned characters, seeds 2 and 3 only partly; docs/levers.md); the scene layouts grounding draws from.
    /// </summary>
    public const int GroundedGroundingSteps = 300, GroundedChineseGroundingSteps = 150, DefaultGroundingScenes = 3000;

    /// <summary>The grounded recipe's true pairs per grounding step: half the pretraining's batch, about as many true pairs as it has.</summary>
    public const int GroundedGroundingBatch = 16;

    /// <summary>
    /// The grounded recipe's peak learning rate in its grounding stages: the first stage ends with a held-out region
    /// loss under 2 (its plateau, the caption unread, is 3.45) with 5 of 6 seeds, against 3 of 6 at the pretraining's
    /// 3e-4; at 1e-4 it learns less with seed 2 (docs/levers.md).
    /// </summary>
    public const double GroundedGroundingLearningRate = 2e-4;

    /// <summary>
    /// The grounded recipe's peak grounding rate in Chinese, whose stages are half as long: at 3e-4 the last stage's
    /// held-out region loss ended lower with each of three seeds (0.30, 0.78, 0.77 against 0.40, 1.17, 1.09 at 2e-4),
    /// and relations after fine-tuning rose from 47% to 69% (seed 2) and from 48% to 61% (seed 3), while seed 1's went
    /// from 89% to 85%; at 4e-4 seed 2 stayed at 1.16 (docs/levers.md).
    /// </summary>
    public const double GroundedChineseGroundingLearningRate = 3e-4;

    /// <summary>Pretraining and fine-tuning steps that fit the time in fp32 (<c>--precision fp32</c>).</summary>
    public const int Fp32PretrainSteps = 160, Fp32FinetuneSteps = 100;

    /// <summary>Caption language: <c>en</c> (MiniLM weights and vocabulary) or <c>zh</c> (character vocabulary, random text weights).</summary>
    public string Language { get; init; } = "en";
    /// <summary>Model preset (<c>small</c> is the shape MiniLM fills; English needs it).</summary>
    public string Preset { get; init; } = "small";
    /// <summary>Scenes rendered.</summary>
    public int Images { get; init; } = 800;
    /// <summary>Scenes in the test split (each queried by one caption; exhaustive scoring of TestImages² pairs).</summary>
    public int TestImages { get; init; } = 100;
    /// <summary>Arithmetic of pretraining, fine-tuning, evaluation and indexing (bf16: mixed precision, about 2.5 times faster here).</summary>
    public Precision Precision { get; init; } = Precision.Bf16;
    /// <summary>Seed of scenes, initialisation and training.</summary>
    public int Seed { get; init; } = 1;
    /// <summary>Pretraining steps.</summary>
    public int PretrainSteps { get; init; } = Bf16PretrainSteps;
    /// <summary>Pairs per pretraining step.</summary>
    public int PretrainBatch { get; init; } = 32;
    /// <summary>Peak pretraining learning rate.</summary>
    public double PretrainLearningRate { get; init; } = 3e-4;
    /// <summary>Multiplier of the learning rate of weights that came pretrained (MiniLM's) in pretraining; the demo's fine-tuning trains them at the full rate.</summary>
    public double PretrainedLearningRateMultiplier { get; init; } = DefaultPretrainedLearningRateMultiplier;

    /// <summary>The default of <see cref="PretrainedLearningRateMultiplier"/> (the grounded recipe's is 1).</summary>
    public const double DefaultPretrainedLearningRateMultiplier = 0.3;
    /// <summary>MSM:MRM:ITM loss weights (the paper's equal weights: MRM is the KL divergence to each region's shape-colour-size class).</summary>
    public (double Segment, double Region, double Matching) LossWeights { get; init; } = (1, 1, 1);
    /// <summary>What masked region modeling does with the whole-image region when a region inside it is masked.</summary>
    public WholeImageRegionMasking WholeImageRegion { get; init; } = new PretrainingTaskOptions().WholeImageRegion;
    /// <summary>
    /// Multiplier of the learning rate of the weights that came pretrained (MiniLM's) in fine-tuning: 1 by default; a
    /// grounded model keeps its binding of words to boxes, which the region judge reads, only at a lower rate (0.3 in
    /// the grounded recipe).
    /// </summary>
    public double FinetunePretrainedLearningRateMultiplier { get; init; } = 1;
    /// <summary>Retrieval fine-tuning steps (each 4 pairs per example).</summary>
    public int FinetuneSteps { get; init; } = Bf16FinetuneSteps;

    /// <summary>Examples per fine-tuning step.</summary>
    public int FinetuneBatch { get; init; } = 8;
    /// <summary>Peak fine-tuning learning rate.</summary>
    public double FinetuneLearningRate { get; init; } = 3e-4;
    /// <summary>
    /// Weight of the image-text contrastive loss in pretraining and fine-tuning, which makes the models search models
    /// (and, on these scenes, keeps the image path from collapsing to the count shortcut).
    /// </summary>
    public double ContrastiveWeight { get; init; } = 1;
    /// <summary>Share of pretraining's ITM negatives that are the training scene's own hard negatives (a colour or a relation changed).</summary>
    public double OwnNegativeRate { get; init; } = 0.5;
    /// <summary>Share of fine-tuning's wrong-caption pairs that are the training scene's own hard negatives.</summary>
    public double FinetuneOwnNegativeRate { get; init; } = 0.5;
    /// <summary>Whether each training scene with a relation caption also trains as its mirrored twin (<see cref="Synthetic.SceneGenerator.MirroredTwin"/>).</summary>
    public bool MirroredTwins { get; init; }
    /// <summary>Which of a scene's own hard negatives serve as wrong captions (<c>relation</c>, <c>attribute</c>); null: both.</summary>
    public string? OwnNegativeKind { get; init; }
    /// <summary>Share of pretraining's matched pairs whose every region is masked (<see cref="Pretraining.PretrainingTaskOptions.AllRegionsMaskedRate"/>).</summary>
    public double AllRegionsMaskedRate { get; init; }
    /// <summary>Whether those pairs keep their caption whole in pretraining (<see cref="Pretraining.PretrainingTaskOptions.ConditionalMasking"/>).</summary>
    public bool ConditionalMasking { get; init; }
    /// <summary>Scenes in the validation split (held-out pretraining metrics).</summary>
    public int ValidationImages => Math.Max(2, Images / 20);
    /// <summary>CPU threads of the feature extractor (not part of any fingerprint: results do not depend on it).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Test queries shown with their top-5 images in the report.</summary>
    public int ShownQueries { get; init; } = 4;
    /// <summary>Chinese only: whether the text path starts from MiniLM's layers with the learned character vocabulary transplanted (else random).</summary>
    public bool ChineseLayersFromMiniLm { get; init; }
    /// <summary>
    /// Chinese from MiniLM's layers only: characters that the training scenes' English captions align to an English
    /// token start from that token's row (<see cref="Text.ParallelCaptionAlignment"/>; <c>--text-init minilm-aligned</c>).
    /// </summary>
    public bool AlignedCharacters { get; init; }
    /// <summary>Whether the model gets the attention bias from region pair geometry (<see cref="Modeling.InterBertConfig.GeometryAttentionBias"/>).</summary>
    public bool GeometryBias { get; init; }

    /// <summary>
    /// Relation curriculum: the first this many of <see cref="PretrainSteps"/> pretrain on the scenes with every relation
    /// stated one way (left or above: <see cref="Synthetic.SceneGenerator.OneWay"/>), the rest, from those weights, on
    /// all captions. 0: none.
    /// </summary>
    public int RelationCurriculumSteps { get; init; }

    /// <summary>
    /// Grounding curriculum: before pretraining, this many steps in each of four stages of masked region modeling alone,
    /// every region's features hidden, on the two-object training scenes' relation captions
    /// (<see cref="Synthetic.SyntheticDataset.WriteGrounding"/>): every relation stated one way, then a third, two thirds
    /// and all of the scenes both ways, each stage from the last one's weights, MiniLM's layers at the full rate; the
    /// pretraining starts from the last. 0: none.
    /// </summary>
    public int GroundingCurriculumSteps { get; init; }

    /// <summary>
    /// The scene layouts the grounding curriculum draws its two-object scenes from (the test scenes left out), 3,000 by
    /// default; fewer than <see cref="Images"/>: the rendered scenes. Those beyond the rendered ones are laid out, never rendered
    /// (<see cref="Synthetic.GroundingLayoutStore"/>): grounding hides every region's features.
    /// </summary>
    public int GroundingScenes { get; init; } = DefaultGroundingScenes;

    /// <summary>
    /// Pairs per grounding step. 0: the pretraining's batch, with its share of wrong captions (which masked region
    /// modeling, grounding's only task, skips); N: N pairs a step, every one a true pair: about the same true pairs per
    /// step for N = half the pretraining's batch, in half the compute.
    /// </summary>
    public int GroundingBatch { get; init; }

    /// <summary>Peak learning rate of the grounding stages; null: the pretraining's (<see cref="PretrainLearningRate"/>).</summary>
    public double? GroundingLearningRate { get; init; }

    /// <summary>Share of each grounding stage's steps spent warming up to its peak rate; null: the training default (0.1).</summary>
    public double? GroundingWarmupFraction { get; init; }

    /// <summary>
    /// Learning-rate multiplier of MiniLM's weights in the first grounding stage only (the later ones train them at
    /// the full rate): below 1, the new region layers learn first (LP-FT's order). Measured at 0, it did not cure the
    /// first stage's stall and slowed the seeds that learn (docs/levers.md), so the recipe keeps 1.
    /// </summary>
    public double GroundingFirstStagePretrainedMultiplier { get; init; } = 1;

    /// <summary>Whether the demo also fine-tunes, evaluates and reports the model without multimodal pretraining (the default demo does; the grounded one leaves it out).</summary>
    public bool Baseline { get; init; } = true;

    /// <summary>The number of scene layouts grounding draws from: <see cref="GroundingScenes"/>, at least <see cref="Images"/>.</summary>
    public int GroundingSceneCount => Math.Max(Images, GroundingScenes);

    /// <summary>
    /// The region judge weight of the pretrained model and the models fine-tuned from it
    /// (<see cref="Modeling.InterBertConfig.RegionJudgeWeight"/>): their pair scores add the region head's judgement of
    /// the caption. The model fine-tuned without pretraining never has it (its region head is untrained). 0: off.
    /// </summary>
    public double RegionJudgeWeight { get; init; }

    /// <summary>Sine frequencies of the new model's box encoding (<see cref="Modeling.InterBertConfig.VLocationFrequencies"/>); 0, the paper's five numbers, by default.</summary>
    public int LocationFrequencies { get; init; }

    /// <summary>The settings of a language and precision: bf16 spends the time it saves on more steps.</summary>
    public static DemoRecipeOptions For(string language, Precision precision = Precision.Bf16)
    {
        var settings = language switch
        {
            "en" => new DemoRecipeOptions(),
            "zh" => new DemoRecipeOptions { Language = "zh" },
            _ => throw new InterBertException($"demo --lang {language}: expected en or zh"),
        };
        return precision == Precision.Bf16 ? settings : settings with { Precision = precision, PretrainSteps = Fp32PretrainSteps, FinetuneSteps = Fp32FinetuneSteps };
    }

    /// <summary>
    /// The grounded recipe (bf16): four grounding stages of 300 steps (150 in Chinese) of 16 true pairs at 2e-4 (3e-4 in Chinese) on the two-object scenes
    /// of 3,000 layouts, each caption read whole, boxes as sines of 8 frequencies, the geometry bias (without it the
    /// grounding stages do not learn the classes), every region hidden in half the true pairs, MiniLM's layers pretrained at the full rate for 400 steps, the region head
    /// judging captions at weight 1, and fine-tuning that moves MiniLM's layers at 0.3 times the rate; no model
    /// fine-tuned without pretraining (<see cref="Baseline"/>), so that it fits in about 15 minutes. In Chinese the text
    /// path starts from MiniLM's layers with the character vocabulary transplanted, each character that the English
    /// captions align to an English token starting from that token's row, when the preset is the small one they fill
    /// (random text layers did not bind, nor MiniLM's with random rows for the new characters); set the preset first. Throws <see cref="ArgumentException"/> for
    /// settings in another precision.
    /// </summary>
    public static DemoRecipeOptions Grounded(DemoRecipeOptions settings) => settings.Precision != Precision.Bf16
        ? throw new ArgumentException("--grounded runs in bf16 (in fp32 its grounding stages alone would take the demo's time)")
        : settings with
    {
        GroundingCurriculumSteps = settings.Language == "zh" ? GroundedChineseGroundingSteps : GroundedGroundingSteps, GroundingBatch = GroundedGroundingBatch, GroundingLearningRate = settings.Language == "zh" ? GroundedChineseGroundingLearningRate : GroundedGroundingLearningRate, Baseline = false, RegionJudgeWeight = 1, LocationFrequencies = 8, AllRegionsMaskedRate = 0.5, GeometryBias = true,
        PretrainedLearningRateMultiplier = 1, FinetunePretrainedLearningRateMultiplier = 0.3, PretrainSteps = GroundedPretrainSteps,
        ChineseLayersFromMiniLm = settings.Language == "zh" && settings.Preset == "small",
        AlignedCharacters = settings.Language == "zh" && settings.Preset == "small",
    };

    /// <summary>A stable text of every setting, for deciding whether a stage's results can be reused.</summary>
    public string Fingerprint(string stage) => stage switch
    {
        "scenes" => $"scenes v2 one-way images={Images} test={TestImages} seed={Seed}" + (MirroredTwins ? " mirrored-twins" : ""),
        "features" => "features v2 classes",
        "init" => $"init v3 kl lang={Language} preset={Preset} seed={Seed}" + (GeometryBias ? " geometry-bias" : "") + (LocationFrequencies > 0 ? $" location-frequencies={LocationFrequencies}" : "") + (Language == "zh" && ChineseLayersFromMiniLm ? " text=minilm" : "") + (Language == "zh" && ChineseLayersFromMiniLm && AlignedCharacters ? " aligned" : ""),
        "pretrain" => $"pretrain v3 whole-image={WholeImageRegion} precision={Precision.Name()} steps={PretrainSteps} batch={PretrainBatch} lr={PretrainLearningRate} multiplier={PretrainedLearningRateMultiplier} weights={LossWeights} contrastive={ContrastiveWeight} own-negatives={OwnNegativeRate}{OwnKind} seed={Seed}" + (AllRegionsMaskedRate > 0 ? $" all-regions-masked={AllRegionsMaskedRate}" : "") + (ConditionalMasking ? " conditional-masking" : "") + (RelationCurriculumSteps > 0 ? $" relation-curriculum={RelationCurriculumSteps}" : "") +
            (GroundingCurriculumSteps > 0 ? $" grounding-curriculum={GroundingCurriculumSteps}" : "") + (RegionJudgeWeight > 0 ? $" region-judge={RegionJudgeWeight}" : ""),
        "evaluate" => $"evaluate v3 grounding-sizes shown={ShownQueries}" + (Precision == Precision.Fp32 ? "" : $" precision={Precision.Name()}"),
        "index" => "index v2 model-folder" + (Precision == Precision.Fp32 ? "" : $" precision={Precision.Name()}"),
        "calibrate" => $"calibrate v2 candidates=16 precision={Precision.Name()}",
        _ => $"{stage} v3 precision={Precision.Name()} steps={FinetuneSteps} batch={FinetuneBatch} lr={FinetuneLearningRate} contrastive={ContrastiveWeight} own-negatives={FinetuneOwnNegativeRate}{OwnKind} seed={Seed}" +
            (FinetunePretrainedLearningRateMultiplier != 1 ? $" multiplier={FinetunePretrainedLearningRateMultiplier}" : ""),
    };

    private string OwnKind => OwnNegativeKind is null ? "" : $" own-kind={OwnNegativeKind}";
}
