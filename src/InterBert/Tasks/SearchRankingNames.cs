namespace InterBert.Tasks;

/// <summary>The names a ranking has on the command line, in the service's answers and in <c>relevance.json</c>.</summary>
public static class SearchRankingNames
{
    /// <summary>Every ranking by its name.</summary>
    public static IReadOnlyDictionary<string, SearchRanking> All { get; } = new Dictionary<string, SearchRanking>(StringComparer.Ordinal)
    {
        ["score"] = SearchRanking.Score, ["score+similarity"] = SearchRanking.ScoreAndSimilarity, ["first-stage"] = SearchRanking.FirstStage,
        ["word-region+similarity"] = SearchRanking.WordRegionAndSimilarity, ["score+word-region+similarity"] = SearchRanking.ScoreWordRegionAndSimilarity,
    };

    /// <summary>Whether a ranking needs the joint pass's cross-modal score of each candidate.</summary>
    public static bool NeedsScore(this SearchRanking ranking) => ranking is SearchRanking.Score or SearchRanking.ScoreAndSimilarity or SearchRanking.ScoreWordRegionAndSimilarity;

    /// <summary>Whether a ranking needs word-region matching of each candidate.</summary>
    public static bool NeedsWordRegion(this SearchRanking ranking) => ranking is SearchRanking.WordRegionAndSimilarity or SearchRanking.ScoreWordRegionAndSimilarity;

    /// <summary>The ranking's name: <c>score</c>, <c>score+similarity</c>, <c>first-stage</c>, <c>word-region+similarity</c> or <c>score+word-region+similarity</c>.</summary>
    public static string Name(this SearchRanking ranking) => All.First(p => p.Value == ranking).Key;

    /// <summary>The ranking of a name; a name that is none is a one-line error listing them.</summary>
    public static SearchRanking Parse(string name) =>
        All.TryGetValue(name, out var ranking) ? ranking : throw new ArgumentException($"ranking {name}: expected {string.Join(", ", All.Keys)}");
}
