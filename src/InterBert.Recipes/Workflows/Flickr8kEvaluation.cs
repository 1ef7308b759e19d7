using System.Text.Json.Serialization;
using InterBert.Tasks;

namespace InterBert.Workflows;

/// <summary>One model's results on the Flickr8k test split: R@K both ways (two-stage), the protocol's sizes, the top-5 photos of a few captions.</summary>
public sealed record Flickr8kEvaluation(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("retrieval")] RetrievalMetrics Retrieval,
    [property: JsonPropertyName("candidates")] int Candidates,
    [property: JsonPropertyName("caption_candidates")] int CaptionCandidates,
    [property: JsonPropertyName("pairs_scored")] long PairsScored,
    [property: JsonPropertyName("top5")] IReadOnlyList<RankedQuery> Top,
    [property: JsonPropertyName("seconds")] double Seconds)
{
    /// <summary>How re-scored pairs were ranked (a <see cref="SearchRankingNames"/> name): the search model's calibrated best, else <c>score</c> or <c>score+similarity</c>.</summary>
    [JsonPropertyName("rerank")] public string Rerank { get; init; } = "score";
    /// <summary>The multiplier of the scaled cosine in score + similarity (the search model's calibration's, fitted on dev; 1 otherwise).</summary>
    [JsonPropertyName("similarity_weight")] public float SimilarityWeight { get; init; } = 1;
    /// <summary>The same pass ranked by the unimodal cosine alone (the first stage).</summary>
    [JsonPropertyName("unimodal")] public RetrievalMetrics? Unimodal { get; init; }
    /// <summary>The same pass re-ranked by the cross-modal score alone.</summary>
    [JsonPropertyName("score_only")] public RetrievalMetrics? ScoreOnly { get; init; }
    /// <summary>The same pass re-ranked by the score plus the scaled cosine.</summary>
    [JsonPropertyName("score_plus_similarity")] public RetrievalMetrics? ScorePlusSimilarity { get; init; }
    /// <summary>The same pass re-ranked by word-region matching alone.</summary>
    [JsonPropertyName("word_region_only")] public RetrievalMetrics? WordRegionOnly { get; init; }
    /// <summary>The same pass re-ranked by word-region matching plus the cosine, both on the logit scale.</summary>
    [JsonPropertyName("word_region_plus_similarity")] public RetrievalMetrics? WordRegionPlusSimilarity { get; init; }
    /// <summary>The same pass re-ranked by the score plus word-region matching and the cosine on the logit scale.</summary>
    [JsonPropertyName("score_plus_word_region_plus_similarity")] public RetrievalMetrics? ScorePlusWordRegionPlusSimilarity { get; init; }
}
