using InterBert.Tasks;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;
using InterBert.Search;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace InterBert.Server;

/// <summary>
/// The search web service (ASP.NET Core minimal API): <c>GET /api/search?q=&amp;k=</c> (by words),
/// <c>POST /api/search/image?k=</c> (by an uploaded photo), <c>GET /api/similar/{id}?k=</c> (more like an indexed photo), <c>GET /images/{id}</c> (only
/// images of the index, only from the folders it was built from), <c>GET /</c> (a search page) and <c>GET /health</c>.
/// Every error is a JSON <c>{"error": ...}</c> without internals (the server log keeps them). Each client has its own
/// share of the searches, within the overall limits, and every search a deadline; a database index that cannot be
/// reached gives 503 until it can. Every response carries security headers; requests for other host names are refused
/// (DNS rebinding), and an API key, when set, guards the data.
/// </summary>
public static class SearchService
{
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
        var app = builder.Build();
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("interbert.serve");
        var admission = new SearchAdmission(options.MaxConcurrentPerClient, options.MaxQueuedPerClient, options.MaxConcurrentSearches, options.MaxQueuedSearches);
        app.Lifetime.ApplicationStopped.Register(admission.Dispose);
        // A folder index rebuilt or updated on disk is taken in without a restart.
        var live = new LiveSearcher(searcher, log, opened => opened.ImageWithoutFeatures += id =>
            log.LogWarning("image {Id} is in the index but has no features in {Store}; skipped in every search", id, opened.Store.Folder));
        app.Lifetime.ApplicationStopped.Register(live.Dispose);
        var images = new ImageFiles(options.ImageRoots.Count > 0 ? options.ImageRoots : searcher.Index.ImageRoots);
        var page = SearchPage.Read();
        var hosts = new HostAllowList(options);
        byte[]? keyHash = options.ApiKey is { } key ? SHA256.HashData(Encoding.UTF8.GetBytes(key)) : null;

        app.UseExceptionHandler(failed => failed.Run(context =>
        {
            var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
            // A database index that cannot be reached just now: 503, and the next request tries again. The body names
            // no server, user or path; the log does.
            if (error is IndexUnavailableException)
            {
                log.LogWarning("{Message}", error.Message);
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                context.Response.Headers.RetryAfter = "2";
                return context.Response.WriteAsJsonAsync(new ErrorBody("the index's database is unavailable; try again shortly"));
            }
            log.LogError(error, "internal error on {Path}", context.Request.Path);
            context.Response.StatusCode = StatusCodes.Status500InternalServerError;
            return context.Response.WriteAsJsonAsync(new ErrorBody("internal error; the server log has the details"));
        }));
        // Errors produced outside the handlers (an unknown route, a wrong method) get the same JSON shape.
        app.UseStatusCodePages(context => context.HttpContext.Response.WriteAsJsonAsync(
            new ErrorBody(ReasonPhrases.GetReasonPhrase(context.HttpContext.Response.StatusCode).ToLowerInvariant())));
        app.Use(async (context, next) =>
        {
            // Added as the response starts: an error answered by the exception handler, which clears the headers, gets them too.
            var policy = context.Request.Path == "/" ? page.ContentSecurityPolicy : SecurityHeaders.ApiPolicy;
            context.Response.OnStarting(() =>
            {
                SecurityHeaders.Add(context.Response, policy);
                return Task.CompletedTask;
            });
            if (!hosts.Allows(context.Request.Host))
            {
                await WriteError(context, StatusCodes.Status400BadRequest, "this service does not answer for that host name (see serve --allowed-host)");
                return;
            }
            var guarded = context.Request.Path.StartsWithSegments("/api") || context.Request.Path.StartsWithSegments("/images");
            if (keyHash is not null && guarded && !ApiKeys.Matches(context.Request, keyHash))
            {
                context.Response.Headers.WWWAuthenticate = "Bearer";
                await WriteError(context, StatusCodes.Status401Unauthorized, "an API key is required (header X-API-Key or Authorization: Bearer)");
                return;
            }
            await next(context);
        });

