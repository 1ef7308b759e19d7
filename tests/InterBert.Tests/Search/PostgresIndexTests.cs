using System.Net;
using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using InterBert.Search;

namespace InterBert.Tests.Search;

/// <summary>
/// The database index on a real PostgreSQL with pgvector (a throwaway cluster): the demo's model and images through
/// the command line, against the folder index of the same model; many synthetic vectors for the HNSW recall; a running
/// service that sees appends and removals and answers 503 while the database is down.
/// </summary>
[Collection("Search")]
public sealed class PostgresIndexTests(SearchFixture fixture)
{
    private PostgresCluster Database => fixture.Database;

    private static JsonArray SearchJson(params string[] args)
    {
        var (code, output, error) = CliProcess.Run(["search", .. args, "--json"]);
        Assert.True(code == 0, output + error);
        return JsonNode.Parse(output)!.AsArray();
    }

    private string BuildDatabaseIndex(string table, params string[] more)
    {
        var pointer = Path.Combine(fixture.Folder, $"{table}.json");
        var (code, output, error) = CliProcess.Run(["index", "--backend", "postgres", "--connection", Database.Url, "--table", table, "--weights", fixture.IndexedModel,
            "--features", fixture.Features, "--dataset", fixture.Dataset, "--split", "test", "--out", pointer, .. more]);
        Assert.True(code == 0, output + error);
        return pointer;
    }

    [Fact]
    public void TheDatabaseIndexSearchesAsTheFolderIndexDoes()
    {
        var pointer = BuildDatabaseIndex("demo_equal");
        foreach (var query in new[] { "一个蓝色的正方形", "红色的圆在绿色的三角形左边", "两个黄色的物体" })
        {
            // The same candidates (every test image: exact first stage) give the same re-ranked results and scores.
            var fromFolder = SearchJson("--index", fixture.IndexFolder, "--top", "10", "--candidates", "24", "--mode", "Exact", query);
            var fromDatabase = SearchJson("--index", pointer, "--top", "10", "--candidates", "24", "--mode", "Exact", query);
            Assert.Equal(fromFolder.Select(h => h!["id"]!.GetValue<string>()), fromDatabase.Select(h => h!["id"]!.GetValue<string>()));
            for (var k = 0; k < fromFolder.Count; k++)
            {
                Assert.Equal(fromFolder[k]!["score"]!.GetValue<double>(), fromDatabase[k]!["score"]!.GetValue<double>(), 5);
                Assert.Equal(fromFolder[k]!["first_stage_similarity"]!.GetValue<double>(), fromDatabase[k]!["first_stage_similarity"]!.GetValue<double>(), 5);
                Assert.Equal(fromFolder[k]!["file"]!.GetValue<string>(), fromDatabase[k]!["file"]!.GetValue<string>());
            }
            // The HNSW first stage (pgvector's graph) finds the same 10 nearest as the exact one on this small index.
            var exact = SearchJson("--index", pointer, "--top", "10", "--candidates", "10", "--mode", "Exact", query);
            var graph = SearchJson("--index", pointer, "--top", "10", "--candidates", "10", "--mode", "Approximate", query);
            Assert.Equal(exact.Select(h => h!["id"]!.GetValue<string>()).Order(), graph.Select(h => h!["id"]!.GetValue<string>()).Order());
        }
        // The URL works as the pointer file does.
        Assert.Equal(10, SearchJson("--index", Database.Url + "?table=demo_equal", "--top", "10", "一个蓝色的正方形").Count);
    }

