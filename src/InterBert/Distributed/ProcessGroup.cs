using System.Runtime.InteropServices;

namespace InterBert.Distributed;

/// <summary>
/// The processes of a data-parallel run: one process alone, or the ranks of an MPI job (started by <c>mpiexec</c>,
/// Slurm's <c>srun</c> or the Kubernetes MPI Operator). A process not launched by MPI never loads an MPI library.
/// </summary>
public sealed class ProcessGroup : IDisposable
{
    private static ProcessGroup? current;
    private bool finalized;

    private ProcessGroup(int rank, int size, bool usesMpi)
    {
        Rank = rank;
        Size = size;
        UsesMpi = usesMpi;
    }

    /// <summary>This process's rank (0 writes checkpoints, metrics and plots).</summary>
    public int Rank { get; }

    /// <summary>Number of processes.</summary>
    public int Size { get; }

    /// <summary>Whether MPI was initialised.</summary>
    public bool UsesMpi { get; }

    /// <summary>Whether this is rank 0.</summary>
    public bool IsRoot => Rank == 0;

    /// <summary>A group of one process without MPI.</summary>
    public static ProcessGroup Single { get; } = new(0, 1, false);

    /// <summary>Whether an MPI launcher started this process (MPICH/Hydra and Slurm's PMI variables, PMIx).</summary>
    public static bool LaunchedByMpi =>
        Environment.GetEnvironmentVariable("PMI_RANK") is not null || Environment.GetEnvironmentVariable("PMIX_RANK") is not null
        || Environment.GetEnvironmentVariable("PMI_SIZE") is not null || Environment.GetEnvironmentVariable("MPI_LOCALRANKID") is not null;

    /// <summary>The group of this process: MPI's world when launched by MPI (initialised once), else <see cref="Single"/>.</summary>
    public static ProcessGroup Current
    {
        get
        {
            if (current is not null) return current;
            if (!LaunchedByMpi) return current = Single;
            Check(MpiNative.Init(IntPtr.Zero, IntPtr.Zero), "MPI_Init");
            Check(MpiNative.CommRank(MpiNative.CommWorld, out var rank), "MPI_Comm_rank");
            Check(MpiNative.CommSize(MpiNative.CommWorld, out var size), "MPI_Comm_size");
            return current = new ProcessGroup(rank, size, true);
        }
    }

    /// <summary>Whether the current group has been created and spans more than one process.</summary>
    public static bool IsDistributed => current is { Size: > 1 };

    /// <summary>Sums <paramref name="buffer"/> over all ranks, in place.</summary>
    public void AllReduceSum(Span<float> buffer)
    {
        if (Size == 1 || buffer.Length == 0) return;
        Check(MpiNative.Allreduce(MpiNative.InPlace, ref MemoryMarshal.GetReference(MemoryMarshal.AsBytes(buffer)), buffer.Length, MpiNative.Float, MpiNative.Sum, MpiNative.CommWorld), "MPI_Allreduce");
    }

    /// <summary>Sums <paramref name="buffer"/> over all ranks, in place.</summary>
    public void AllReduceSum(Span<double> buffer)
    {
        if (Size == 1 || buffer.Length == 0) return;
        Check(MpiNative.Allreduce(MpiNative.InPlace, ref MemoryMarshal.GetReference(MemoryMarshal.AsBytes(buffer)), buffer.Length, MpiNative.Double, MpiNative.Sum, MpiNative.CommWorld), "MPI_Allreduce");
    }

    /// <summary>Copies rank <paramref name="root"/>'s bytes to every rank.</summary>
    public void Broadcast(Span<byte> buffer, int root = 0)
    {
        if (Size == 1 || buffer.Length == 0) return;
        Check(MpiNative.Bcast(ref MemoryMarshal.GetReference(buffer), buffer.Length, MpiNative.Byte, root, MpiNative.CommWorld), "MPI_Bcast");
    }

    /// <summary>Waits for every rank.</summary>
    public void Barrier()
    {
        if (Size > 1) Check(MpiNative.Barrier(MpiNative.CommWorld), "MPI_Barrier");
    }

    /// <summary>Ends every rank of the job (after an error on one rank, so the others do not wait for it forever).</summary>
    public void Abort(int code)
    {
        if (UsesMpi) MpiNative.Abort(MpiNative.CommWorld, code);
    }

    /// <summary>Finalises MPI.</summary>
    public void Dispose()
    {
        if (!UsesMpi || finalized) return;
        finalized = true;
        MpiNative.FinalizeMpi();
    }

    /// <summary>Finalises the current group, if MPI was initialised.</summary>
    public static void Shutdown() => current?.Dispose();

    private static void Check(int code, string call)
    {
        if (code != MpiNative.Success) throw new InterBertException($"{call} failed with MPI error {code}");
    }
}
