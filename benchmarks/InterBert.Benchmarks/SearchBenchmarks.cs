using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using InterBert.Workflows;
using InterBert.Cli;
using InterBert.Data;
using InterBert.Modeling;
using InterBert.Search;
using InterBert.Synthetic;
using InterBert.Tasks;
using InterBert.Vision;
using InterBert.Weights;

namespace InterBert.Benchmarks;

/// <summary><c>bench search</c> (two-stage search against exhaustive cross-modal scoring) and <c>bench serve</c> (a load test).</summary>
public static class SearchBenchmarks
{
    /// <summary>Creates <c>bench search</c>.</summary>
    public static Command Search()
    {
        var weights = new Option<string?>("--weights") { Description = "a search model, e.g. demo-output/en/finetune-pretrained/last.safetensors (not with --backend postgres)" };
        var backend = new Option<string>("--backend") { Description = "folder: two-stage search with a model against exhaustive scoring; postgres: the first stage at scale, the database index next to the folder index", DefaultValueFactory = _ => "folder" };
        var connection = new Option<string?>("--connection") { Description = "with --backend postgres: a postgres:// URL or connection string (a table bench_N_D_SEED is written)" };
        var vectors = new Option<int>("--vectors") { Description = "with --backend postgres: synthetic vectors to index", DefaultValueFactory = _ => 100_000 }.AtLeast(1);
        var dimension = new Option<int>("--dimension") { Description = "with --backend postgres: their dimension (the small preset's is 1024)", DefaultValueFactory = _ => 1024 }.AtLeast(2);
        var uniform = new Option<bool>("--uniform") { Description = "with --backend postgres: directions uniformly at random (the hard case for graph indexes) instead of clustered vectors" };
        var language = new Option<string>("--lang") { Description = "caption language of the model: en or zh", DefaultValueFactory = _ => "en" };
        var work = new Option<string>("--work") { Description = "folder for the scenes, features, index and exhaustive scores (reused by later runs)", DefaultValueFactory = _ => "bench-search" };
        var images = new Option<int>("--images") { Description = "synthetic scenes to search", DefaultValueFactory = _ => 1000 };
        var queries = new Option<int>("--queries") { Description = "caption queries (one caption of each of the first scenes)", DefaultValueFactory = _ => 200 };
        var candidates = new Option<int[]>("--candidates") { Description = "first-stage candidate counts to measure", DefaultValueFactory = _ => [16, 32, 64], AllowMultipleArgumentsPerToken = true };
        var seed = new Option<int>("--seed") { Description = "scene seed (the demo trains on seed 1, so the default scenes are unseen)", DefaultValueFactory = _ => 7 };
        var precisions = BenchCommand.PrecisionsOption();
        var command = new Command("search", "Two-stage search (index + re-ranking) against exhaustive cross-modal scoring: text-to-image R@10 and time per query, in fp32 and bf16")
        {
            weights, backend, connection, vectors, dimension, uniform, language, work, images, queries, candidates, seed, precisions,
        };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            switch (parse.GetValue(backend))
            {
                case "postgres":
                    return DatabaseSearchBenchmark.Run(new DatabaseSearchBenchmark.Options(
                        parse.GetValue(connection) ?? throw new ArgumentException("--backend postgres needs --connection"), parse.GetValue(work)!, parse.GetValue(vectors), parse.GetValue(dimension),
                        Math.Max(1, parse.GetValue(queries)), parse.GetValue(candidates)!.Where(k => k > 0).DefaultIfEmpty(64).Max(), parse.GetValue(seed), parse.GetValue(uniform)), Console.WriteLine);
                case "folder":
                    break;
                case var other:
                    throw new ArgumentException($"--backend {other}: expected folder or postgres");
            }
            if (parse.GetValue(weights) is null) throw new ArgumentException("--weights is required (a search model)");
            var folder = Directory.CreateDirectory(parse.GetValue(work)!).FullName;
            var sceneCount = parse.GetValue(images);
            var queryCount = Math.Min(parse.GetValue(queries), sceneCount);
            var weightsPath = Path.GetFullPath(parse.GetValue(weights)!);
            var lang = parse.GetValue(language)!;
            if (lang is not ("en" or "zh")) throw new ArgumentException($"--lang {lang}: expected en or zh");
            var threads = parse.GetValue(CommandLine.ThreadsOption);
            var scenes = Path.Combine(folder, $"scenes-{sceneCount}-seed{parse.GetValue(seed)}");
            var dataset = Path.Combine(scenes, SyntheticDataset.DatasetFileFor(lang));
            if (!File.Exists(dataset))
                ProgressDisplay.Run("scenes", (progress, cancel) => SyntheticDataset.Write(scenes, new SyntheticDataset.Options(sceneCount, parse.GetValue(seed), sceneCount, 0),
                    new Progress<SyntheticDataset.Progress>(p => progress.Report(new ProgressDisplay.Update(p.Done, p.Total, "scenes"))), cancel));
            var features = scenes + "-features";
            var located = DatasetReader.Read(dataset).Select(i => (i.Id, i.Location)).ToList();
            using (var network = new ResNetFeatureExtractor(threads: threads))
            {
                var extractor = new RegionFeatureExtractor(network, null, new ImageDecoder()) { MaxRegions = 8 };
                var boxes = RegionBoxFile.Read(Path.Combine(scenes, SyntheticDataset.ObjectsFile));
                var extracted = ProgressDisplay.Run("features", (progress, cancel) => FeatureExtractionJob.Run(located, extractor, boxes, features, float16: false, skipBad: false,
                    progress: new Progress<FeatureExtractionJob.Progress>(p => progress.Report(new ProgressDisplay.Update(p.Done, p.Total, "images"))), cancel: cancel));
                if (extracted.Cancelled) return 130;
            }

            using var store = FeatureStore.Open(features);
            var fingerprint = ImageIndex.Fingerprint(weightsPath);
            var indexFolder = Path.Combine(folder, $"index-{sceneCount}-seed{parse.GetValue(seed)}-{fingerprint[..12]}");
            if (!File.Exists(Path.Combine(indexFolder, ImageIndex.ManifestFile)))
            {
                var (indexModel, _, _, _) = ModelLoading.Load(weightsPath, store);
                using (indexModel)
                {
                    var built = ProgressDisplay.Run("index", (progress, cancel) => ImageIndex.Build(indexModel, weightsPath, store, IndexJob.ImagesToIndex(store, dataset, null, null), indexFolder, null,
                        new Progress<(int Done, int Total)>(p => progress.Report(new ProgressDisplay.Update(p.Done, p.Total, "images"))), cancel));
                    if (built.Cancelled) return 130;
                }
            }

            var precisionList = BenchCommand.Precisions(parse);
            using var searcher = TwoStageSearcher.Open(indexFolder, weightsPath);
            var maxTokens = searcher.Model.Config.TextLength;
            var corpus = CaptionCorpus.Load(dataset, [], store, searcher.Tokenizer, maxTokens);
            var captionsOf = Enumerable.Range(0, corpus.Captions.Count).GroupBy(c => corpus.ImageOf[c]).OrderBy(g => g.Key).Select(g => g.ToList()).ToList();
            var queryCorpus = corpus.WithCaptions(captionsOf.Take(queryCount).Select((captions, image) => captions[image % captions.Count]).ToList());
            Console.WriteLine($"bench search: {corpus.ImageIds.Count} images, {queryCount} caption queries ({lang}), model {weightsPath} ({searcher.Index.Manifest.Score}), {threads} threads");

            var exhaustive = Exhaustive(searcher, store, queryCorpus, Path.Combine(folder, $"exhaustive-{sceneCount}-seed{parse.GetValue(seed)}-{queryCount}-{fingerprint[..12]}.json"));
            if (exhaustive is null) return 130;
            Console.WriteLine($"  fp32 exhaustive cross-encoder ({queryCount} x {corpus.ImageIds.Count} pairs): R@10 {exhaustive.RecallAt10:F1}%, {exhaustive.MillisecondsPerQuery:F0} ms per query{(exhaustive.Reused ? " (measured by an earlier run, reused)" : "")}");
            // The index (fp32 vectors) serves both precisions; only the query vector and the re-ranking change.
            var fp32PerQuery = new Dictionary<(int, SearchMode), double>();
            foreach (var precision in precisionList)
            {
                using var timed = precision == Precision.Fp32 ? null : TwoStageSearcher.Open(indexFolder, weightsPath, precision);
                var current = timed ?? searcher;
                foreach (var k in parse.GetValue(candidates)!.Where(k => k > 0).Distinct().Order())
                {
                    foreach (var mode in new[] { SearchMode.Exact, SearchMode.Approximate })
                    {
                        var (recall, firstStage, perQuery) = TwoStage(current, queryCorpus, k, mode);
                        if (precision == Precision.Fp32) fp32PerQuery[(k, mode)] = perQuery;
                        var versusFp32 = precision != Precision.Fp32 && fp32PerQuery.TryGetValue((k, mode), out var baseline) ? $", {baseline / perQuery:F2}x fp32's speed" : "";
                        Console.WriteLine($"  {precision.Name()} two-stage, {k,3} candidates, {(mode == SearchMode.Exact ? "exact" : "HNSW"),5} first stage: R@10 {recall:F1}% ({100 * recall / Math.Max(exhaustive.RecallAt10, 1e-9):F0}% of exhaustive), " +
                            $"true image among the candidates {firstStage:F1}%, {perQuery:F1} ms per query, {exhaustive.MillisecondsPerQuery / perQuery:F1}x faster than exhaustive fp32{versusFp32}");
                    }
                }
            }
            return 0;
        }));
        return command;
    }

    private sealed record ExhaustiveResult(double RecallAt10, double MillisecondsPerQuery, bool Reused);

    /// <summary>Scores every query against every image (the slow reference); cached in <paramref name="cachePath"/>.</summary>
    private static ExhaustiveResult? Exhaustive(TwoStageSearcher searcher, FeatureStore store, CaptionCorpus queries, string cachePath)
    {
        if (File.Exists(cachePath)) return JsonSerializer.Deserialize<ExhaustiveResult>(File.ReadAllText(cachePath))! with { Reused = true };
        using var pairs = new PreparedPairs(queries, store, searcher.Tokenizer.PadId, searcher.Model.Config.VFeatureSize, searcher.Model.Config.MaxRegionLength);
        var total = (long)pairs.CaptionCount * pairs.ImageCount;
        var watch = Stopwatch.StartNew();
        float[,]? scores = null;
        ProgressDisplay.Run("exhaustive", (progress, cancel) =>
        {
            try
            {
                scores = RetrievalScorer.ScoreAll(searcher.Model, pairs, searcher.Index.Manifest.Score == "matching-head",
                    progress: new Progress<long>(done => progress.Report(new ProgressDisplay.Update(done, total, "pairs"))), cancel: cancel);
            }
            catch (OperationCanceledException)
            {
            }
            return 0;
        });
        if (scores is null) return null;
        var metrics = RetrievalMetrics.FromScores(scores, queries.ImageOf);
        var result = new ExhaustiveResult(metrics.TextToImage.R10, watch.Elapsed.TotalMilliseconds / pairs.CaptionCount, false);
        AtomicFile.WriteAllText(cachePath, JsonSerializer.Serialize(result));
        return result;
    }

    /// <summary>Two-stage R@10, the fraction of queries whose image is among the candidates, and the mean time per query.</summary>
    private static (double RecallAt10, double CandidateRecall, double MillisecondsPerQuery) TwoStage(TwoStageSearcher searcher, CaptionCorpus queries, int candidates, SearchMode mode)
    {
        searcher.Search(queries.Captions[0], 10, candidates, mode, SearchRanking.Score); // warm-up (the cross-modal re-ranking is what is measured)
        int hits = 0, among = 0;
        var watch = Stopwatch.StartNew();
        for (var q = 0; q < queries.Captions.Count; q++)
        {
            var truth = queries.ImageIds[queries.ImageOf[q]];
            var found = searcher.Search(queries.Captions[q], 10, candidates, mode, SearchRanking.Score);
            if (found.Any(h => h.Id == truth)) hits++;
        }
        var perQuery = watch.Elapsed.TotalMilliseconds / queries.Captions.Count;
        // Candidate recall is measured apart from the timing (first stage only).
        for (var q = 0; q < queries.Captions.Count; q++)
        {
            var truth = queries.ImageIds[queries.ImageOf[q]];
            var nearest = searcher.Index.NearestImages(searcher.QueryVector(searcher.Tokens(queries.Captions[q])), candidates, mode);
            if (nearest.Any(n => n.Image.Id == truth)) among++;
        }
        return (100.0 * hits / queries.Captions.Count, 100.0 * among / queries.Captions.Count, perQuery);
    }

    /// <summary>Creates <c>bench serve</c>.</summary>
    public static Command Serve()
    {
        var index = new Option<string>("--index") { Description = "index to serve: a folder, a postgres:// URL or a pointer file", Required = true };
        var seconds = new Option<int>("--seconds") { Description = "length of the load (at most 60)", DefaultValueFactory = _ => 30 };
        var warmUp = new Option<int>("--warm-up") { Description = "seconds of the same load before memory is first read", DefaultValueFactory = _ => 5 };
        var clients = new Option<int>("--clients") { Description = "concurrent loopback clients", DefaultValueFactory = _ => 8 };
        var servers = new Option<int>("--servers") { Description = "serve processes on the one index (a database index: replicas), clients spread over them", DefaultValueFactory = _ => 1 }.AtLeast(1);
        var outage = new Option<string[]>("--outage")
        {
            Description = "two shell commands run a third and two thirds into the load, taking the index's database down and back up (e.g. \"scripts/postgres-sandbox.sh stop DIR\" \"scripts/postgres-sandbox.sh start DIR\")",
            AllowMultipleArgumentsPerToken = true,
        };
        var fairness = new Option<bool>("--fairness") { Description = "instead: a steady client (one search a second) timed alone, then beside a client keeping 10 searches in flight; p99s and answers past the deadline" };
        var deadline = new Option<double>("--deadline") { Description = "with --fairness: the service's --timeout in seconds", DefaultValueFactory = _ => 15 };
        var command = new Command("serve", "Load test of the search service: 'serve' processes under concurrent loopback clients (statuses, p50/p99, memory; optionally a database outage; or --fairness)")
        {
            index, seconds, warmUp, clients, servers, outage, fairness, deadline,
        };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            var load = TimeSpan.FromSeconds(Math.Clamp(parse.GetValue(seconds), 1, 60));
            var serveArguments = new List<string> { "--index", parse.GetValue(index)!, "--threads", parse.GetValue(CommandLine.ThreadsOption).ToString() };
            if (parse.GetValue(fairness))
            {
                var f = FairnessTest.Run(serveArguments, load, TimeSpan.FromSeconds(parse.GetValue(deadline)), 10, Console.WriteLine);
                Console.WriteLine($"bench serve fairness: steady client alone: {f.SteadyAlone.Count} searches, p50 {LoadTest.Percentile(f.SteadyAlone, 0.5):F0} ms, p99 {f.P99Alone:F0} ms");
                Console.WriteLine($"bench serve fairness: steady client beside the flood: statuses {string.Join(", ", f.SteadyStatuses.Select(s => $"{s.Key}: {s.Value}"))}; p50 {LoadTest.Percentile(f.SteadyBesideFlood, 0.5):F0} ms, p99 {f.P99BesideFlood:F0} ms ({f.P99BesideFlood / Math.Max(1, f.P99Alone):F2} x its p99 alone)");
                Console.WriteLine($"bench serve fairness: flooding client (10 in flight): statuses {string.Join(", ", f.FloodStatuses.Select(s => $"{s.Key}: {s.Value}"))}");
                Console.WriteLine($"bench serve fairness: answered after their deadline ({parse.GetValue(deadline):0.###} s): {f.AnsweredAfterDeadline}; no response {f.NoResponse}");
                return 0;
            }
            var outageCommands = parse.GetValue(outage) ?? [];
            if (outageCommands.Length is not (0 or 2)) throw new ArgumentException("--outage takes two commands: one that stops the database and one that starts it");
            var r = LoadTest.Run(serveArguments, TimeSpan.FromSeconds(Math.Max(0, parse.GetValue(warmUp))), load, Math.Max(1, parse.GetValue(clients)), Console.WriteLine,
                parse.GetValue(servers), outageCommands.Length == 2 ? new LoadTest.Outage(outageCommands[0], outageCommands[1]) : null);
            Console.WriteLine($"bench serve: {r.Requests} requests in {load.TotalSeconds:F0} s ({r.RequestsPerSecond:F1}/s) from {parse.GetValue(clients)} clients; statuses {string.Join(", ", r.ByStatus.Select(s => $"{s.Key}: {s.Value}"))}");
            var unavailable = r.ByStatus.GetValueOrDefault(503);
            Console.WriteLine($"bench serve: 5xx {r.ServerErrors}{(unavailable > 0 ? $" ({unavailable} of them 503, the index's database unavailable; {r.ServerErrors - unavailable} other)" : "")}, no response {r.Failures}; latency of 200s p50 {r.P50Milliseconds:F0} ms, p99 {r.P99Milliseconds:F0} ms");
            Console.WriteLine($"bench serve: resident memory {r.ResidentAfterWarmUpMiB:F1} MiB after warm-up, {r.ResidentAfterLoadMiB:F1} MiB after the load ({r.ResidentChangePercent:+0.0;-0.0}%)");
            if (r.AnsweredByServer.Count > 1) Console.WriteLine($"bench serve: answered (200) by each server: {string.Join(", ", r.AnsweredByServer)}");
            foreach (var (phase, statuses) in r.Phases) Console.WriteLine($"bench serve: {phase}: {string.Join(", ", statuses.Select(s => $"{s.Key}: {s.Value}"))}");
            return 0;
        }));
        return command;
    }
}
