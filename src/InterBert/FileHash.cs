using System.Security.Cryptography;

namespace InterBert;

/// <summary>Content hashes of files, by which weights and data are recognised whatever their path.</summary>
public static class FileHash
{
    /// <summary>The SHA-256 of a file's bytes, as lower-case hex.</summary>
    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
