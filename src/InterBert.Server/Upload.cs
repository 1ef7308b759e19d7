using Microsoft.AspNetCore.Http;

namespace InterBert.Server;

/// <summary>An uploaded photo: the request body itself (any image type) or the first file of a multipart form, at most a set size.</summary>
internal static class Upload
{
    /// <summary>The photo's bytes, or the status and message to refuse the request with.</summary>
    public static async Task<(byte[]? Photo, (int Status, string Message)? Refusal)> ReadAsync(HttpRequest request, long maxBytes)
    {
        string TooLarge() => $"the photo is larger than the {maxBytes / (1024.0 * 1024):0.#} MB accepted";
        if (request.ContentLength > maxBytes) return (null, (413, TooLarge()));
        Stream body = request.Body;
        if (request.HasFormContentType)
        {
            var form = await request.ReadFormAsync(request.HttpContext.RequestAborted);
            if (form.Files.Count == 0) return (null, (400, "the form holds no file; send the photo as the request body or a form file"));
            if (form.Files[0].Length > maxBytes) return (null, (413, TooLarge()));
            body = form.Files[0].OpenReadStream();
        }
        // Read at most one byte past the limit: a body without a length that runs on is refused, not buffered whole.
        using var copy = new MemoryStream();
        var buffer = new byte[81920];
        int read;
        while ((read = await body.ReadAsync(buffer, request.HttpContext.RequestAborted)) > 0)
        {
            copy.Write(buffer, 0, read);
            if (copy.Length > maxBytes) return (null, (413, TooLarge()));
        }
        if (copy.Length == 0) return (null, (400, "no photo was sent (the request body is empty)"));
        return (copy.ToArray(), null);
    }
}
