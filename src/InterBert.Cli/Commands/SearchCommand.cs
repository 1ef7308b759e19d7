using InterBert.Tasks;
using System.CommandLine;
using System.Diagnostics;
using InterBert.Search;
using Spectre.Console;

namespace InterBert.Cli.Commands;

/// <summary>The <c>search</c> verb: two-stage text-to-image search from the command line.</summary>
public static class SearchCommand
{
    /// <summary>Option: which images an index's first stage proposes.</summary>
    public static Option<SearchMode> ModeOption() => new("--mode") { Description = "first stage: Auto (exact for small collections), Exact or Approximate (HNSW)", DefaultValueFactory = _ => SearchMode.Auto };

    /// <summary>Option: how many first-stage candidates are re-ranked.</summary>
    public static Option<int> CandidatesOption() => new Option<int>("--candidates") { Description = "first-stage candidates re-ranked by the cross-modal score", DefaultValueFactory = _ => TwoStageSearcher.DefaultCandidates }.AtLeast(1);

    /// <summary>Option: how the first stage's candidates are ranked.</summary>
    public static Option<string> RankOption()
    {
        var option = new Option<string>("--rank")
        {
            Description = "how candidates are ranked: auto (the ranking the model's relevance.json measured best on its dev split, else score+similarity), "
                + "score (the cross-modal score), score+similarity (the score plus the first-stage cosine on the contrastive logit scale, BLIP-2's) first-stage (the cosine alone: no cross-modal scoring, fastest), "
                + "word-region+similarity (each query word's attention over a candidate's regions plus the cosine, from an image-only pass per candidate) or score+word-region+similarity (all three)",
            DefaultValueFactory = _ => "auto",
        };
        option.AcceptOnlyFromAmong(["auto", .. SearchRankingNames.All.Keys]);
        return option;
    }

    /// <summary>Option: the former spelling of <c>--rank score+similarity</c>.</summary>
    public static Option<bool> AddSimilarityOption() => new("--add-similarity") { Description = "the same as --rank score+similarity" };

