using System.Globalization;
using System.Text.Json.Nodes;
using InterBert.Tasks;

namespace InterBert.Tests.Search;

/// <summary>The relevance calibration: the logistic fit itself, and a minimum relevance in search and the service on the demo index.</summary>
[Collection("Search")]
public sealed class RelevanceTests(SearchFixture fixture)
{
    [Fact]
    public void TheCurveRecoversTheLogisticItWasSampledFromAndStaysFiniteOnSeparableData()
    {
        var random = new Random(7);
        var examples = new List<(double, bool)>();
        for (var k = 0; k < 20_000; k++)
        {
            // Scores far from zero, as a model's logits are: the fit must not depend on their offset or range.
            var score = 30 + 4 * (random.NextDouble() * 2 - 1);
            var p = 1 / (1 + Math.Exp(-(1.5 * score - 46)));
            examples.Add((score, random.NextDouble() < p));
        }
        var curve = RelevanceCurve.Fit(examples);
        Assert.InRange(curve.Slope, 1.4, 1.6);
        Assert.InRange(-curve.Intercept / curve.Slope, 46 / 1.5 - 0.1, 46 / 1.5 + 0.1); // where the probability is one half
        var separable = RelevanceCurve.Fit([(1.0, false), (2.0, false), (3.0, true), (4.0, true)]);
        Assert.True(double.IsFinite(separable.Slope) && separable.Slope > 0);
        Assert.True(separable.Probability(4) > 0.9 && separable.Probability(1) < 0.1);
        Assert.Throws<InterBertException>(() => RelevanceCurve.Fit([(1.0, false), (2.0, false)]));
    }