        app.MapGet("/", () => Results.Content(page.Html, "text/html; charset=utf-8"));
        app.MapGet("/health", async (CancellationToken cancel) => Results.Json(new
        {
            status = "ok",
            images = await live.Current.Index.CountAsync(cancel),
            model_sha256 = live.Current.Index.Manifest.WeightsSha256,
            score = live.Current.Index.Manifest.Score,
            images_without_features = live.Current.ImagesWithoutFeatures,
            relevance_calibrated = live.Current.Relevance is not null,
            ranking = (options.Ranking ?? live.Current.DefaultRanking).Name(),
            ranking_chosen_by = options.Ranking is null ? live.Current.DefaultRankingReason : "the service's --rank",
            // The weight of the region head's judgement in the model's cross-modal score (0: the score head alone).
            region_judge_weight = live.Current.Model.Config.RegionJudgeWeight,
            api_key = keyHash is not null,
        }));
        // Every search runs within its client's share and the overall limits, against a deadline that covers waiting for
        // a turn; a client with fewer searches in the service goes first on the model. The turn is given back when the
        // model is done with the search, not before: a request answered at its deadline must not let another search
        // onto a model that is still busy with this one.
        async Task<IResult> Admitted<T>(HttpContext context, Func<CancellationToken, int, Task<T>> start, Func<T, IResult> respond)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            deadline.CancelAfter(options.Timeout);
            IDisposable? turn;
            var client = ClientOf(context, options);
            try
            {
                turn = await admission.EnterAsync(client, deadline.Token);
            }
            catch (OperationCanceledException)
            {
                return TimedOut(context, options);
            }
            if (turn is null) return TooMany(context);
            Task<T> work;
            try
            {
                work = start(deadline.Token, admission.Load(client));
            }
            catch
            {
                turn.Dispose();
                throw;
            }
            _ = work.ContinueWith(_ => turn.Dispose(), TaskScheduler.Default);
            try
            {
                return respond(await work.WaitAsync(deadline.Token));
            }
            catch (OperationCanceledException)
            {
                return TimedOut(context, options);
            }
        }
        IResult Hits(string? query, string? similarTo, Stopwatch watch, IReadOnlyList<SearchHit> hits, string? note = null) => Results.Json(new SearchResponse(query, similarTo,
            Math.Round(watch.Elapsed.TotalMilliseconds, 1), hits.Select(h => new SearchResult(
                h.Id, Math.Round(h.Score, 4), Math.Round(h.FirstStageSimilarity, 4), h.Relevance is { } r ? Math.Round(r, 4) : null,
                h.ImagePath is null ? null : $"/images/{Uri.EscapeDataString(h.Id)}")).ToList(), note));

        app.MapGet("/api/search", async (HttpContext context) =>
        {
            var watch = Stopwatch.StartNew();
            if (!StrictQueryString.TryParse(context.Request.QueryString.Value, out var query, out var error)) return Error(400, error!);
            var text = query.GetValueOrDefault("q", "").Trim();
            if (text.Length == 0) return Error(400, "the query 'q' is empty");
            if (text.Length > options.MaxQueryLength) return Error(400, $"the query is {text.Length} characters long; at most {options.MaxQueryLength} are accepted");
            if (ResultCount(query, options) is not { } k) return Error(400, $"'k' must be a whole number from 1 to {options.MaxResults}");
            double? minRelevance = null;
            if (query.TryGetValue("min_relevance", out var minimumText))
            {
                if (!double.TryParse(minimumText, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var minimum) || minimum is < 0 or > 1 || double.IsNaN(minimum))
                    return Error(400, "'min_relevance' must be a number from 0 to 1");
                if (live.Current.Relevance is null) return Error(400, "this model has no relevance calibration, so 'min_relevance' cannot be applied");
                minRelevance = minimum;
            }
            return await Admitted(context,
                (cancel, priority) => live.Current.SearchAsync(text, k, Math.Max(options.Candidates, k), options.Mode, options.Ranking, cancel, priority, minRelevance),
                hits => Hits(text, null, watch, hits, live.Current.CanRead(text) ? null : TwoStageSearcher.UnreadableQuery));
        });
        app.MapPost("/api/search/image", async (HttpContext context) =>
        {
            var watch = Stopwatch.StartNew();
            if (!StrictQueryString.TryParse(context.Request.QueryString.Value, out var query, out var error)) return Error(400, error!);
            if (ResultCount(query, options) is not { } k) return Error(400, $"'k' must be a whole number from 1 to {options.MaxResults}");
            var (photo, refusal) = await Upload.ReadAsync(context.Request, options.MaxUploadBytes);
            if (photo is null) return Error(refusal!.Value.Status, refusal.Value.Message);
            // Decoding and the image networks run on this request's thread, within the client's turn; a photo that does
            // not decode is the client's error, named by the one line the decoder gives.
            return await Admitted(context, async (cancel, priority) =>
            {
                InterBert.Data.ImageRegions regions;
                try
                {
                    regions = await Task.Run(() => live.Current.ReadPhoto(photo, "upload"), cancel);
                }
                catch (InterBertException e) when (e.Message.StartsWith("upload:", StringComparison.Ordinal))
                {
                    return (Hits: (IReadOnlyList<SearchHit>?)null, Error: e.Message);
                }
                return (Hits: await live.Current.SearchByPhotoAsync(regions, k, options.Mode, cancel, priority), Error: (string?)null);
            }, found => found.Hits is { } hits ? Hits(null, "upload", watch, hits) : Error(400, found.Error!));
        }).DisableAntiforgery();
        app.MapGet("/api/similar/{id}", async (string id, HttpContext context) =>
        {
            var watch = Stopwatch.StartNew();
            if (!StrictQueryString.TryParse(context.Request.QueryString.Value, out var query, out var error)) return Error(400, error!);
            if (ResultCount(query, options) is not { } k) return Error(400, $"'k' must be a whole number from 1 to {options.MaxResults}");
            return await Admitted(context, (cancel, priority) => live.Current.SimilarAsync(id, k, options.Mode, cancel, priority),
                hits => hits is null ? Error(404, "no image with this id in the index") : Hits(null, id, watch, hits));
        });
        app.MapGet("/images/{id}", async (string id, CancellationToken cancel) =>
        {
            // Files are looked up by id among the index's images only; no path is ever built from the request, and a path
            // the index lists is served only inside the folders the index was built from, and only as an image.
            if (await live.Current.Index.FindAsync(id, cancel) is not { } image) return Error(404, "no image with this id in the index");
            if (image.ImagePath is not { } path) return Error(404, "this image has no file");
            if (images.Check(path) is { } refusal)
            {
                log.LogWarning("refused to serve {Path} for image {Id}: {Reason}", path, id, refusal);
                return Error(404, "this image's file is not served");
            }
            return File.Exists(path) ? Results.File(path, ImageFiles.ContentType(path)) : Error(404, "this image has no file");
        });
        app.MapFallback(() => Error(404, "not found"));
        return app;
    }

    /// <summary>Who a request is from: its remote address, or the configured header's value behind a trusted proxy.</summary>
    private static string ClientOf(HttpContext context, SearchServiceOptions options) =>
        options.ClientHeader is { } header && context.Request.Headers[header].ToString() is { Length: > 0 } named
            ? "header:" + named
            : context.Connection.RemoteIpAddress?.ToString() ?? "unknown";

    /// <summary>The request's 'k' (10 when absent), or null when it is not a whole number from 1 to the limit.</summary>
    private static int? ResultCount(IReadOnlyDictionary<string, string> query, SearchServiceOptions options)
    {
        if (!query.TryGetValue("k", out var text)) return 10;
        return int.TryParse(text, out var k) && k >= 1 && k <= options.MaxResults ? k : null;
    }

    private static IResult TimedOut(HttpContext context, SearchServiceOptions options)
    {
        context.Response.Headers.RetryAfter = "1";
        return Error(503, context.RequestAborted.IsCancellationRequested
            ? "the request was cancelled"
            : $"the search did not finish within {options.Timeout.TotalSeconds:0.###} s; try again shortly");
    }

    private static IResult TooMany(HttpContext context)
    {
        context.Response.Headers.RetryAfter = "1";
        return Error(429, "too many searches at once; try again shortly");
    }

    private static IResult Error(int status, string message) => Results.Json(new ErrorBody(message), statusCode: status);

    private static Task WriteError(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new ErrorBody(message));
    }

    private sealed record ErrorBody([property: JsonPropertyName("error")] string Error);

    private sealed record SearchResult(
        [property: JsonPropertyName("id")] string Id,
        [property: JsonPropertyName("score")] double Score,
        [property: JsonPropertyName("first_stage")] double FirstStage,
        [property: JsonPropertyName("relevance"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Relevance,
        [property: JsonPropertyName("image")] string? Image);

    private sealed record SearchResponse(
        [property: JsonPropertyName("query"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Query,
        [property: JsonPropertyName("similar_to"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? SimilarTo,
        [property: JsonPropertyName("milliseconds")] double Milliseconds,
        [property: JsonPropertyName("results")] IReadOnlyList<SearchResult> Results,
        [property: JsonPropertyName("note"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Note = null);
}
