namespace InterBert;

/// <summary>
/// Writes files atomically and durably: to a temporary name in the same folder, flushed to disk, renamed over the
/// target, and the folder flushed, so neither a killed process nor a lost machine leaves a half-written file.
/// </summary>
public static class AtomicFile
{
    /// <summary>Calls <paramref name="write"/> with a temporary path, then moves it to <paramref name="path"/>; the target is never left half-written.</summary>
    public static void Write(string path, Action<string> write)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(folder);
        var temporary = Path.Combine(folder, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            write(temporary);
            DurableFiles.Flush(temporary);
            File.Move(temporary, path, overwrite: true);
            DurableFiles.Flush(folder);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary>Writes text atomically.</summary>
    public static void WriteAllText(string path, string text) => Write(path, t => File.WriteAllText(t, text));
}
