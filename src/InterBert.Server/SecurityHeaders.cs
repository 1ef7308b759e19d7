using Microsoft.AspNetCore.Http;

namespace InterBert.Server;

/// <summary>The headers every response carries: no content sniffing, no framing, no referrer, and a content policy.</summary>
internal static class SecurityHeaders
{
    /// <summary>The policy of every response but the page: JSON and images load nothing and are never framed.</summary>
    public const string ApiPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

    /// <summary>Adds the headers to <paramref name="response"/> (before it starts).</summary>
    public static void Add(HttpResponse response, string contentSecurityPolicy)
    {
        var headers = response.Headers;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers.ContentSecurityPolicy = contentSecurityPolicy;
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Resource-Policy"] = "same-origin";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
    }
}
