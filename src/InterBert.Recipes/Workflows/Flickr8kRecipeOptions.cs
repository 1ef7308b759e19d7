using InterBert.Modeling;

namespace InterBert.Workflows;

/// <summary>
/// The settings of the Flickr8k recipe (<see cref="Flickr8kRecipe"/>): where the data is, the caption language, and
/// the sizes of every stage. <see cref="For"/> gives the measured full and quick recipes; any field can be changed.
/// </summary>
public sealed record Flickr8kRecipeOptions : IRecipeTraining
{
    /// <summary>Full recipe: pretraining and fine-tuning steps (sized to run within 3 hours on 2 cores in bf16).</summary>
    public const int FullPretrainSteps = 3600, FullFinetuneSteps = 1000;

    /// <summary>Quick recipe (<c>--quick</c>): the same stages and test protocol with fewer steps (within 40 minutes).</summary>
    public const int QuickPretrainSteps = 400, QuickFinetuneSteps = 400;

    /// <summary>
    /// The photos' side for ResNet-18 that <c>benchmark flickr8k</c> gives the full recipe (a 14 x 14 map, chosen on the
    /// dev split); the quick recipe keeps 224, whose extraction is 2.5 times faster.
    /// </summary>
    public const int FullInputSize = 448;

    /// <summary>Captions in fine-tuning's contrastive loss per step by default (the examples and random others), chosen on the dev split.</summary>
    public const int DefaultContrastiveBatch = 128;

