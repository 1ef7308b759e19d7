using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace InterBert.Server;

/// <summary>The search page and the Content-Security-Policy that allows exactly its own script and style (by hash).</summary>
internal sealed partial class SearchPage
{
    private SearchPage(string html, string contentSecurityPolicy)
    {
        Html = html;
        ContentSecurityPolicy = contentSecurityPolicy;
    }

    /// <summary>The page.</summary>
    public string Html { get; }

    /// <summary>Its policy: nothing but its own inline script and style, images and requests from this service.</summary>
    public string ContentSecurityPolicy { get; }

    /// <summary>Reads the page from the assembly and hashes its inline script and style.</summary>
    public static SearchPage Read()
    {
        using var stream = typeof(SearchPage).Assembly.GetManifestResourceStream("SearchPage.html")
            ?? throw new InvalidOperationException("the search page is missing from the assembly");
        using var reader = new StreamReader(stream);
        var html = reader.ReadToEnd();
        static string Hash(string text) => "'sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(text))) + "'";
        var scripts = string.Join(' ', Script().Matches(html).Select(m => Hash(m.Groups[1].Value)));
        var styles = string.Join(' ', Style().Matches(html).Select(m => Hash(m.Groups[1].Value)));
        return new SearchPage(html,
            $"default-src 'none'; script-src {scripts}; style-src {styles}; img-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    }

    [GeneratedRegex("<script>(.*?)</script>", RegexOptions.Singleline)]
    private static partial Regex Script();

    [GeneratedRegex("<style>(.*?)</style>", RegexOptions.Singleline)]
    private static partial Regex Style();
}
