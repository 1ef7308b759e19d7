using System.Text;

namespace InterBert.Server;

/// <summary>
/// Parses a raw query string strictly: a malformed percent escape or bytes that are not UTF-8 are an error, where
/// ASP.NET's own parser would quietly substitute U+FFFD and search for something the user never typed.
/// </summary>
public static class StrictQueryString
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The name → value pairs of <paramref name="raw"/> (with or without its leading '?'), the first of each name winning; or an error.</summary>
    public static bool TryParse(string? raw, out Dictionary<string, string> values, out string? error)
    {
        values = new Dictionary<string, string>(StringComparer.Ordinal);
        error = null;
        if (string.IsNullOrEmpty(raw)) return true;
        foreach (var part in raw.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = part.IndexOf('=');
            var name = equals < 0 ? part : part[..equals];
            var value = equals < 0 ? "" : part[(equals + 1)..];
            if (!TryDecode(name, out var decodedName, out error) || !TryDecode(value, out var decodedValue, out error)) return false;
            values.TryAdd(decodedName, decodedValue);
        }
        return true;
    }

    private static bool TryDecode(string text, out string decoded, out string? error)
    {
        decoded = "";
        error = null;
        var bytes = new List<byte>(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '+') bytes.Add((byte)' ');
            else if (c == '%')
            {
                if (i + 2 >= text.Length || !Uri.IsHexDigit(text[i + 1]) || !Uri.IsHexDigit(text[i + 2]))
                {
                    error = "the query string has a malformed percent escape";
                    return false;
                }
                bytes.Add(Convert.ToByte(text.Substring(i + 1, 2), 16));
                i += 2;
            }
            else if (c < 0x80) bytes.Add((byte)c);
            else bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
        }
        try
        {
            decoded = Utf8.GetString(bytes.ToArray());
            return true;
        }
        catch (DecoderFallbackException)
        {
            error = "the query string is not valid UTF-8 after percent-decoding";
            return false;
        }
    }
}
