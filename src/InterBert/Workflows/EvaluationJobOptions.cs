using InterBert.Modeling;

namespace InterBert.Workflows;

/// <summary>What <see cref="EvaluationJob"/> measures: the task, the data and split, the weights and how retrieval is scored.</summary>
public sealed record EvaluationJobOptions
{
    /// <summary>retrieval, multiple-choice or text-classification.</summary>
    public required string Task { get; init; }
    /// <summary>Dataset.</summary>
    public required string Dataset { get; init; }
    /// <summary>Weights to evaluate (a text classifier's folder for text classification).</summary>
    public required string Weights { get; init; }
    /// <summary>Split to evaluate (retrieval).</summary>
    public string Split { get; init; } = "test";
    /// <summary>Feature store of the dataset's images.</summary>
    public string? Features { get; init; }
    /// <summary>Retrieval: the store of layer3 maps a model with its own CNN stage computes its region features from (<c>features --layer3-maps</c>).</summary>
    public string? VisualMaps { get; init; }
    /// <summary>Score with the pretrained matching head instead of the fine-tuned score head.</summary>
    public bool ZeroShot { get; init; }
    /// <summary>Where to write the results as JSON.</summary>
    public string? MetricsOut { get; init; }
    /// <summary>Retrieval scoring every pair: where to write each pair's score as TSV (image id, caption, score).</summary>
    public string? ScoresOut { get; init; }
    /// <summary>Rank only the first N captions (and their images).</summary>
    public int? MaxCaptions { get; init; }
    /// <summary>Rank only the first N captions of each image (every image stays a candidate): a cheaper evaluation.</summary>
    public int? CaptionsPerImage { get; init; }
    /// <summary>Pairs scored per forward pass.</summary>
    public int PairsPerBatch { get; init; } = 64;
    /// <summary>Two-stage retrieval: images re-scored per caption; null scores every pair.</summary>
    public int? Candidates { get; init; }
    /// <summary>Two-stage: rank by score plus the scaled unimodal cosine.</summary>
    public bool AddSimilarity { get; init; }

    /// <summary>Two-stage retrieval: also rank the re-scored pairs by word-region matching (<see cref="Modeling.TokenRegionMatching"/>), alone and with the other scores.</summary>
    public bool WordRegion { get; init; }
    /// <summary>Retrieval: score pairs as if the weights' <see cref="Modeling.InterBertConfig.PairScore"/> were this (null: their own).</summary>
    public string? PairScore { get; init; }
    /// <summary>
    /// Two-stage retrieval: fit the model's relevance calibration on this split's candidates and write it beside the
    /// weights (<c>relevance.json</c>), for searches with a minimum relevance. Fit on a dev split, not the test split.
    /// </summary>
    public bool FitRelevance { get; init; }
    /// <summary>Arithmetic of the matrix products.</summary>
    public Precision Precision { get; init; } = Precision.Fp32;
    /// <summary>
    /// Grounding: how the captions name an object, from the English phrase of a store class ("purple circle"); null:
    /// the captions are English and name it so.
    /// </summary>
    public Func<string, string>? ObjectPhrase { get; init; }
}
