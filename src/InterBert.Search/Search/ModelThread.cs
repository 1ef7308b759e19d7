namespace InterBert.Search;

/// <summary>
/// One dedicated thread that runs every model call of a searcher. Calls from many request threads would each start
/// libtorch's intra-op thread team and allocator arenas of their own, so resident memory would grow with every new
/// thread-pool thread; one thread keeps them to one set. Calls run by priority (lower first), in order of arrival
/// among equals: a service gives a client with less work in the system the lower number, so a client that floods it
/// waits behind the others, not they behind it.
/// </summary>
public sealed class ModelThread : IDisposable
{
    private readonly PriorityQueue<Action, (int Priority, long Order)> work = new();
    private readonly object gate = new();
    private readonly Thread thread;
    private long arrivals;
    private bool completed;
    private int skipped;

    /// <summary>Starts the thread; <paramref name="threadScope"/>, when given, is entered on it first and ended when it stops (an autocast region whose bf16 weights then live as long as the thread).</summary>
    public ModelThread(string name, Func<IDisposable?>? threadScope = null)
    {
        thread = new Thread(() =>
        {
            using var scope = threadScope?.Invoke();
            while (Next() is { } item) item();
        }) { IsBackground = true, Name = name };
        thread.Start();
    }

    private Action? Next()
    {
        lock (gate)
        {
            while (work.Count == 0 && !completed) Monitor.Wait(gate);
            return work.TryDequeue(out var item, out _) ? item : null;
        }
    }

    /// <summary>
    /// Runs <paramref name="call"/> on the thread; the task ends with its result or its exception. A call whose
    /// <paramref name="cancel"/> ended while it waited its turn is skipped (the task is cancelled): work for a caller
    /// that has gone never occupies the model. A call already running finishes.
    /// </summary>
    public Task<T> RunAsync<T>(Func<T> call, CancellationToken cancel = default, int priority = 0)
    {
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Item()
        {
            if (cancel.IsCancellationRequested)
            {
                Interlocked.Increment(ref skipped);
                result.SetCanceled(cancel);
                return;
            }
            try
            {
                result.SetResult(call());
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                result.SetCanceled(cancel);
            }
            catch (Exception e)
            {
                result.SetException(e);
            }
        }
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(completed, this);
            work.Enqueue(Item, (priority, arrivals++));
            Monitor.Pulse(gate);
        }
        return result.Task;
    }

    /// <summary>
    /// Whether a call of lower priority than <paramref name="priority"/> waits: a long call that can be split checks
    /// this between its parts and gives way (<see cref="TwoStageSearcher.SearchAsync"/> does).
    /// </summary>
    public bool OthersWaitBefore(int priority)
    {
        lock (gate) return work.TryPeek(out _, out var next) && next.Priority < priority;
    }

    /// <summary>Calls skipped because they were cancelled before their turn.</summary>
    public int Skipped => Volatile.Read(ref skipped);

    /// <summary>Runs <paramref name="call"/> on the thread and waits for it.</summary>
    public T Run<T>(Func<T> call) => Thread.CurrentThread == thread ? call() : RunAsync(call).GetAwaiter().GetResult();

    /// <summary>Lets queued calls finish, then ends the thread.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            if (completed) return;
            completed = true;
            Monitor.PulseAll(gate);
        }
        thread.Join();
    }
}
