using System.Runtime.InteropServices;

namespace InterBert;

/// <summary>
/// Makes writes and renames survive a crash of the machine, not only of the process: a file's data is forced to disk
/// before it is renamed into place, and a folder's entries (the rename itself) before anything it replaced is deleted.
/// On systems without POSIX fsync of folders (Windows) folders are left to the file system.
/// </summary>
public static partial class DurableFiles
{
    /// <summary>Forces a file's data, or a folder's entries, to disk.</summary>
    public static void Flush(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            if (File.Exists(path)) using (var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite)) stream.Flush(flushToDisk: true);
            return;
        }
        var descriptor = Open(path, 0 /* O_RDONLY: enough for fsync, and the only way to open a folder */);
        if (descriptor < 0) throw new IOException($"{path}: cannot open to flush it to disk (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (Fsync(descriptor) != 0) throw new IOException($"{path}: flushing to disk failed (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            _ = Close(descriptor);
        }
    }

    /// <summary>Forces every file of <paramref name="folder"/> (not its sub-folders' files) and the folder's entries to disk.</summary>
    public static void FlushFolderAndFiles(string folder)
    {
        foreach (var file in Directory.EnumerateFiles(folder)) Flush(file);
        Flush(folder);
    }

    /// <summary>The folder that holds <paramref name="path"/>, whose entry a rename of it changes.</summary>
    public static string ParentOf(string path) => Path.GetDirectoryName(Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar)) ?? ".";

    /// <summary>
    /// Replaces the folder <paramref name="target"/> with the complete folder <paramref name="replacement"/> (a sibling):
    /// the replacement's files are flushed, the old folder is renamed aside, the replacement renamed in, the parent
    /// flushed, and only then is the old folder deleted. A crash at any point leaves either folder whole.
    /// </summary>
    public static void ReplaceFolder(string replacement, string target, Action? beforeSwap = null)
    {
        FlushFolderAndFiles(replacement);
        var full = Path.GetFullPath(target).TrimEnd(Path.DirectorySeparatorChar);
        var parent = ParentOf(full);
        beforeSwap?.Invoke();
        string? previous = null;
        if (Directory.Exists(full))
        {
            previous = Path.Combine(parent, $".{Path.GetFileName(full)}.old-{Guid.NewGuid():N}");
            Directory.Move(full, previous);
        }
        Directory.Move(replacement, full);
        Flush(parent);
        if (previous is not null) Directory.Delete(previous, recursive: true);
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int descriptor);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int descriptor);
}
