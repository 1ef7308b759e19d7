using System.Runtime;

namespace InterBert.Training;

/// <summary>
/// Keeps the .NET garbage collector from running during a tensor step. TorchSharp passes temporary
/// <c>Scalar</c> objects (e.g. the alpha of every tensor addition) to native code by handle only; if another thread
/// triggers a collection while that native call runs, the finalizer can free the scalar under it and the operation
/// fails ("Expected false to be true ... toFloat") or reads garbage. A no-GC region around each step closes that window.
/// </summary>
public sealed class CollectorPause : IDisposable
{
    private readonly bool active;

    /// <summary>Starts a no-GC region with room for <paramref name="bytes"/> of allocations (smaller if the runtime refuses).</summary>
    public CollectorPause(long bytes = 192L * 1024 * 1024)
    {
        if (GCSettings.LatencyMode == GCLatencyMode.NoGCRegion) return; // nested: the outer pause covers it
        for (var size = bytes; size >= 8L * 1024 * 1024 && !active; size /= 2)
        {
            try
            {
                active = GC.TryStartNoGCRegion(size);
            }
            catch (ArgumentOutOfRangeException)
            {
                // More than the runtime allows in one region: try half.
            }
            catch (InvalidOperationException)
            {
                return;
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        // If the step allocated more than the region allowed, a collection already ended it.
        if (active && GCSettings.LatencyMode == GCLatencyMode.NoGCRegion) GC.EndNoGCRegion();
    }
}