    /// <summary>The Flickr8k folder: <c>Flickr8k.token.txt</c>, the split files, <c>Flicker8k_Dataset/</c> (and <c>flickr8kzhc.caption.txt</c> for Chinese).</summary>
    public required string DataFolder { get; init; }
    /// <summary>Caption language: <c>en</c> (Flickr8k's captions, MiniLM weights), <c>zh</c> (Flickr8K-CN's captions) or <c>en+zh</c> (one model trained on both, MiniLM's vocabulary extended by the Chinese characters).</summary>
    public string Language { get; init; } = "en";
    /// <summary>Working folder: <c>features/</c> (shared by both languages) and one folder per language.</summary>
    public required string OutputFolder { get; init; }
    /// <summary>Whether this is the quick variant (reported, and part of the stages' fingerprints through the step counts).</summary>
    public bool Quick { get; init; }
    /// <summary>YOLOX ONNX detector for the region boxes (and the class distributions that masked region modeling predicts).</summary>
    public string? DetectorPath { get; init; }
    /// <summary>Most regions per photo, the whole photo included.</summary>
    public int MaxRegions { get; init; } = 36;
    /// <summary>
    /// Whether every photo gets the 3x3 grid's cells after its detector boxes (<c>features --grid-always</c>), in a
    /// store of its own (<c>features-grid/</c>) beside the detector-only one.
    /// </summary>
    public bool GridAlways { get; init; }
    /// <summary>
    /// Side in pixels each photo is resized to for ResNet-18 (<c>features --input-size</c>); other than 224, the store
    /// is a folder of its own (<c>features-448/</c>, <c>features-grid-448/</c>).
    /// </summary>
    public int InputSize { get; init; } = Data.RegionSource.DefaultInputSize;
    /// <summary>Arithmetic of training, evaluation and indexing (default: bf16 where the CPU multiplies it natively, fp32 otherwise).</summary>
    public Precision Precision { get; init; } = Bf16Support.Auto;
    /// <summary>CPU threads for ONNX Runtime (feature extraction).</summary>
    public int Threads { get; init; }
    /// <summary>Seed of initialisation and training.</summary>
    public int Seed { get; init; } = 1;
    /// <summary>Model preset (<c>small</c>: MiniLM's shape).</summary>
    public string Preset { get; init; } = "small";
    /// <summary>Longest caption in tokens, [CLS] and [SEP] included.</summary>
    public int MaxTokens { get; init; } = 48;
    /// <summary>Entries of the vocabulary learned from the Chinese training captions (characters and frequent pairs).</summary>
    public int ChineseVocabularySize { get; init; } = 4000;
    /// <summary>
    /// Chinese: start the transformer layers from MiniLM's, with the learned vocabulary transplanted (characters that
    /// MiniLM's vocabulary has keep their rows, the rest start random), rather than the whole text path from random weights.
    /// </summary>
    public bool ChineseLayersFromMiniLm { get; init; } = true;
    /// <summary>Pretraining steps.</summary>
    public int PretrainSteps { get; init; } = FullPretrainSteps;
    /// <summary>Image-caption pairs per pretraining step.</summary>
    public int PretrainBatch { get; init; } = 32;
    /// <summary>Peak pretraining learning rate.</summary>
    public double PretrainLearningRate { get; init; } = 2e-4;
    /// <summary>Multiplier of the learning rate of weights that came pretrained (MiniLM's).</summary>
    public double PretrainedLearningRateMultiplier { get; init; } = 0.3;
    /// <summary>Fine-tuning's multiplier for the weights that came pretrained (MiniLM's and pretraining's); null: <see cref="PretrainedLearningRateMultiplier"/>, as pretraining.</summary>
    public double? FinetunePretrainedLearningRateMultiplier { get; init; }
    /// <summary>The multiplier fine-tuning uses for the weights that came pretrained.</summary>
    public double FinetuneMultiplier => FinetunePretrainedLearningRateMultiplier ?? PretrainedLearningRateMultiplier;
    /// <summary>MSM:MRM:ITM loss weights (MRM: KL divergence to the detector's class distributions).</summary>
    public (double Segment, double Region, double Matching) LossWeights { get; init; } = (1, 1, 1);
    /// <summary>Weight of the image-text contrastive loss in pretraining and fine-tuning (the first stage of search and evaluation).</summary>
    public double ContrastiveWeight { get; init; } = 1;
    /// <summary>What masked region modeling does with the whole-image region when a region inside it is masked.</summary>
    public Pretraining.WholeImageRegionMasking WholeImageRegion { get; init; } = new Pretraining.PretrainingTaskOptions().WholeImageRegion;
    /// <summary>Retrieval fine-tuning steps.</summary>
    public int FinetuneSteps { get; init; } = FullFinetuneSteps;
    /// <summary>Examples per fine-tuning step (4 scored pairs each, and the contrastive loss over the batch).</summary>
    public int FinetuneBatch { get; init; } = 32;
    /// <summary>Peak fine-tuning learning rate.</summary>
    public double FinetuneLearningRate { get; init; } = 2e-4;
    /// <summary>Draw fine-tuning's wrong images and captions within the batch in proportion to the contrastive similarity (ALBEF's sampling) rather than at random.</summary>
    public bool SimilarityNegatives { get; init; } = true;
    /// <summary>Captions in fine-tuning's contrastive loss per step, the examples plus random others (0: the examples alone).</summary>
    public int ContrastiveBatch { get; init; } = DefaultContrastiveBatch;
    /// <summary>Captions in pretraining's contrastive loss per step, the examples plus random others (0: the examples alone, the paper's batch).</summary>
    public int PretrainContrastiveBatch { get; init; }
    /// <summary>The recipe's weight of fine-tuning's word-region matching loss (<c>finetune --word-region-weight</c>).</summary>
    public const double DefaultWordRegionWeight = 0;
    /// <summary>Weight of fine-tuning's word-region matching loss over the contrastive batch (0: off).</summary>
    public double WordRegionWeight { get; init; } = DefaultWordRegionWeight;
    /// <summary>The recipe's <c>finetune --pair-score</c>: how the fine-tuned joint pass scores a pair.</summary>
    public const string DefaultPairScore = "head";
    /// <summary>How fine-tuning's joint pass scores a pair: <c>head</c> (the paper's) or <c>joint-cosine</c> (<see cref="Modeling.InterBertConfig.PairScore"/>).</summary>
    public string PairScore { get; init; } = DefaultPairScore;
    /// <summary>Draw pretraining's wrong captions within the batch in proportion to the contrastive similarity (ALBEF's sampling) rather than at random or from the TF-IDF pool.</summary>
    public bool PretrainSimilarityNegatives { get; init; }
    /// <summary>Whether pretraining hides the regions of wrong pairs as of matched ones (<c>pretrain --mask-mismatched-regions</c>).</summary>
    public bool MaskMismatchedRegions { get; init; }
    /// <summary>Whether the new model gets the attention bias from region pair geometry (<see cref="Modeling.InterBertConfig.GeometryAttentionBias"/>).</summary>
    public bool GeometryBias { get; init; }
    /// <summary>Whether the new model's joint pass has its own copy of the single-stream layers (<see cref="Modeling.InterBertConfig.UntiedInteraction"/>), from pretraining on.</summary>
    public bool UntieInteraction { get; init; }

    /// <summary>Sine frequencies of the new model's box encoding (<see cref="Modeling.InterBertConfig.VLocationFrequencies"/>); 0, the paper's five numbers, by default.</summary>
    public int LocationFrequencies { get; init; }
    /// <summary>
    /// Also fine-tune and evaluate from the initial weights, without multimodal pretraining (the comparison that says
    /// what pretraining adds; the ablations' no-pretraining row measures the same). Off by default: it doubles the fine-tuning time.
    /// </summary>
    public bool Baseline { get; init; }
    /// <summary>Captions of each dev photo that the calibrate stage ranks (null: all five); every dev photo stays a candidate.</summary>
    public int? CalibrationCaptionsPerImage { get; init; }
    /// <summary>Images re-scored by the cross-modal model per test caption (two-stage evaluation).</summary>
    public int Candidates { get; init; } = 16;
    /// <summary>Rank re-scored pairs by the cross-modal score plus the scaled unimodal cosine (BLIP-2's re-ranking) rather than the score alone.</summary>
    public bool AddSimilarity { get; init; } = true;
    /// <summary>
    /// An ablation row (<see cref="PretrainingVariant"/>): the run goes to <c>LANG/ablations/NAME-seedN/</c> and stops
    /// after evaluating its fine-tuned model (no index, calibration, baseline or report). Null: the recipe itself.
    /// </summary>
    public PretrainingVariant? Variant { get; init; }
    /// <summary>Test captions shown with their top-5 photos in the report.</summary>
    public int ShownQueries { get; init; } = 4;

