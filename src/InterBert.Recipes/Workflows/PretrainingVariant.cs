using InterBert.Modeling;
using InterBert.Pretraining;

namespace InterBert.Workflows;

/// <summary>
/// One row of the ablation benchmark: a change to the Flickr8k recipe's pretraining tasks or to the model's layers,
/// expressed as a configuration of the one model and the one trainer, with the paper's stated direction beside it.
/// </summary>
public sealed record PretrainingVariant
{
    /// <summary>Short name (the row's folder and its <c>--rows</c> name).</summary>
    public required string Name { get; init; }
    /// <summary>What the row changes, for the report.</summary>
    public required string Title { get; init; }
    /// <summary>What the paper says about it (or implies), for the report; empty for the full model.</summary>
    public string PaperDirection { get; init; } = "";
    /// <summary>Whether the row pretrains at all (<c>false</c>: fine-tuning from the initial weights).</summary>
    public bool Pretrains { get; init; } = true;
    /// <summary>How masked segment modeling masks (BERT's 15% tokens for the MLM row).</summary>
    public SegmentMaskingMode SegmentMasking { get; init; } = SegmentMaskingMode.Paper;
    /// <summary>Whether masked region modeling is on.</summary>
    public bool RegionModeling { get; init; } = true;
    /// <summary>Whether regions overlapping an anchor are masked with it.</summary>
    public bool RegionGrouping { get; init; } = true;
    /// <summary>Whether masked region modeling regresses features (MSE) instead of KL to the detector's classes.</summary>
    public bool RegressRegionFeatures { get; init; }
    /// <summary>Whether image-text matching (with its negatives, hard ones included) is on.</summary>
    public bool Matching { get; init; } = true;
    /// <summary>
    /// The layer counts (single-stream, text stream, image stream) replacing the preset's, or null to keep them.
    /// The text path's total depth stays the preset's, so MiniLM's layers fill it either way.
    /// </summary>
    public (int SingleStream, int TextStream, int ImageStream)? Layers { get; init; }

    /// <summary>The full model and tasks: the Flickr8k recipe's pretraining.</summary>
    public static PretrainingVariant Full { get; } = new() { Name = "full", Title = "full model and tasks (MSM + MRM + ITM, as the recipe)" };

    /// <summary>Every row, in the report's order.</summary>
    public static IReadOnlyList<PretrainingVariant> All { get; } =
    [
        Full,
        new() { Name = "mlm", Title = "MLM (BERT's 15% token masking) instead of MSM", PaperDirection = "MSM better than MLM", SegmentMasking = SegmentMaskingMode.BertTokens },
        new() { Name = "no-mrm", Title = "without MRM", PaperDirection = "MRM helps", RegionModeling = false },
        new() { Name = "mrm-no-grouping", Title = "MRM without IoU grouping (only the anchors masked)", PaperDirection = "grouping overlapping regions helps", RegionGrouping = false },
        new() { Name = "mrm-regression", Title = "MRM as feature regression (MSE) instead of KL to the classes", PaperDirection = "KL to the class distribution is the better target", RegressRegionFeatures = true },
        new() { Name = "no-itm", Title = "without ITM (and its hard negatives)", PaperDirection = "ITM helps retrieval", Matching = false },
        new() { Name = "single-stream", Title = "single-stream interaction only (no extraction layers; the same depth in the single stream)", PaperDirection = "the two-stream extraction on top helps", Layers = (-1, 0, 0) },
        new() { Name = "two-stream", Title = "two-stream only (no interaction layers: a dual encoder meeting at the poolers)", PaperDirection = "the single-stream interaction helps", Layers = (0, -1, -1) },
        new() { Name = "no-pretraining", Title = "no multimodal pretraining (fine-tuning from the initial weights)", PaperDirection = "multimodal pretraining helps retrieval", Pretrains = false },
    ];

    /// <summary>The row of a name; throws naming the known rows otherwise.</summary>
    public static PretrainingVariant Named(string name) =>
        All.FirstOrDefault(v => v.Name == name) ?? throw new InterBertException($"--rows: unknown row '{name}'; expected some of {string.Join(", ", All.Select(v => v.Name))}");

    /// <summary>
    /// The model's shape for this row: the preset's layer counts replaced (−1 gives a stack the preset's whole depth of
    /// that modality: the text path's layers for the single stream or the text stream, the image path's for the image
    /// stream), and a regression head for MRM as feature regression.
    /// </summary>
    public InterBertConfig Shape(InterBertConfig preset)
    {
        var shaped = preset with { PredictFeature = preset.PredictFeature || RegressRegionFeatures };
        if (Layers is not { } layers) return shaped;
        var textDepth = preset.TextPathLayers;
        var imageDepth = preset.NumHiddenLayers + preset.VNumHiddenLayers;
        return shaped with
        {
            NumHiddenLayers = layers.SingleStream < 0 ? textDepth : layers.SingleStream,
            TNumHiddenLayers = layers.TextStream < 0 ? textDepth : layers.TextStream,
            VNumHiddenLayers = layers.ImageStream < 0 ? imageDepth : layers.ImageStream,
        };
    }

    /// <summary>The pretraining tasks for this row, from the recipe's.</summary>
    public PretrainingTaskOptions Tasks(PretrainingTaskOptions recipe) => recipe with
    {
        SegmentMasking = SegmentMasking,
        RegionWeight = RegionModeling ? recipe.RegionWeight : 0,
        RegionGrouping = RegionGrouping,
        RegressRegionFeatures = RegressRegionFeatures,
        MatchingWeight = Matching ? recipe.MatchingWeight : 0,
        // Without ITM there is nothing to learn from a wrong caption: every pair is a true one, as MSM and MRM need.
        NegativeRate = Matching ? recipe.NegativeRate : 0,
        HardNegativeRate = Matching ? recipe.HardNegativeRate : 0,
    };

    /// <summary>Whether this row changes the initial weights' shape (and so needs its own initial weights).</summary>
    public bool ChangesShape => Layers is not null || RegressRegionFeatures;

    /// <summary>A stable text of what the row changes, for stage fingerprints.</summary>
    public string Fingerprint => $"variant={Name} pretrains={Pretrains} segment={SegmentMasking} mrm={RegionModeling} grouping={RegionGrouping} regress={RegressRegionFeatures} itm={Matching} layers={Layers}";
}
