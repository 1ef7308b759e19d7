using System.Reflection;
using System.Runtime.InteropServices;

namespace InterBert.Distributed;

/// <summary>
/// The few MPI calls data-parallel training needs, bound by P/Invoke to MPICH's ABI (<c>libmpi.so.12</c>: Debian's
/// <c>mpich</c>, Intel MPI, Cray MPICH), where handles are 32-bit integers with fixed values. The library is resolved
/// only when a distributed run starts (override its path with <c>INTERBERT_MPI_LIBRARY</c>).
/// </summary>
internal static partial class MpiNative
{
    private const string Library = "interbert-mpi";
    public const int Success = 0;
    public const int CommWorld = 0x44000000;
    public const int Byte = 0x4c00010d;
    public const int Float = 0x4c00040a;
    public const int Double = 0x4c00080b;
    public const int Sum = 0x58000003;
    public const int Max = 0x58000001;
    public static readonly IntPtr InPlace = new(-1);

    static MpiNative() => NativeLibrary.SetDllImportResolver(typeof(MpiNative).Assembly, Resolve);

    /// <summary>Library names tried in order: the override, MPICH's ABI name, and Debian's name for the same library.</summary>
    public static IReadOnlyList<string> LibraryNames =>
        Environment.GetEnvironmentVariable("INTERBERT_MPI_LIBRARY") is { Length: > 0 } path ? [path] : ["libmpi.so.12", "libmpich.so.12"];

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != Library) return IntPtr.Zero;
        foreach (var candidate in LibraryNames)
            if (NativeLibrary.TryLoad(candidate, out var handle)) return handle;
        throw new InterBertException($"{string.Join(", ", LibraryNames)}: MPI library not found; install MPICH (Debian: apt-get install mpich) or set INTERBERT_MPI_LIBRARY to an MPICH-ABI libmpi.so.12");
    }

    [LibraryImport(Library, EntryPoint = "MPI_Init")]
    public static partial int Init(IntPtr argc, IntPtr argv);

    [LibraryImport(Library, EntryPoint = "MPI_Initialized")]
    public static partial int Initialized(out int flag);

    [LibraryImport(Library, EntryPoint = "MPI_Finalize")]
    public static partial int FinalizeMpi();

    [LibraryImport(Library, EntryPoint = "MPI_Comm_rank")]
    public static partial int CommRank(int comm, out int rank);

    [LibraryImport(Library, EntryPoint = "MPI_Comm_size")]
    public static partial int CommSize(int comm, out int size);

    [LibraryImport(Library, EntryPoint = "MPI_Bcast")]
    public static partial int Bcast(ref byte buffer, int count, int datatype, int root, int comm);

    [LibraryImport(Library, EntryPoint = "MPI_Allreduce")]
    public static partial int Allreduce(IntPtr sendBuffer, ref byte receiveBuffer, int count, int datatype, int op, int comm);

    [LibraryImport(Library, EntryPoint = "MPI_Barrier")]
    public static partial int Barrier(int comm);

    [LibraryImport(Library, EntryPoint = "MPI_Abort")]
    public static partial int Abort(int comm, int errorCode);
}