    /// <summary>
    /// The full or quick recipe of a language. The bilingual recipe (<c>en+zh</c>) takes twice the steps, so that each
    /// language's captions are seen as often as in its own single-language run.
    /// </summary>
    public static Flickr8kRecipeOptions For(string dataFolder, string outputFolder, string language, bool quick)
    {
        if (language is not ("en" or "zh" or "en+zh")) throw new InterBertException($"--lang {language}: expected en, zh or en+zh");
        var languages = language.Split('+').Length;
        var (pretrain, finetune) = quick ? (QuickPretrainSteps, QuickFinetuneSteps) : (FullPretrainSteps, FullFinetuneSteps);
        return new Flickr8kRecipeOptions
        {
            DataFolder = dataFolder, OutputFolder = outputFolder, Language = language, Quick = quick,
            PretrainSteps = pretrain * languages, FinetuneSteps = finetune * languages,
            // The quick recipe calibrates on one caption per dev photo: a fifth of the pairs, the same 1,000 photos to rank.
            CalibrationCaptionsPerImage = quick ? 1 : null,
        };
    }

    /// <summary>A stable text of the settings a stage depends on, for deciding whether its results can be reused.</summary>
    public string Fingerprint(string stage) => FormattableString.Invariant(stage switch
    {
        "features" => (FormattableString)$"features v1 max-regions={MaxRegions}{(GridAlways ? " grid-always" : "")}{(InputSize != Data.RegionSource.DefaultInputSize ? $" input-size={InputSize}" : "")}",
        "init" => (FormattableString)$"init v2 lang={Language} preset={Preset} tokens={MaxTokens} vocabulary={(Language == "en" ? 0 : ChineseVocabularySize)} layers={(Language == "en" || ChineseLayersFromMiniLm ? "minilm" : "random")} seed={Seed}{(Variant is { ChangesShape: true } v ? " shape=" + v.Fingerprint : "")}{(GeometryBias ? " geometry-bias" : "")}{(UntieInteraction ? " untied-interaction" : "")}{(LocationFrequencies > 0 ? $" location-frequencies={LocationFrequencies}" : "")}",
        "pretrain" => (FormattableString)$"pretrain v1 precision={Precision.Name()} steps={PretrainSteps} batch={PretrainBatch} lr={PretrainLearningRate} multiplier={PretrainedLearningRateMultiplier} weights={LossWeights} contrastive={ContrastiveWeight} seed={Seed}{(WholeImageRegion == Pretraining.WholeImageRegionMasking.Visible ? "" : $" whole-image={WholeImageRegion}")}{(Variant is { } variant && variant != PretrainingVariant.Full ? " " + variant.Fingerprint : "")}{(PretrainSimilarityNegatives ? " negatives=similarity" : "")}{(MaskMismatchedRegions ? " mask-mismatched-regions" : "")}{(PretrainContrastiveBatch > PretrainBatch ? $" contrastive-batch={PretrainContrastiveBatch}" : "")}",
        "finetune" => (FormattableString)$"finetune v2 precision={Precision.Name()} steps={FinetuneSteps} batch={FinetuneBatch} lr={FinetuneLearningRate} multiplier={FinetuneMultiplier} contrastive={ContrastiveWeight} seed={Seed}{(SimilarityNegatives ? " negatives=similarity" : "")}{(ContrastiveBatch > FinetuneBatch ? $" contrastive-batch={ContrastiveBatch}" : "")}{(WordRegionWeight > 0 ? $" word-region={WordRegionWeight}" : "")}{(PairScore != "head" ? $" pair-score={PairScore}" : "")}",
        "evaluate" => (FormattableString)$"evaluate v3 word-region precision={Precision.Name()} candidates={Candidates} add-similarity={AddSimilarity} shown={ShownQueries}",
        "index" => (FormattableString)$"index v2 model-folder precision={Precision.Name()}",
        "calibrate" => (FormattableString)$"calibrate v5 word-region similarity-weight dev precision={Precision.Name()} candidates={Candidates} add-similarity={AddSimilarity}{(CalibrationCaptionsPerImage is { } perImage ? $" captions-per-image={perImage}" : "")}",
        _ => throw new ArgumentException($"unknown stage {stage}"),
    });
}
