using System.Threading.RateLimiting;

namespace InterBert.Server;

/// <summary>
/// Who may search now: each client (by remote address, or by a header a trusted proxy sets) has its own share
/// (searches running and waiting), inside the service's overall limit, so that one client flooding the service
/// holds at most its share while others are served. Waiting ends at the request's deadline or when the client leaves.
/// </summary>
public sealed class SearchAdmission : IDisposable
{
    private readonly PartitionedRateLimiter<string> perClient;
    private readonly PartitionedRateLimiter<string> overall;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> load = new(StringComparer.Ordinal);

    /// <summary>Limits: running and waiting searches per client and in all.</summary>
    public SearchAdmission(int runningPerClient, int queuedPerClient, int running, int queued)
    {
        perClient = PartitionedRateLimiter.Create<string, string>(client => RateLimitPartition.GetConcurrencyLimiter(client, _ => new ConcurrencyLimiterOptions
        {
            PermitLimit = Math.Max(1, runningPerClient), QueueLimit = Math.Max(0, queuedPerClient), QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        }));
        overall = PartitionedRateLimiter.Create<string, string>(_ => RateLimitPartition.GetConcurrencyLimiter("all", _ => new ConcurrencyLimiterOptions
        {
            PermitLimit = Math.Max(1, running), QueueLimit = Math.Max(0, queued), QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        }));
    }

    /// <summary>
    /// Waits for a turn of <paramref name="client"/>: its own share first, then the service's. Returns null when either
    /// queue is full (answer 429 at once); throws <see cref="OperationCanceledException"/> when <paramref name="cancel"/>
    /// ends the wait. Dispose the turn when the search's work is done.
    /// </summary>
    public async Task<IDisposable?> EnterAsync(string client, CancellationToken cancel)
    {
        load.AddOrUpdate(client, 1, (_, n) => n + 1);
        RateLimitLease? own = null;
        try
        {
            own = await perClient.AcquireAsync(client, 1, cancel);
            if (own.IsAcquired)
            {
                var shared = await overall.AcquireAsync(client, 1, cancel);
                if (shared.IsAcquired) return new Turn(own, shared, () => Leave(client));
                shared.Dispose();
            }
        }
        catch
        {
            own?.Dispose();
            Leave(client);
            throw;
        }
        own.Dispose();
        Leave(client);
        return null;
    }

    /// <summary>
    /// The searches <paramref name="client"/> has in the service now, running and waiting: the priority of its model
    /// calls (lower first), so that a client with one search is served before one that keeps many in flight.
    /// </summary>
    public int Load(string client) => load.GetValueOrDefault(client);

    private void Leave(string client)
    {
        // A client's count goes when it reaches 0, unless another of its requests came in meanwhile.
        if (load.AddOrUpdate(client, 0, (_, n) => n - 1) <= 0) load.TryRemove(new KeyValuePair<string, int>(client, 0));
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        perClient.Dispose();
        overall.Dispose();
    }

    private sealed class Turn(RateLimitLease own, RateLimitLease shared, Action leave) : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) != 0) return;
            shared.Dispose();
            own.Dispose();
            leave();
        }
    }
}