    [Fact]
    public void HnswRecallOnTwentyThousandVectorsIsAtLeast95Percent()
    {
        const int count = 20_000, dimension = 64, queries = 40, k = 64;
        var random = new Random(5);
        float[] Unit()
        {
            var v = new float[dimension];
            for (var d = 0; d < dimension; d++) v[d] = (float)(random.NextDouble() * 2 - 1);
            TensorPrimitives.Divide(v, TensorPrimitives.Norm(v), v);
            return v;
        }
        var vectors = Enumerable.Range(0, count).Select(_ => Unit()).ToArray();
        var location = PostgresIndexLocation.Parse(Database.ConnectionString, "synthetic");
        var manifest = new ImageIndexManifest { Weights = "/synthetic", WeightsSha256 = new string('0', 64), Features = "/synthetic", Dimension = dimension, ExactBelow = 0 };
        var written = PostgresImageIndex.WriteVectors(location, manifest, Enumerable.Range(0, count).Select(i => new IndexedImage($"v{i}", null)).ToList(), i => vectors[i], append: false);
        Assert.Equal(count, written.Count);
        using var index = PostgresImageIndex.Open(location);
        Assert.Equal(count, index.Count);
        double found = 0;
        for (var q = 0; q < queries; q++)
        {
            var query = Unit();
            var truth = Enumerable.Range(0, count).OrderByDescending(i => TensorPrimitives.Dot(query, vectors[i])).Take(k).Select(i => $"v{i}").ToHashSet();
            var graph = index.NearestImages(query, k, SearchMode.Approximate);
            Assert.Equal(k, graph.Count);
            found += graph.Count(h => truth.Contains(h.Image.Id));
            var exact = index.NearestImages(query, k, SearchMode.Exact);
            Assert.True(truth.SetEquals(exact.Select(h => h.Image.Id)), "the exact first stage is exact");
            Assert.Equal(TensorPrimitives.Dot(query, vectors[int.Parse(exact[0].Image.Id[1..])]), exact[0].Similarity, 4);
        }
        var recall = found / (queries * k);
        Assert.True(recall >= 0.95, $"recall@{k} {recall:P1}");
    }

    [Fact]
    public async Task AppendsAndRemovalsReachARunningServiceWhichAnswers503WhileTheDatabaseIsDown()
    {
        var pointer = BuildDatabaseIndex("demo_live");
        var all = SearchJson("--index", pointer, "--top", "24", "--candidates", "24", "一个蓝色的正方形").Select(h => h!["id"]!.GetValue<string>()).ToList();
        Assert.Equal(24, all.Count);
        var (server, address) = CliProcess.StartServer("--index", pointer, "--port", "0", "--threads", "1");
        using var serverProcess = server;
        try
        {
            await AppendsAndRemovalsReachTheService(server, address, pointer, all);
        }
        finally
        {
            if (!server.HasExited) server.Kill(true);
        }
    }

