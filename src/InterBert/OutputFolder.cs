namespace InterBert;

/// <summary>
/// The rule every command that writes a folder or file follows before writing: it takes a path that does not exist,
/// an empty folder, or its own kind of output (recognised by its manifest); anything else the user owns is refused in
/// one line and left as it was.
/// </summary>
public static class OutputFolder
{
    /// <summary>
    /// Refuses <paramref name="folder"/> when it exists, is not empty and holds none of <paramref name="markers"/>
    /// (the files or folders by which <paramref name="kind"/> is recognised). For outputs that are written into.
    /// </summary>
    public static void Claim(string folder, string kind, params string[] markers)
    {
        if (File.Exists(folder)) throw new InterBertException($"{folder}: is a file, not a folder; choose a folder for {kind}");
        if (!Directory.Exists(folder) || !Directory.EnumerateFileSystemEntries(folder).Any()) return;
        if (markers.Any(m => File.Exists(Path.Combine(folder, m)) || Directory.Exists(Path.Combine(folder, m)))) return;
        throw new InterBertException($"{folder}: not empty and not {kind} (no {markers[0]}); nothing was written: choose a new or empty folder");
    }

    /// <summary>
    /// Refuses <paramref name="folder"/>, which a command replaces whole, when it exists, is not empty and is not
    /// <paramref name="kind"/> holding only its own files (<paramref name="marker"/> and <paramref name="ownFiles"/>):
    /// a file of the user's inside it would go with the replaced folder.
    /// </summary>
    public static void ClaimReplaceable(string folder, string kind, string marker, IReadOnlyCollection<string> ownFiles)
    {
        Claim(folder, kind, marker);
        if (!Directory.Exists(folder)) return;
        var foreign = Directory.EnumerateFileSystemEntries(folder).Select(Path.GetFileName).FirstOrDefault(e => e != marker && !ownFiles.Contains(e!));
        if (foreign is not null)
            throw new InterBertException($"{folder}: {kind} that also holds {foreign}, which replacing it would delete; nothing was written: move it out or choose another folder");
    }

    /// <summary>
    /// Refuses to overwrite the file <paramref name="path"/> unless <paramref name="isOwn"/> recognises it as
    /// <paramref name="kind"/> (this command's own earlier output).
    /// </summary>
    public static void ClaimFile(string path, string kind, Func<string, bool> isOwn)
    {
        if (Directory.Exists(path)) throw new InterBertException($"{path}: is a folder; choose a file for {kind}");
        if (!File.Exists(path)) return;
        bool own;
        try
        {
            own = isOwn(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InterBertException or System.Text.Json.JsonException)
        {
            own = false;
        }
        if (!own) throw new InterBertException($"{path}: exists and is not {kind}; nothing was written: choose another file or move it away");
    }

    /// <summary>Whether a text file's first line is <paramref name="header"/> (how TSV and similar outputs are recognised).</summary>
    public static bool StartsWithLine(string path, string header)
    {
        using var reader = new StreamReader(path);
        return reader.ReadLine() == header;
    }
}
