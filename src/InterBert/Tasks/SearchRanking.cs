namespace InterBert.Tasks;

/// <summary>How a search orders the candidates its first stage found (names: <see cref="SearchRankingNames"/>).</summary>
public enum SearchRanking
{
    /// <summary>By the cross-modal model's score of each query-image pair (ALBEF's re-ranking).</summary>
    Score,
    /// <summary>By that score plus the first-stage cosine on the contrastive logit scale (BLIP-2's re-ranking).</summary>
    ScoreAndSimilarity,
    /// <summary>By the first-stage cosine alone: no cross-modal scoring at all (a dual encoder; the fastest).</summary>
    FirstStage,
    /// <summary>
    /// By word-region matching plus the first-stage cosine, both on the contrastive logit scale (<see cref="Modeling.TokenRegionMatching"/>):
    /// an image-only pass per candidate instead of a joint pass per pair.
    /// </summary>
    WordRegionAndSimilarity,
    /// <summary>By the cross-modal score plus word-region matching and the cosine on the contrastive logit scale.</summary>
    ScoreWordRegionAndSimilarity,
}