    /// <summary>The ranking asked for (null: the searcher's default), from <see cref="RankOption"/> and <see cref="AddSimilarityOption"/>.</summary>
    public static SearchRanking? Ranking(ParseResult parse, Option<string> rank, Option<bool> addSimilarity)
    {
        var name = parse.GetValue(rank)!;
        if (!parse.GetValue(addSimilarity)) return name == "auto" ? null : SearchRankingNames.Parse(name);
        if (name is not ("auto" or "score+similarity")) throw new ArgumentException($"--add-similarity is --rank score+similarity; it cannot go with --rank {name}");
        return SearchRanking.ScoreAndSimilarity;
    }

    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var index = new Option<string>("--index") { Description = "the index: a folder, a postgres:// URL, or the pointer file index --backend postgres --out wrote", Required = true };
        var weights = new Option<string?>("--weights") { Description = "the model (default: the one the index records; another model is refused)" };
        var top = new Option<int>("--top") { Description = "results to print", DefaultValueFactory = _ => 10 }.AtLeast(1);
        var candidates = CandidatesOption();
        var precision = CommandLine.PrecisionOption();
        var json = new Option<bool>("--json") { Description = "print the hits as one JSON array (id, score, first-stage similarity and rank, file) instead of a table" };
        var mode = ModeOption();
        var rank = RankOption();
        var addSimilarity = AddSimilarityOption();
        var minRelevance = new Option<double?>("--min-relevance") { Description = "return only results whose calibrated relevance (0 to 1: the chance a result is the photo described) reaches this, possibly none; needs the model's relevance.json (evaluate --fit-relevance)" };
        var image = new Option<string?>("--image") { Description = "search by a photo instead of words: the indexed photos nearest to it by image vector" };
        var similar = new Option<string?>("--similar") { Description = "search by an indexed photo's id: the other photos nearest to it (more like this)" };
        var query = new Argument<string[]>("query") { Description = "the query text (a query that starts with -- follows a lone --)", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("search", "Search images by text (nearest image vectors, re-ranked by InterBERT's matching score) or by photo")
        {
            index, weights, top, candidates, mode, rank, addSimilarity, precision, json, minRelevance, image, similar, query,
        };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            RefuseUnknownOptions(parse, query);
            var text = string.Join(' ', parse.GetValue(query)!).Trim();
            var (photo, similarTo) = (parse.GetValue(image), parse.GetValue(similar));
            if ((text.Length > 0 ? 1 : 0) + (photo is null ? 0 : 1) + (similarTo is null ? 0 : 1) != 1)
                throw new ArgumentException(text.Length == 0 && photo is null && similarTo is null ? "the query is empty" : "give one of: words to search for, --image PHOTO or --similar ID");
            if (parse.GetValue(minRelevance) is not null && text.Length == 0) throw new ArgumentException("--min-relevance belongs to a search by words");
            var photoBytes = photo is null ? null : new InterBert.Data.ImageLocation(photo).ReadBytes();
            using var searcher = TwoStageSearcher.Open(parse.GetValue(index)!, parse.GetValue(weights), CommandLine.Precision(parse, precision));
            searcher.ImageWithoutFeatures += id => Console.Error.WriteLine($"search: note: image {id} is in the index but has no features in {searcher.Store.Folder}; skipped");
            var ranking = Ranking(parse, rank, addSimilarity) ?? searcher.DefaultRanking;
            var watch = Stopwatch.StartNew();
            var count = Math.Clamp(parse.GetValue(top), 1, 1000);
            var hits = photoBytes is not null ? searcher.SearchByPhoto(searcher.ReadPhoto(photoBytes, photo!), count, parse.GetValue(mode))
                : similarTo is not null ? searcher.Similar(similarTo, count, parse.GetValue(mode)) ?? throw new InterBertException($"{searcher.Index.Location}: no image {similarTo} with features in the index")
                : searcher.Search(text, count, Math.Max(1, parse.GetValue(candidates)), parse.GetValue(mode), ranking, parse.GetValue(minRelevance));
            var elapsed = watch.Elapsed;
            if (text.Length > 0 && !searcher.CanRead(text))
                Console.Error.WriteLine($"search: note: {TwoStageSearcher.UnreadableQuery}");
            if (parse.GetValue(json))
            {
                Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(hits.Select(h => new
                {
                    id = h.Id, score = h.Score, first_stage_similarity = h.FirstStageSimilarity, first_stage_rank = h.FirstStageRank, relevance = h.Relevance, file = h.ImagePath,
                })));
                return 0;
            }
            if (text.Length == 0)
            {
                var nearest = new Table().AddColumn("rank").AddColumn("image").AddColumn("cosine").AddColumn("file");
                for (var k = 0; k < hits.Count; k++) nearest.AddRow($"{k + 1}", Markup.Escape(hits[k].Id), $"{hits[k].Score:F3}", Markup.Escape(hits[k].ImagePath ?? "-"));
                AnsiConsole.Write(nearest);
                Console.WriteLine($"search: photos nearest to {photo ?? similarTo}: {hits.Count} of {searcher.Index.Count:N0} images in {elapsed.TotalMilliseconds:F0} ms (image vectors, cosine)");
                return 0;
            }
            var table = new Table().AddColumn("rank").AddColumn("image").AddColumn("score").AddColumn("relevance").AddColumn("first stage (cosine, rank)").AddColumn("file");
            for (var k = 0; k < hits.Count; k++)
            {
                var hit = hits[k];
                table.AddRow($"{k + 1}", Markup.Escape(hit.Id), $"{hit.Score:F3}", hit.Relevance is { } r ? $"{r:F2}" : "-", $"{hit.FirstStageSimilarity:F3}  #{hit.FirstStageRank}", Markup.Escape(hit.ImagePath ?? "-"));
            }
            AnsiConsole.Write(table);
            Console.WriteLine($"search: \"{text}\": {hits.Count} of {searcher.Index.Count:N0} images in {elapsed.TotalMilliseconds:F0} ms (ranked by {RankingText(ranking, searcher)}{(Ranking(parse, rank, addSimilarity) is null ? $", {searcher.DefaultRankingReason}" : "")}, {Math.Max(parse.GetValue(candidates), parse.GetValue(top))} candidates)");
            return 0;
        }));
        return command;
    }

    private static string RankingText(SearchRanking ranking, TwoStageSearcher searcher) => ranking switch
    {
        SearchRanking.Score => $"{ranking.Name()}: the {searcher.Index.Manifest.Score}",
        SearchRanking.ScoreAndSimilarity => $"{ranking.Name()}: the {searcher.Index.Manifest.Score} + {searcher.SimilarityScale:F1} x cosine",
        _ => $"{ranking.Name()}: the cosine alone",
    };

    /// <summary>
    /// The query takes the words left over, so an unknown option would be searched for as text: refused, as every
    /// other verb does. Words after a lone <c>--</c> are the query whatever they look like.
    /// </summary>
    private static void RefuseUnknownOptions(ParseResult parse, Argument<string[]> query)
    {
        var all = parse.Tokens.ToList();
        var doubleDash = all.FindIndex(t => t.Type == System.CommandLine.Parsing.TokenType.DoubleDash);
        foreach (var token in parse.GetResult(query)?.Tokens ?? [])
        {
            var at = all.FindIndex(t => ReferenceEquals(t, token));
            if (doubleDash >= 0 && at > doubleDash) continue;
            if (token.Value.Length > 1 && token.Value[0] == '-' && !double.TryParse(token.Value, System.Globalization.CultureInfo.InvariantCulture, out _))
                throw new ArgumentException($"unrecognized option '{token.Value}' (a query that starts with - follows a lone --)");
        }
    }
}
