using InterBert.Tasks;
using InterBert.Modeling;
using System.CommandLine;
using InterBert.Search;
using InterBert.Server;
using Microsoft.Extensions.Hosting;

namespace InterBert.Cli.Commands;

/// <summary>The <c>serve</c> verb: the search web service on an index.</summary>
public static class ServeCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var index = new Option<string>("--index") { Description = "the index: a folder, a postgres:// URL, or the pointer file index --backend postgres --out wrote", Required = true };
        var weights = new Option<string?>("--weights") { Description = "the model (default: the one the index records; another model is refused)" };
        var host = new Option<string>("--host") { Description = "address to listen on", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "port (0: any free port)", DefaultValueFactory = _ => 8080 };
        var concurrent = new Option<int>("--max-concurrent") { Description = "searches running at once", DefaultValueFactory = _ => 2 }.AtLeast(1);
        var queue = new Option<int>("--max-queue") { Description = "searches waiting; more get 429", DefaultValueFactory = _ => 8 }.AtLeast(0);
        var perClient = new Option<int>("--max-per-client") { Description = "searches one client (remote address) may have running", DefaultValueFactory = _ => 1 }.AtLeast(1);
        var queuePerClient = new Option<int>("--max-queue-per-client") { Description = "searches one client may have waiting; more get 429", DefaultValueFactory = _ => 4 }.AtLeast(0);
        var clientHeader = new Option<string?>("--client-header") { Description = "name clients by this header (e.g. X-Real-IP) instead of the remote address: only behind a proxy that sets it" };
        var timeout = new Option<double>("--timeout") { Description = "seconds a search may take, waiting included; past it: 503 with Retry-After", DefaultValueFactory = _ => 15 };
        var allowedHosts = new Option<string[]>("--allowed-host") { Description = "a host name requests may address (repeatable; default: localhost, 127.0.0.1, ::1 and the bound address; * for any)", AllowMultipleArgumentsPerToken = true };
        var apiKeyFile = new Option<string?>("--api-key-file") { Description = "require this key (first line of a file only you can read, 16+ characters) on /api and /images: header X-API-Key or Authorization: Bearer" };
        var imageRoots = new Option<string[]>("--image-root") { Description = "a folder image files may be served from (repeatable; default: the folders the index was built from, recorded in it or its pointer file)", AllowMultipleArgumentsPerToken = true };
        var maxUpload = new Option<double>("--max-upload-mb") { Description = "largest photo POST /api/search/image accepts, in megabytes", DefaultValueFactory = _ => 20 };
        var candidates = SearchCommand.CandidatesOption();
        var precision = CommandLine.PrecisionOption();
        var mode = SearchCommand.ModeOption();
        var rank = SearchCommand.RankOption();
        var addSimilarity = SearchCommand.AddSimilarityOption();
        var command = new Command("serve", "Serve search by words and by photo: a web page, GET /api/search?q=...&k=..., POST /api/search/image, GET /api/similar/{id}, /images/{id}, /health")
        {
            index, weights, host, port, concurrent, queue, perClient, queuePerClient, clientHeader, timeout, allowedHosts, apiKeyFile, imageRoots, maxUpload, candidates, mode, rank, addSimilarity, precision,
        };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            if (!System.Net.IPAddress.TryParse(parse.GetValue(host), out _)) throw new ArgumentException($"--host {parse.GetValue(host)}: not an IP address");
            if (parse.GetValue(timeout) is var seconds && (!(seconds > 0) || seconds > 3600)) throw new ArgumentException($"--timeout {seconds}: expected seconds between 0 and 3600");
            var roots = parse.GetValue(imageRoots) ?? [];
            foreach (var root in roots) if (!Directory.Exists(root)) throw new InterBertException($"{root}: --image-root folder not found");
            var apiKey = parse.GetValue(apiKeyFile) is { } keyPath ? ApiKeys.Read(keyPath) : null;
            using var searcher = TwoStageSearcher.Open(parse.GetValue(index)!, parse.GetValue(weights), CommandLine.Precision(parse, precision));
            var options = new SearchServiceOptions
            {
                Host = parse.GetValue(host)!, Port = parse.GetValue(port), MaxConcurrentSearches = parse.GetValue(concurrent),
                MaxQueuedSearches = parse.GetValue(queue), Candidates = Math.Max(1, parse.GetValue(candidates)), Mode = parse.GetValue(mode),
                Ranking = SearchCommand.Ranking(parse, rank, addSimilarity), MaxConcurrentPerClient = parse.GetValue(perClient), MaxQueuedPerClient = parse.GetValue(queuePerClient),
                ClientHeader = parse.GetValue(clientHeader), Timeout = TimeSpan.FromSeconds(parse.GetValue(timeout)), AllowedHosts = parse.GetValue(allowedHosts) ?? [],
                ApiKey = apiKey, ImageRoots = roots, MaxUploadBytes = (long)(Math.Max(0.001, parse.GetValue(maxUpload)) * 1024 * 1024),
            };
            var app = SearchService.Build(searcher, options);
            var address = SearchService.Start(app, options);
            Console.WriteLine($"serve: {searcher.Index.Count:N0} images of {searcher.Index.Location}, model {searcher.WeightsPath} ({searcher.Model.Precision.Name()})");
            Console.WriteLine(options.Ranking is { } asked ? $"serve: ranked by {asked.Name()} (--rank)" : $"serve: ranked by {searcher.DefaultRanking.Name()} ({searcher.DefaultRankingReason})");
            var served = options.ImageRoots.Count > 0 ? options.ImageRoots : searcher.Index.ImageRoots;
            Console.WriteLine(served.Count > 0
                ? $"serve: image files from {string.Join(", ", served)}"
                : "serve: no image files are served (the index records no image folders; give --image-root)");
            if (apiKey is not null) Console.WriteLine("serve: /api and /images need the API key");
            Console.WriteLine($"serve: listening on {address} (Ctrl-C to stop)");
            app.WaitForShutdown();
            Console.WriteLine("serve: stopped");
            return 0;
        }));
        return command;
    }
}
