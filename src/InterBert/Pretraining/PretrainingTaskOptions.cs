namespace InterBert.Pretraining;

/// <summary>The three tasks' settings (paper's defaults), their loss weights, and the optional contrastive loss's weight.</summary>
public sealed record PretrainingTaskOptions
{
    /// <summary>How segments are masked.</summary>
    public SegmentMaskingMode SegmentMasking { get; init; } = SegmentMaskingMode.Paper;
    /// <summary>Use the reference code's region masking (10% anchors, IoU ≥ 0.4) instead of the paper's.</summary>
    public bool ReferenceRegionMasking { get; init; }
    /// <summary>
    /// What masked region modeling does with the whole-image region when a region inside it is masked: masked too by
    /// default (chosen by measurement on the demo: zero-shot text-to-image R@1 30 against 20 with it visible).
    /// </summary>
    public WholeImageRegionMasking WholeImageRegion { get; init; } = WholeImageRegionMasking.Masked;
    /// <summary>
    /// Whether masked region modeling also masks every region overlapping an anchor (the paper's grouping, so that an
    /// overlapping box cannot give the answer away); off, only the anchors are masked (an ablation).
    /// </summary>
    public bool RegionGrouping { get; init; } = true;
    /// <summary>
    /// Whether masked region modeling regresses the masked regions' features (MSE) even when the store has the
    /// detector's class distributions, instead of the paper's KL to them (an ablation; the model needs predict_feature).
    /// </summary>
    public bool RegressRegionFeatures { get; init; }
    /// <summary>
    /// Share of matched pairs whose every region is masked at once (the boxes stay), so that masked region modeling
    /// has to name each region from the caption and the boxes alone ("the circle to the left of the square": the left
    /// box is the circle): a grounding task. 0 (the paper's): only the anchors and their overlaps are masked.
    /// </summary>
    public double AllRegionsMaskedRate { get; init; }
    /// <summary>
    /// Whether a pair whose every region is masked (<see cref="AllRegionsMaskedRate"/>) keeps its caption whole, so
    /// that naming its regions can read every word (UNITER's conditional masking: one modality masked at a time); off,
    /// its caption is masked as any other.
    /// </summary>
    public bool ConditionalMasking { get; init; }
    /// <summary>
    /// Whether a wrong pair's regions are hidden the same way as a matched pair's (drawn alike, no masked-region target).
    /// Off (the paper's), only matched pairs have hidden regions, so image-text matching can answer "matched" from a
    /// zeroed region alone: on Flickr8k with the grid in every photo (13.7 regions a photo) the matching loss fell to
    /// 0.008 and held-out accuracy reached 100% in 400 steps, a shortcut rather than a match.
    /// </summary>
    public bool MaskMismatchedRegions { get; init; }
    /// <summary>Fraction of pairs given a wrong caption.</summary>
    public double NegativeRate { get; init; } = 0.5;
    /// <summary>Fraction of the wrong captions drawn from the TF-IDF hard-negative pool.</summary>
    public double HardNegativeRate { get; init; } = 0.2;
    /// <summary>Fraction of the wrong captions taken from the image's own known-false captions (a dataset's hard negatives), when it has any.</summary>
    public double OwnNegativeRate { get; init; }
    /// <summary>Which of the image's own known-false captions serve (a dataset's <c>changed</c> kind, e.g. <c>relation</c>); null: all.</summary>
    public string? OwnNegativeKind { get; init; }
    /// <summary>
    /// Whether a wrong caption that is not one of the image's own is drawn within the batch, in proportion to
    /// exp(scale x cosine) of the contrastive vectors (ALBEF's sampling), instead of at random or from the TF-IDF pool:
    /// matching then trains on the pairs the unimodal first stage confuses. Needs <see cref="ContrastiveWeight"/> above 0.
    /// </summary>
    public bool SimilarityNegatives { get; init; }
    /// <summary>Loss weight of masked segment modeling.</summary>
    public double SegmentWeight { get; init; } = 1;
    /// <summary>Loss weight of masked region modeling.</summary>
    public double RegionWeight { get; init; } = 1;
    /// <summary>Loss weight of image-text matching.</summary>
    public double MatchingWeight { get; init; } = 1;
    /// <summary>Loss weight of the image-text contrastive loss on the unimodal vectors (0: off, the paper's configuration).</summary>
    public double ContrastiveWeight { get; init; }
    /// <summary>
    /// Captions in the contrastive loss per micro-batch and rank: the examples, then distinct other training captions drawn at
    /// random, with their photos (0, or no more than the examples: the examples alone). Needs <see cref="ContrastiveWeight"/> above 0.
    /// </summary>
    public int ContrastiveBatchSize { get; init; }
    /// <summary>Most regions per image.</summary>
    public int MaxRegions { get; init; } = 36;
}
