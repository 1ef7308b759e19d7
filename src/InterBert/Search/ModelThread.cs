using System.Collections.Concurrent;

namespace InterBert.Search;

/// <summary>
/// One dedicated thread that runs every model call of a searcher, in order. Calls from many request threads would
/// each start libtorch's intra-op thread team and allocator arenas of their own, so resident memory would grow with
/// every new thread-pool thread; one thread keeps them to one set.
/// </summary>
public sealed class ModelThread : IDisposable
{
    private readonly BlockingCollection<Action> work = new();
    private readonly Thread thread;

    /// <summary>Starts the thread; <paramref name="threadScope"/>, when given, is entered on it first and ended when it stops (an autocast region whose bf16 weights then live as long as the thread).</summary>
    public ModelThread(string name, Func<IDisposable?>? threadScope = null)
    {
        thread = new Thread(() =>
        {
            using var scope = threadScope?.Invoke();
            foreach (var item in work.GetConsumingEnumerable()) item();
        }) { IsBackground = true, Name = name };
        thread.Start();
    }

    /// <summary>
    /// Runs <paramref name="call"/> on the thread; the task ends with its result or its exception. A call whose
    /// <paramref name="cancel"/> ended while it waited its turn is skipped (the task is cancelled): work for a caller
    /// that has gone never occupies the model. A call already running finishes.
    /// </summary>
    public Task<T> RunAsync<T>(Func<T> call, CancellationToken cancel = default)
    {
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        work.Add(() =>
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
            catch (Exception e)
            {
                result.SetException(e);
            }
        });
        return result.Task;
    }

    /// <summary>Calls skipped because they were cancelled before their turn.</summary>
    public int Skipped => Volatile.Read(ref skipped);

    private int skipped;

    /// <summary>Runs <paramref name="call"/> on the thread and waits for it.</summary>
    public T Run<T>(Func<T> call) => Thread.CurrentThread == thread ? call() : RunAsync(call).GetAwaiter().GetResult();

    /// <summary>Lets queued calls finish, then ends the thread.</summary>
    public void Dispose()
    {
        work.CompleteAdding();
        thread.Join();
        work.Dispose();
    }
}
