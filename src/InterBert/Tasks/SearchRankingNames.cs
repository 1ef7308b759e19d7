namespace InterBert.Tasks;

/// <summary>The names a ranking has on the command line, in the service's answers and in <c>relevance.json</c>.</summary>
public static class SearchRankingNames
{
    /// <summary>Every ranking by its name.</summary>
    public static IReadOnlyDictionary<string, SearchRanking> All { get; } = new Dictionary<string, SearchRanking>(StringComparer.Ordinal)
    {
        ["score"] = SearchRanking.Score, ["score+similarity"] = SearchRanking.ScoreAndSimilarity, ["first-stage"] = SearchRanking.FirstStage,
    };

    /// <summary>The ranking's name: <c>score</c>, <c>score+similarity</c> or <c>first-stage</c>.</summary>
    public static string Name(this SearchRanking ranking) => All.First(p => p.Value == ranking).Key;

    /// <summary>The ranking of a name; a name that is none is a one-line error listing them.</summary>
    public static SearchRanking Parse(string name) =>
        All.TryGetValue(name, out var ranking) ? ranking : throw new ArgumentException($"ranking {name}: expected {string.Join(", ", All.Keys)}");
}