    private async Task AppendsAndRemovalsReachTheService(System.Diagnostics.Process server, string address, string pointer, List<string> all)
    {
        using var http = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(60) };
        async Task<int> Count() => JsonNode.Parse(await http.GetStringAsync("/health"))!["images"]!.GetValue<int>();
        // /health answers from a count a few seconds old: wait (up to 20 s) for the expected one.
        async Task<int> Images(int expected)
        {
            var count = await Count();
            for (var deadline = DateTime.UtcNow.AddSeconds(20); count != expected && DateTime.UtcNow < deadline; count = await Count()) await Task.Delay(250);
            return count;
        }
        async Task<List<string>> Ids() => JsonNode.Parse(await http.GetStringAsync("/api/search?q=%E4%B8%80%E4%B8%AA%E8%93%9D%E8%89%B2%E7%9A%84%E6%AD%A3%E6%96%B9%E5%BD%A2&k=24"))!["results"]!
            .AsArray().Select(r => r!["id"]!.GetValue<string>()).ToList();
        Assert.Equal(24, await Images(24));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"/images/{Uri.EscapeDataString(all[0])}")).StatusCode);

        // Removed while serving: gone from results, counts and image requests.
        var removed = all.Take(4).ToArray();
        var (code, output, error) = CliProcess.Run(["index", "--backend", "postgres", "--connection", Database.Url, "--table", "demo_live", "--weights", fixture.IndexedModel, "--remove", .. removed]);
        Assert.True(code == 0, output + error);
        Assert.Contains("removed 4 of 4", output);
        Assert.Equal(20, await Images(20));
        Assert.Empty((await Ids()).Intersect(removed));
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/images/{Uri.EscapeDataString(removed[0])}")).StatusCode);
        // Appended back: found again, with no restart.
        BuildDatabaseIndex("demo_live", "--append");
        Assert.Equal(24, await Images(24));
        Assert.Equal(all.Order(), (await Ids()).Order());

        // A second replica on the same database: both answer at once, no 5xx.
        var (second, secondAddress) = CliProcess.StartServer("--index", pointer, "--port", "0", "--threads", "1");
        using var secondProcess = second;
        using var secondHttp = new HttpClient { BaseAddress = new Uri(secondAddress), Timeout = TimeSpan.FromSeconds(60) };
        var together = await Task.WhenAll(Enumerable.Range(0, 8).Select(n => (n % 2 == 0 ? http : secondHttp).GetAsync($"/api/search?q=blue&k=5")));
        Assert.All(together, response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
        Assert.Equal(24, JsonNode.Parse(await secondHttp.GetStringAsync("/health"))!["images"]!.GetValue<int>());
        second.Kill(true);

        // The database goes away: 503 with a JSON error, never a 5xx of another kind; it comes back: answers again.
        Database.Stop();
        try
        {
            var down = await http.GetAsync("/api/search?q=x&k=3");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
            var said = JsonNode.Parse(await down.Content.ReadAsStringAsync())!["error"]!.GetValue<string>();
            Assert.Contains("unavailable", said);
            Assert.DoesNotContain("postgres://", said); // no database user, host or port in what clients see
            Assert.DoesNotContain(PostgresCluster.User, said);
            Assert.Equal("nosniff", down.Headers.GetValues("X-Content-Type-Options").Single()); // the error handler's answers carry the headers too
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync("/health")).StatusCode);
        }
        finally
        {
            Database.Start();
        }
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/search?q=x&k=3")).StatusCode);
        Assert.Equal(24, await Images(24));
        server.Kill(true);
    }

    [Fact]
    public void AnUpdateOfTheDatabaseIndexEmbedsTheNewAndChangedAndRemovesTheDeleted()
    {
        using var work = new TempFolder();
        var scenes = Directory.GetFiles(Path.Combine(fixture.Folder, "scenes", "images"), "*.png").Order(StringComparer.Ordinal).ToArray();
        var photos = Directory.CreateDirectory(work.File("photos")).FullName;
        foreach (var scene in scenes.Take(8)) File.Copy(scene, Path.Combine(photos, Path.GetFileName(scene)));
        var store = work.File("store");
        var (code, output, error) = CliProcess.Run("features", "--images", photos, "--out", store);
        Assert.True(code == 0, output + error);
        var pointer = work.File("photos-index.json");
        string[] update = ["index", "--backend", "postgres", "--connection", Database.Url, "--table", "demo_update", "--weights", fixture.IndexedModel,
            "--features", store, "--images", photos, "--update", "--out", pointer];
        (code, output, error) = CliProcess.Run(update);
        Assert.True(code == 0, output + error);
        Assert.Contains("8 new, 0 changed, 0 removed, 0 unchanged; 8 embedded", output);
        var location = PostgresIndexLocation.Parse(Database.Url, "demo_update");
        var first = PostgresImageIndex.Images(location, fixture.IndexedModel)!.ToDictionary(i => i.Id);

        // 3 new, 1 changed (another scene's picture under its name), 2 deleted.
        var files = Directory.GetFiles(photos).Order(StringComparer.Ordinal).ToArray();
        foreach (var scene in scenes.Skip(8).Take(3)) File.Copy(scene, Path.Combine(photos, Path.GetFileName(scene)));
        File.Copy(scenes[20], files[0], overwrite: true);
        File.Delete(files[1]);
        File.Delete(files[2]);
        (code, output, error) = CliProcess.Run(update);
        Assert.True(code == 0, output + error);
        Assert.Contains("3 new, 1 changed, 2 removed, 5 unchanged; 4 embedded", output);

        var after = PostgresImageIndex.Images(location, fixture.IndexedModel)!.ToDictionary(i => i.Id);
        var expected = Directory.GetFiles(photos).Select(f => Path.GetFileNameWithoutExtension(f)).Order(StringComparer.Ordinal);
        Assert.Equal(expected, after.Keys.Order(StringComparer.Ordinal));
        // Each row records the hash of the file its vector came from; the changed photo's is its new file's.
        foreach (var file in Directory.GetFiles(photos))
            Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(file))), after[Path.GetFileNameWithoutExtension(file)].Sha256);
        Assert.NotEqual(first[Path.GetFileNameWithoutExtension(files[0])].Sha256, after[Path.GetFileNameWithoutExtension(files[0])].Sha256);
        // The changed photo is found by its new picture, under its name; the deleted ones are gone from search.
        var byPhoto = SearchJson("--index", pointer, "--image", files[0], "--top", "1");
        Assert.Equal(Path.GetFileNameWithoutExtension(files[0]), byPhoto[0]!["id"]!.GetValue<string>());
        var all = SearchJson("--index", pointer, "--top", "20", "--candidates", "20", "一个蓝色的正方形").Select(h => h!["id"]!.GetValue<string>()).ToList();
        Assert.Equal(9, all.Count);
        Assert.DoesNotContain(Path.GetFileNameWithoutExtension(files[1]), all);

        (code, output, error) = CliProcess.Run(update);
        Assert.True(code == 0, output + error);
        Assert.Contains("is up to date", output);
    }

    [Fact]
    public void AnInterruptedRebuildLeavesThePreviousIndexAndBadInputIsOneLine()
    {
        var pointer = BuildDatabaseIndex("demo_keep");
        var location = PostgresIndexLocation.Parse(pointer);
        var vectors = new float[64];
        vectors[0] = 1;
        using var cancel = new CancellationTokenSource();
        using (var index = PostgresImageIndex.Open(location))
        {
            var result = PostgresImageIndex.WriteVectors(location, index.Manifest with { Dimension = 64 }, Enumerable.Range(0, 500).Select(i => new IndexedImage($"x{i}", null)).ToList(),
                _ => vectors, append: false, new Progress<(int Done, int Total)>(_ => cancel.Cancel()), cancel.Token);
            Assert.True(result.Cancelled);
        }
        using (var index = PostgresImageIndex.Open(location))
        {
            Assert.Equal(24, index.Count);
            Assert.Equal(fixture.Features, index.Manifest.Features.TrimEnd('/'));
        }

        // Another model is refused, naming the index; so are appending with it and a search with it.
        var (code, output, error) = CliProcess.Run("search", "--index", pointer, "--weights", fixture.OtherWeights, "a query");
        Assert.Equal(1, code);
        Assert.Contains("built with the model", error);
        (code, _, error) = CliProcess.Run("index", "--backend", "postgres", "--connection", Database.Url, "--table", "demo_keep", "--weights", fixture.OtherWeights,
            "--features", fixture.Features, "--dataset", fixture.Dataset, "--split", "test", "--append");
        Assert.Equal(1, code);
        Assert.Contains("built with the model", error);

        // A server that is not there, a wrong password, a table that is not an index: one line each.
        var nowhere = $"postgres://{PostgresCluster.User}:x@127.0.0.1:1/postgres";
        foreach (var (index, expected) in new[]
        {
            (nowhere, "cannot reach the database server"),
            ($"postgres://{PostgresCluster.User}:wrong@127.0.0.1:{Database.Port}/postgres", "password authentication failed"),
            (Database.Url + "?table=no_such_index", "no index there"),
        })
        {
            (code, output, error) = CliProcess.Run("search", "--index", index, "a query");
            Assert.True(code == 1, $"{index}: {code} {output}{error}");
            Assert.Contains(expected, error);
            Assert.Single(error.Trim().Split('\n'));
            Assert.DoesNotContain("   at ", error);
        }
    }
}
