using System.Runtime.InteropServices;

namespace InterBert.Modeling;

/// <summary>
/// Tunes the C allocator libtorch's CPU tensors come from. glibc serves blocks above its mmap threshold (at most
/// 32 MiB by default) with fresh pages that the kernel must zero on first touch, and returns freed heap memory to
/// the system past its trim threshold; a training step allocates and frees hundreds of such tensors, and measured
/// here that page traffic costs 10-20% of a step. Raising both thresholds keeps the memory in the process for reuse
/// (the resident size stays at its peak instead of following every step). What PyTorch's CPU guides get from jemalloc.
/// </summary>
public static class NativeAllocator
{
    private const int MmapThreshold = -3; // M_MMAP_THRESHOLD
    private const int TrimThreshold = -1; // M_TRIM_THRESHOLD
    private static int applied;

    /// <summary>Applies the setting once per process on glibc Linux; returns whether it took effect (false elsewhere, or when <c>INTERBERT_MALLOC=default</c>).</summary>
    public static bool KeepTensorMemory()
    {
        if (Interlocked.Exchange(ref applied, 1) == 1) return false;
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("INTERBERT_MALLOC") == "default") return false;
        try
        {
            return mallopt(MmapThreshold, int.MaxValue) == 1 & mallopt(TrimThreshold, int.MaxValue) == 1;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false; // not glibc (musl has no such tuning): keep the allocator as it is
        }
    }

    [DllImport("libc.so.6", EntryPoint = "mallopt")]
    private static extern int mallopt(int parameter, int value);
}
