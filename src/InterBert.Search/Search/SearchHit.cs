namespace InterBert.Search;

/// <summary>
/// One search result: the image, its cross-modal score, its cosine similarity and rank in the first stage, and, when the
/// model has a relevance calibration, the probability that it is the photo the query describes.
/// </summary>
public sealed record SearchHit(string Id, double Score, double FirstStageSimilarity, int FirstStageRank, string? ImagePath, double? Relevance = null);