    [Fact]
    public async Task AMinimumRelevanceKeepsExactlyTheHitsAboveItInTheCliAndTheService()
    {
        // The demo fitted the search model's calibration on its validation scenes; every hit carries its relevance.
        var calibration = JsonNode.Parse(File.ReadAllText(Path.Combine(fixture.Folder, "finetune-pretrained", "relevance.json")))!;
        // Search ranks by the ranking the calibration measured best; a hit's score is what it was ranked by, and its
        // relevance that ranking's curve of it.
        var curve = calibration[calibration["ranking"]!.GetValue<string>() switch { "score" => "score", "score+similarity" => "score_plus_similarity", _ => "similarity" }]!;
        var (slope, intercept) = (curve["slope"]!.GetValue<double>(), curve["intercept"]!.GetValue<double>());
        var (code, output, error) = CliProcess.Run("search", "--index", fixture.IndexFolder, "--json", "--top", "24", "--", "一个红色的圆");
        Assert.True(code == 0, output + error);
        var all = JsonNode.Parse(output)!.AsArray().Select(h => (Id: h!["id"]!.GetValue<string>(), Score: h["score"]!.GetValue<double>(), Relevance: h["relevance"]!.GetValue<double>())).ToList();
        Assert.Equal(24, all.Count);
        foreach (var hit in all) Assert.Equal(1 / (1 + Math.Exp(-(slope * hit.Score + intercept))), hit.Relevance, 9);
        var minimum = all.Select(h => h.Relevance).Order().ElementAt(12);
        var expected = all.Where(h => h.Relevance >= minimum).Select(h => h.Id).ToList();
        Assert.InRange(expected.Count, 1, 23);

        (code, output, error) = CliProcess.Run("search", "--index", fixture.IndexFolder, "--json", "--top", "24", "--min-relevance", minimum.ToString("R", CultureInfo.InvariantCulture), "--", "一个红色的圆");
        Assert.True(code == 0, output + error);
        Assert.Equal(expected, JsonNode.Parse(output)!.AsArray().Select(h => h!["id"]!.GetValue<string>()));

        using var http = new HttpClient { BaseAddress = new Uri(fixture.ServerAddress) };
        var served = JsonNode.Parse(await http.GetStringAsync($"/api/search?k=24&q={Uri.EscapeDataString("一个红色的圆")}&min_relevance={minimum.ToString("R", CultureInfo.InvariantCulture)}"))!;
        Assert.Equal(expected, served["results"]!.AsArray().Select(h => h!["id"]!.GetValue<string>()));
        Assert.True(JsonNode.Parse(await http.GetStringAsync("/health"))!["relevance_calibrated"]!.GetValue<bool>());
        foreach (var bad in new[] { "2", "abc", "-0.1" })
        {
            using var refused = await http.GetAsync($"/api/search?q=red&min_relevance={bad}");
            Assert.Equal(400, (int)refused.StatusCode);
            Assert.Contains("from 0 to 1", JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["error"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task AQueryTheModelCannotReadReturnsNothingAtACutOffThatKeepsEachSceneForItsOwnCaption()
    {
        // The demo's vocabulary is the characters of its scene captions; none of this query's is among them.
        const string nonsense = "今天股市涨";
        var vocabulary = File.ReadAllLines(Path.Combine(fixture.IndexedModel, "vocab.txt")).ToHashSet();
        Assert.DoesNotContain(nonsense, c => vocabulary.Contains(c.ToString()));
        using var http = new HttpClient { BaseAddress = new Uri(fixture.ServerAddress) };
        async Task<JsonNode> Served(string query, double? minimum = null) => JsonNode.Parse(await http.GetStringAsync(
            $"/api/search?k=24&q={Uri.EscapeDataString(query)}" + (minimum is { } m ? $"&min_relevance={m.ToString("R", CultureInfo.InvariantCulture)}" : "")))!;
        static List<(string Id, double Relevance)> Hits(JsonNode results) =>
            results.AsArray().Select(h => (h!["id"]!.GetValue<string>(), h["relevance"]!.GetValue<double>())).ToList();

        // Each of four test scenes, searched by its own first caption: the relevance its scene gets; the lowest is the cut-off.
        var scenes = JsonNode.Parse(File.ReadAllText(fixture.Dataset))!["images"]!.AsArray()
            .Where(i => i!["split"]!.GetValue<string>() == "test").Take(4)
            .Select(i => (Id: Path.GetFileNameWithoutExtension(i!["filename"]!.GetValue<string>()), Caption: i["sentences"]![0]!["raw"]!.GetValue<string>())).ToList();
        var own = new List<double>();
        foreach (var (id, caption) in scenes)
        {
            var served = await Served(caption);
            Assert.Null(served["note"]); // a query it can read carries no note
            own.Add(Hits(served["results"]!).Single(h => h.Id == id).Relevance);
        }
        var cutOff = own.Min() - 1e-4; // the service gives relevance to 4 places
        Assert.True(cutOff > 0, "a calibrated relevance is a probability above 0");
        foreach (var (id, caption) in scenes) Assert.Contains(id, Hits((await Served(caption, cutOff))["results"]!).Select(h => h.Id));

        // Unread, the query still ranks every scene (the index is not empty), each at relevance 0, and search says why;
        // at the cut-off that keeps every scene for its own caption it returns nothing.
        var (code, output, error) = CliProcess.Run("search", "--index", fixture.IndexFolder, "--json", "--top", "24", "--", nonsense);
        Assert.True(code == 0, output + error);
        var unread = Hits(JsonNode.Parse(output)!);
        Assert.Equal(24, unread.Count);
        Assert.All(unread, h => Assert.Equal(0, h.Relevance));
        Assert.Contains("none of the query's words is in the model's vocabulary", error);
        (code, output, error) = CliProcess.Run("search", "--index", fixture.IndexFolder, "--json", "--top", "24", "--min-relevance", cutOff.ToString("R", CultureInfo.InvariantCulture), "--", nonsense);
        Assert.True(code == 0, output + error);
        Assert.Empty(JsonNode.Parse(output)!.AsArray());
        var refused = await Served(nonsense, cutOff);
        Assert.Empty(refused["results"]!.AsArray());
        Assert.Contains("vocabulary", refused["note"]!.GetValue<string>());
    }

    [Fact]
    public async Task SearchRanksByTheRankingItsCalibrationMeasuredBestAndSaysSo()
    {
        // The demo's calibrate stage measured the three rankings on its validation scenes and recorded the best.
        var calibration = JsonNode.Parse(File.ReadAllText(Path.Combine(fixture.Folder, "finetune-pretrained", "relevance.json")))!;
        var measured = calibration["text_to_image_by_ranking"]!.AsObject().ToDictionary(p => p.Key, p => p.Value!.AsArray().Select(v => v!.GetValue<double>()).ToArray());
        // Cheapest first: a tie goes to the cheaper.
        Assert.Equal(["first-stage", "word-region+similarity", "score+similarity", "score", "score+word-region+similarity"], measured.Keys);
        var best = measured.Values.Max(v => Math.Round(v.Sum(), 6));
        var chosen = calibration["ranking"]!.GetValue<string>();
        Assert.Equal(measured.First(p => Math.Round(p.Value.Sum(), 6) == best).Key, chosen);

        // The default is that ranking: the same hits in the same order as asking for it by name.
        string[] Ids(params string[] rank)
        {
            var (code, output, error) = CliProcess.Run(["search", "--index", fixture.IndexFolder, "--json", "--top", "12", "--candidates", "24", .. rank, "--", "一个蓝色的正方形"]);
            Assert.True(code == 0, output + error);
            return JsonNode.Parse(output)!.AsArray().Select(h => h!["id"]!.GetValue<string>()).ToArray();
        }
        Assert.Equal(Ids("--rank", chosen), Ids());
        // The first stage alone ranks by the cosine: hits in first-stage order, each hit's score its cosine.
        var (exit, json, stderr) = CliProcess.Run("search", "--index", fixture.IndexFolder, "--json", "--top", "12", "--candidates", "24", "--rank", "first-stage", "--", "一个蓝色的正方形");
        Assert.True(exit == 0, json + stderr);
        var firstStage = JsonNode.Parse(json)!.AsArray();
        Assert.Equal(Enumerable.Range(1, 12), firstStage.Select(h => h!["first_stage_rank"]!.GetValue<int>()));
        Assert.All(firstStage, h => Assert.Equal(h!["first_stage_similarity"]!.GetValue<double>(), h["score"]!.GetValue<double>(), 6));
        // --add-similarity is --rank score+similarity; with another --rank it is refused in one line.
        Assert.Equal(Ids("--rank", "score+similarity"), Ids("--add-similarity"));
        var (refused, _, why) = CliProcess.Run("search", "--index", fixture.IndexFolder, "--add-similarity", "--rank", "score", "--", "x");
        Assert.Equal(2, refused);
        Assert.Contains("--add-similarity is --rank score+similarity", why);

        using var http = new HttpClient { BaseAddress = new Uri(fixture.ServerAddress) };
        var health = JsonNode.Parse(await http.GetStringAsync("/health"))!;
        Assert.Equal(chosen, health["ranking"]!.GetValue<string>());
        Assert.Contains("measured best when its relevance was fitted", health["ranking_chosen_by"]!.GetValue<string>());
        Assert.Equal(0.0, health["region_judge_weight"]!.GetValue<double>());
    }

    [Fact]
    public void SearchWeighsTheCosineAsTheCalibrationSays()
    {
        // A copy of the search model whose calibration says 3: the same weights, so the calibration still belongs to them.
        using var copy = new TempFolder();
        foreach (var file in Directory.GetFiles(fixture.IndexedModel)) File.Copy(file, Path.Combine(copy.Path, Path.GetFileName(file)));
        var path = Path.Combine(copy.Path, RelevanceCalibration.FileName);
        var calibration = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var fitted = calibration["similarity_weight"]!.GetValue<float>();
        Assert.Contains(fitted, RelevanceCalibration.SimilarityWeights);
        calibration["similarity_weight"] = 3;
        File.WriteAllText(path, calibration.ToJsonString());
        using var original = InterBert.Search.TwoStageSearcher.Open(fixture.IndexFolder);
        using var weighed = InterBert.Search.TwoStageSearcher.Open(fixture.IndexFolder, copy.Path);
        Assert.Equal(3 / fitted * original.SimilarityScale, weighed.SimilarityScale, 3);
        // Each re-ranked hit's score is its cross-modal score plus the cosine at the calibration's weight.
        const string query = "一个蓝色的正方形";
        var scoreAlone = weighed.Search(query, 12, candidates: 12, ranking: SearchRanking.Score).ToDictionary(h => h.Id, h => h.Score);
        var fused = weighed.Search(query, 12, candidates: 12, ranking: SearchRanking.ScoreAndSimilarity);
        Assert.Equal(12, fused.Count);
        Assert.All(fused, h => Assert.Equal(scoreAlone[h.Id] + weighed.SimilarityScale * h.FirstStageSimilarity, h.Score, 3));
    }

    [Fact]
    public void AMinimumRelevanceWithoutACalibrationForTheseWeightsIsOneLineNamingTheFix()
    {
        // The other fine-tuning's weights have no relevance.json beside them.
        using var folder = new TempFolder();
        var index = folder.File("index");
        var (code, output, error) = CliProcess.Run("index", "--weights", fixture.OtherWeights, "--features", fixture.Features, "--dataset", fixture.Dataset, "--split", "test", "--out", index);
        Assert.True(code == 0, output + error);
        (code, output, error) = CliProcess.Run("search", "--index", index, "--min-relevance", "0.5", "--", "一个红色的圆");
        Assert.Equal(1, code);
        var line = Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("no relevance calibration", line);
        Assert.Contains("--fit-relevance", line);
    }
}
