namespace InterBert.Data;

/// <summary>Where an image's encoded bytes are: a file, or a base64 field of a line of a TSV file (MUGE).</summary>
public sealed record ImageLocation(string Path, long Base64LineOffset = -1)
{
    /// <summary>A description for messages.</summary>
    public override string ToString() => Base64LineOffset < 0 ? Path : $"{Path} (byte {Base64LineOffset})";

    /// <summary>Reads the encoded image bytes; errors name the file.</summary>
    public byte[] ReadBytes()
    {
        if (Base64LineOffset < 0)
        {
            if (!File.Exists(Path)) throw new InterBertException($"{Path}: image file not found");
            try
            {
                return File.ReadAllBytes(Path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new InterBertException($"{Path}: cannot read the image ({e.Message})");
            }
        }
        using var stream = File.OpenRead(Path);
        stream.Position = Base64LineOffset;
        using var reader = new StreamReader(stream);
        var line = reader.ReadLine() ?? throw new InterBertException($"{this}: no line at this offset");
        var tab = line.IndexOf('\t');
        try
        {
            return Convert.FromBase64String(line[(tab + 1)..].Trim());
        }
        catch (FormatException)
        {
            throw new InterBertException($"{this}: the image field is not valid base64");
        }
    }
}
