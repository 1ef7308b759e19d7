using InterBert.Search;

namespace InterBert.Server;

/// <summary>Where the search service listens and its limits.</summary>
public sealed record SearchServiceOptions
{
    /// <summary>Address to bind (loopback by default: put a reverse proxy in front to expose it).</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>Port (0: any free port, printed at start).</summary>
    public int Port { get; init; } = 8080;
    /// <summary>Searches running at once.</summary>
    public int MaxConcurrentSearches { get; init; } = 2;
    /// <summary>Searches waiting for a turn; beyond this, requests get 429 at once.</summary>
    public int MaxQueuedSearches { get; init; } = 8;
    /// <summary>Longest query accepted, in characters.</summary>
    public int MaxQueryLength { get; init; } = 500;
    /// <summary>Most results a request may ask for.</summary>
    public int MaxResults { get; init; } = 100;
    /// <summary>First-stage candidates re-ranked per search.</summary>
    public int Candidates { get; init; } = TwoStageSearcher.DefaultCandidates;
    /// <summary>How the first stage searches.</summary>
    public SearchMode Mode { get; init; } = SearchMode.Auto;
    /// <summary>Re-rank by the cross-modal score plus the scaled first-stage cosine (BLIP-2's re-ranking).</summary>
    public bool AddSimilarity { get; init; }
}
