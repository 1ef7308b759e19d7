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
        var candidates = SearchCommand.CandidatesOption();
        var precision = CommandLine.PrecisionOption();
        var mode = SearchCommand.ModeOption();
        var addSimilarity = SearchCommand.AddSimilarityOption();
        var command = new Command("serve", "Serve text-to-image search: a web page, GET /api/search?q=...&k=..., /images/{id}, /health")
        {
            index, weights, host, port, concurrent, queue, candidates, mode, addSimilarity, precision,
        };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            if (!System.Net.IPAddress.TryParse(parse.GetValue(host), out _)) throw new ArgumentException($"--host {parse.GetValue(host)}: not an IP address");
            using var searcher = TwoStageSearcher.Open(parse.GetValue(index)!, parse.GetValue(weights), CommandLine.Precision(parse, precision));
            var options = new SearchServiceOptions
            {
                Host = parse.GetValue(host)!, Port = parse.GetValue(port), MaxConcurrentSearches = parse.GetValue(concurrent),
                MaxQueuedSearches = parse.GetValue(queue), Candidates = Math.Max(1, parse.GetValue(candidates)), Mode = parse.GetValue(mode),
                AddSimilarity = parse.GetValue(addSimilarity),
            };
            var app = SearchService.Build(searcher, options);
            var address = SearchService.Start(app, options);
            Console.WriteLine($"serve: {searcher.Index.Count:N0} images of {searcher.Index.Location}, model {searcher.WeightsPath} ({searcher.Model.Precision.Name()})");
            Console.WriteLine($"serve: listening on {address} (Ctrl-C to stop)");
            app.WaitForShutdown();
            Console.WriteLine("serve: stopped");
            return 0;
        }));
        return command;
    }
}
