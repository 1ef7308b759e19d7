namespace InterBert.Search;

/// <summary>One search result: the image, its cross-modal score, and its cosine similarity and rank in the first stage.</summary>
public sealed record SearchHit(string Id, double Score, double FirstStageSimilarity, int FirstStageRank, string? ImagePath);
