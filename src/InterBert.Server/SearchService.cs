using System.Diagnostics;
using System.Net;
using System.Text.Json.Serialization;
using System.Threading.RateLimiting;
using InterBert.Search;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace InterBert.Server;

/// <summary>
/// The search web service (ASP.NET Core minimal API): <c>GET /api/search?q=&amp;k=</c>, <c>GET /images/{id}</c> (only
/// images of the index), <c>GET /</c> (a search page) and <c>GET /health</c>. Every error is a JSON
/// <c>{"error": ...}</c> with a 4xx status; searches beyond the concurrency and queue limits get 429 at once; a
/// database index that cannot be reached gives 503 until it can.
/// </summary>
public static class SearchService
{
    /// <summary>Name of the concurrency-limiting policy on the search endpoint.</summary>
    private const string SearchPolicy = "search";

    /// <summary>Starts <paramref name="app"/> and returns the address it listens on; a port in use is a one-line error.</summary>
    public static string Start(WebApplication app, SearchServiceOptions options)
    {
        try
        {
            app.Start();
        }
        catch (IOException e)
        {
            throw new InterBertException($"cannot listen on {options.Host}:{options.Port} ({e.Message})");
        }
        return app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First();
    }

    /// <summary>Builds the application (not started) serving <paramref name="searcher"/>.</summary>
    public static WebApplication Build(TwoStageSearcher searcher, SearchServiceOptions options)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // Long queries must reach the application, which answers them with a JSON error, not Kestrel's bare 414.
            kestrel.Limits.MaxRequestLineSize = 64 * 1024;
            kestrel.Limits.MaxRequestHeadersTotalSize = 96 * 1024;
            kestrel.Listen(IPAddress.Parse(options.Host), options.Port);
        });
        builder.Services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = (context, cancel) =>
            {
                context.HttpContext.Response.Headers.RetryAfter = "1";
                return new ValueTask(context.HttpContext.Response.WriteAsJsonAsync(new ErrorBody("too many searches at once; try again shortly"), cancel));
            };
            limiter.AddConcurrencyLimiter(SearchPolicy, o =>
            {
                o.PermitLimit = Math.Max(1, options.MaxConcurrentSearches);
                o.QueueLimit = Math.Max(0, options.MaxQueuedSearches);
                o.QueueProcessingOrder = QueueProcessingOrder.OldestFirst;
            });
        });
        var app = builder.Build();
        app.UseExceptionHandler(failed => failed.Run(context =>
        {
            var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
            // A database index that cannot be reached just now: 503, and the next request tries again.
            if (error is IndexUnavailableException unavailable)
            {
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                context.Response.Headers.RetryAfter = "2";
                return context.Response.WriteAsJsonAsync(new ErrorBody(unavailable.Message));
            }
            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            return context.Response.WriteAsJsonAsync(new ErrorBody($"internal error: {error?.Message}"));
        }));
        // Errors produced outside the handlers (an unknown route, a wrong method) get the same JSON shape.
        app.UseStatusCodePages(context => context.HttpContext.Response.WriteAsJsonAsync(
            new ErrorBody(ReasonPhrases.GetReasonPhrase(context.HttpContext.Response.StatusCode).ToLowerInvariant())));
        app.UseRateLimiter();

        var contentTypes = new FileExtensionContentTypeProvider();
        var page = ReadPage();

        app.MapGet("/", () => Results.Content(page, "text/html; charset=utf-8"));
        app.MapGet("/health", () => Results.Json(new { status = "ok", images = searcher.Index.Count, model = searcher.WeightsPath, score = searcher.Index.Manifest.Score }));
        app.MapGet("/api/search", async (HttpContext context) =>
        {
            if (!StrictQueryString.TryParse(context.Request.QueryString.Value, out var query, out var error)) return Error(400, error!);
            var text = query.GetValueOrDefault("q", "").Trim();
            if (text.Length == 0) return Error(400, "the query 'q' is empty");
            if (text.Length > options.MaxQueryLength) return Error(400, $"the query is {text.Length} characters long; at most {options.MaxQueryLength} are accepted");
            var k = 10;
            if (query.TryGetValue("k", out var kText) && (!int.TryParse(kText, out k) || k < 1 || k > options.MaxResults))
                return Error(400, $"'k' must be a whole number from 1 to {options.MaxResults}");
            var watch = Stopwatch.StartNew();
            var hits = await searcher.SearchAsync(text, k, Math.Max(options.Candidates, k), options.Mode, options.AddSimilarity);
            return Results.Json(new SearchResponse(text, Math.Round(watch.Elapsed.TotalMilliseconds, 1), hits.Select(h => new SearchResult(
                h.Id, Math.Round(h.Score, 4), Math.Round(h.FirstStageSimilarity, 4), h.ImagePath is null ? null : $"/images/{Uri.EscapeDataString(h.Id)}")).ToList()));
        }).RequireRateLimiting(SearchPolicy);
        app.MapGet("/images/{id}", (string id) =>
        {
            // Files are looked up by id among the index's images only; no path is ever built from the request.
            if (searcher.Index.Find(id) is not { } image) return Error(404, "no image with this id in the index");
            if (image.ImagePath is not { } path || !File.Exists(path)) return Error(404, "this image has no file");
            return Results.File(path, contentTypes.TryGetContentType(path, out var type) ? type : "application/octet-stream");
        });
        app.MapFallback(() => Error(404, "not found"));
        return app;
    }

    private static IResult Error(int status, string message) => Results.Json(new ErrorBody(message), statusCode: status);

    private static string ReadPage()
    {
        using var stream = typeof(SearchService).Assembly.GetManifestResourceStream("SearchPage.html")
            ?? throw new InvalidOperationException("the search page is missing from the assembly");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private sealed record ErrorBody([property: JsonPropertyName("error")] string Error);

    private sealed record SearchResult(
        [property: JsonPropertyName("id")] string Id,
        [property: JsonPropertyName("score")] double Score,
        [property: JsonPropertyName("first_stage")] double FirstStage,
        [property: JsonPropertyName("image")] string? Image);

    private sealed record SearchResponse(
        [property: JsonPropertyName("query")] string Query,
        [property: JsonPropertyName("milliseconds")] double Milliseconds,
        [property: JsonPropertyName("results")] IReadOnlyList<SearchResult> Results);
}
