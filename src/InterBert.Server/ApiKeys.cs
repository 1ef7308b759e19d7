using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace InterBert.Server;

/// <summary>Checks a request's API key (X-API-Key, or Authorization: Bearer) against the service's, in constant time.</summary>
public static class ApiKeys
{
    /// <summary>Whether the request carries the key whose SHA-256 is <paramref name="keyHash"/>.</summary>
    public static bool Matches(HttpRequest request, byte[] keyHash)
    {
        var given = request.Headers["X-API-Key"].ToString();
        if (given.Length == 0 && request.Headers.Authorization.ToString() is { } authorization && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            given = authorization["Bearer ".Length..].Trim();
        // Hashes of equal length compared in constant time: neither the key's length nor its prefix leaks through timing.
        return given.Length > 0 && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), keyHash);
    }

    /// <summary>
    /// Reads a key file (its first line): a missing or empty file, or one others may read, is a one-line error.
    /// </summary>
    public static string Read(string path)
    {
        if (!File.Exists(path)) throw new InterBertException($"{path}: API key file not found");
        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)) != 0)
            throw new InterBertException($"{path}: the API key file may be read by others; make it private (chmod 600)");
        var key = File.ReadLines(path).FirstOrDefault()?.Trim() ?? "";
        if (key.Length < 16) throw new InterBertException($"{path}: the API key must be at least 16 characters on the first line");
        return key;
    }
}
