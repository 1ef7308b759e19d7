using InterBert.Search;

namespace InterBert.Server;

/// <summary>Where the search service listens, its limits, and who may use it.</summary>
public sealed record SearchServiceOptions
{
    /// <summary>Address to bind (loopback by default: put a reverse proxy in front to expose it).</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>Port (0: any free port, printed at start).</summary>
    public int Port { get; init; } = 8080;
    /// <summary>Searches running at once, over all clients.</summary>
    public int MaxConcurrentSearches { get; init; } = 2;
    /// <summary>Searches waiting for a turn, over all clients; beyond this, requests get 429 at once.</summary>
    public int MaxQueuedSearches { get; init; } = 8;
    /// <summary>Searches one client may have running at once.</summary>
    public int MaxConcurrentPerClient { get; init; } = 1;
    /// <summary>Searches one client may have waiting; beyond this, that client's requests get 429 at once.</summary>
    public int MaxQueuedPerClient { get; init; } = 4;
    /// <summary>
    /// A header whose value names the client instead of its remote address: only behind a reverse proxy that sets it
    /// (clients could otherwise claim any name).
    /// </summary>
    public string? ClientHeader { get; init; }
    /// <summary>The longest a search may take, waiting included; past it the request is answered 503 with Retry-After.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(15);
    /// <summary>Longest query accepted, in characters.</summary>
    public int MaxQueryLength { get; init; } = 500;
    /// <summary>Largest photo accepted by <c>POST /api/search/image</c>, in bytes.</summary>
    public long MaxUploadBytes { get; init; } = 20L * 1024 * 1024;
    /// <summary>Most results a request may ask for.</summary>
    public int MaxResults { get; init; } = 100;
    /// <summary>First-stage candidates re-ranked per search.</summary>
    public int Candidates { get; init; } = TwoStageSearcher.DefaultCandidates;
    /// <summary>How the first stage searches.</summary>
    public SearchMode Mode { get; init; } = SearchMode.Auto;
    /// <summary>How candidates are ranked; null: the model's measured best (<see cref="TwoStageSearcher.DefaultRanking"/>).</summary>
    public Tasks.SearchRanking? Ranking { get; init; }
    /// <summary>
    /// Host names requests may address (the Host header), against DNS rebinding; empty: the loopback names and the bound
    /// address. "*" allows any.
    /// </summary>
    public IReadOnlyList<string> AllowedHosts { get; init; } = [];
    /// <summary>When set, /api and /images answer only requests that carry this key (X-API-Key or Authorization: Bearer).</summary>
    public string? ApiKey { get; init; }
    /// <summary>Folders image files may be served from; empty: those the index records.</summary>
    public IReadOnlyList<string> ImageRoots { get; init; } = [];
}
