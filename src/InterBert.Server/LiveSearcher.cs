using InterBert.Search;
using Microsoft.Extensions.Logging;

namespace InterBert.Server;

/// <summary>
/// The searcher a service answers with: the one it started with until its folder index is replaced on disk (an
/// <c>index --update</c> or a rebuild), then the new index, opened with the same model, without a restart. Looked at
/// most every two seconds; a replacement that cannot be opened (caught mid-swap) leaves the current one in use. A
/// replaced searcher is closed a minute later, once the searches that began with it are long over.
/// </summary>
internal sealed class LiveSearcher(TwoStageSearcher first, ILogger log, Action<TwoStageSearcher> prepare) : IDisposable
{
    private static readonly TimeSpan CheckEvery = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan CloseAfter = TimeSpan.FromMinutes(1);
    private readonly object gate = new();
    private readonly List<(TwoStageSearcher Searcher, DateTime CloseAt)> retired = [];
    private TwoStageSearcher current = Prepared(first, prepare);
    private long nextCheckTicks = (DateTime.UtcNow + CheckEvery).Ticks;

    private static TwoStageSearcher Prepared(TwoStageSearcher searcher, Action<TwoStageSearcher> prepare)
    {
        prepare(searcher);
        return searcher;
    }

    /// <summary>The searcher of the index as it is now.</summary>
    public TwoStageSearcher Current
    {
        get
        {
            if (DateTime.UtcNow.Ticks < Interlocked.Read(ref nextCheckTicks)) return Volatile.Read(ref current);
            lock (gate)
            {
                if (DateTime.UtcNow.Ticks < Interlocked.Read(ref nextCheckTicks)) return current;
                Interlocked.Exchange(ref nextCheckTicks, (DateTime.UtcNow + CheckEvery).Ticks);
                CloseRetired();
                if (!current.Index.ReplacedOnDisk) return current;
                try
                {
                    var reopened = current.Reopen();
                    prepare(reopened);
                    // The first searcher owns the model and its thread: it stays open until the service stops.
                    if (!ReferenceEquals(current, first)) retired.Add((current, DateTime.UtcNow + CloseAfter));
                    Volatile.Write(ref current, reopened);
                    log.LogWarning("the index {Index} was replaced on disk; now serving it ({Count} images)", reopened.Index.Location, reopened.Index.Count);
                }
                catch (Exception e) when (e is InterBertException or IOException)
                {
                    log.LogWarning("the index {Index} changed on disk but could not be opened yet ({Message}); still serving the earlier one", current.Index.Location, e.Message);
                }
                return current;
            }
        }
    }

    private void CloseRetired()
    {
        foreach (var old in retired.Where(r => r.CloseAt <= DateTime.UtcNow).ToList())
        {
            old.Searcher.Dispose();
            retired.Remove(old);
        }
    }

    /// <summary>Closes the searchers opened since the start (the first is its owner's to dispose).</summary>
    public void Dispose()
    {
        lock (gate)
        {
            foreach (var (searcher, _) in retired) searcher.Dispose();
            retired.Clear();
            if (!ReferenceEquals(current, first)) current.Dispose();
        }
    }
}
