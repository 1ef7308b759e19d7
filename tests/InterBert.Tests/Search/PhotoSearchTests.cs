using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using InterBert.Inference;

namespace InterBert.Tests.Search;

/// <summary>
/// Searching by photo and keeping an index in line with a folder of photos: a folder of demo scenes, its features
/// made the way a user's photos are (no given boxes), indexed with the search fixture's model by <c>index --update</c>.
/// </summary>
[Collection("Search")]
public sealed class PhotoSearchTests(SearchFixture fixture) : IDisposable
{
    private readonly TempFolder folder = new();

    public void Dispose() => folder.Dispose();

    private string[] Scenes => Directory.GetFiles(Path.Combine(fixture.Folder, "scenes", "images"), "*.png").Order(StringComparer.Ordinal).ToArray();

    /// <summary>A folder of <paramref name="count"/> scenes under <paramref name="root"/>, its feature store and its index (built by the first update).</summary>
    private (string Photos, string Store, string Index) IndexedFolder(string root, int count)
    {
        var photos = Path.Combine(root, "photos");
        Directory.CreateDirectory(photos);
        foreach (var scene in Scenes.Take(count)) File.Copy(scene, Path.Combine(photos, Path.GetFileName(scene)));
        var store = Path.Combine(root, "store");
        var index = Path.Combine(root, "index");
        var (code, output, error) = CliProcess.Run("features", "--images", photos, "--out", store);
        Assert.True(code == 0, output + error);
        (code, output, error) = CliProcess.Run(UpdateArguments(photos, store, index));
        Assert.True(code == 0, output + error);
        Assert.Contains($"{count} new, 0 changed, 0 removed, 0 unchanged; {count} embedded", output);
        return (photos, store, index);
    }

    private string[] UpdateArguments(string photos, string store, string index) =>
        ["index", "--weights", fixture.SearchWeights, "--features", store, "--images", photos, "--out", index, "--update"];

    [Fact]
    public async Task AnIndexedPhotoFindsItselfFirstAndMoreLikeThisLeavesItOut()
    {
        var (photos, _, index) = IndexedFolder(folder.Path, 10);
        var photo = Directory.GetFiles(photos).Order(StringComparer.Ordinal).ElementAt(3);
        var id = Path.GetFileNameWithoutExtension(photo);

        using (var pipeline = InterBertPipeline.Load(fixture.SearchWeights, new InterBertPipelineOptions { Index = index }))
        {
            var hits = pipeline.SearchByImage(photo, top: 5);
            Assert.Equal(5, hits.Count);
            Assert.Equal(id, hits[0].Id);
            Assert.True(hits[0].Score > 0.999, $"cosine of a photo with itself: {hits[0].Score}");
            Assert.True(hits[1].Score < hits[0].Score);
            var similar = pipeline.Similar(id, top: 20);
            Assert.Equal(9, similar.Count); // every other photo, not the photo itself
            Assert.DoesNotContain(id, similar.Select(h => h.Id));
            Assert.Equal(hits[1].Id, similar[0].Id);
            Assert.Contains("no image nope", Assert.Throws<InterBertException>(() => pipeline.Similar("nope")).Message);
            Assert.Contains("broken.jpg", Assert.Throws<InterBertException>(() => pipeline.SearchByImage("not a photo"u8.ToArray(), "broken.jpg")).Message);
        }

        var (code, output, error) = CliProcess.Run("search", "--index", index, "--image", photo, "--json", "--top", "3");
        Assert.True(code == 0, output + error);
        Assert.Equal(id, JsonNode.Parse(output)!.AsArray()[0]!["id"]!.GetValue<string>());

        var (server, address) = CliProcess.StartServer("--index", index, "--port", "0", "--threads", "2", "--max-upload-mb", "1");
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(address) };
            async Task<(int Status, JsonNode Body)> Post(byte[] body, string type)
            {
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue(type);
                using var response = await http.PostAsync("/api/search/image?k=4", content);
                return ((int)response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
            }
            var (status, json) = await Post(await File.ReadAllBytesAsync(photo), "image/png");
            Assert.Equal(200, status);
            Assert.Equal("upload", json["similar_to"]!.GetValue<string>());
            var results = json["results"]!.AsArray();
            Assert.Equal(4, results.Count);
            Assert.Equal(id, results[0]!["id"]!.GetValue<string>());

            // A corrupt upload, an empty one and one over the limit are JSON errors, and the service stays up.
            foreach (var (body, expected, says) in new[] { ("this is not a photo"u8.ToArray(), 400, "upload: not a decodable image"), ([], 400, "empty"), (new byte[2 * 1024 * 1024], 413, "larger than") })
            {
                var (refused, answer) = await Post(body, "image/jpeg");
                Assert.True(refused == expected, $"{says}: {refused} {answer}");
                Assert.Contains(says, answer["error"]!.GetValue<string>());
            }

            var like = JsonNode.Parse(await http.GetStringAsync($"/api/similar/{id}?k=20"))!;
            Assert.Equal(id, like["similar_to"]!.GetValue<string>());
            Assert.Equal(9, like["results"]!.AsArray().Count);
            Assert.DoesNotContain(id, like["results"]!.AsArray().Select(r => r!["id"]!.GetValue<string>()));
            using var missing = await http.GetAsync("/api/similar/nope");
            Assert.Equal(404, (int)missing.StatusCode);
            Assert.Contains("no image", JsonNode.Parse(await missing.Content.ReadAsStringAsync())!["error"]!.GetValue<string>());
        }
        finally
        {
            server.Kill(true);
            server.WaitForExit(10_000);
        }
    }

    [Fact]
    public async Task AnUpdateEmbedsExactlyTheNewAndChangedPhotosDropsTheDeletedAndSurvivesAKill()
    {
        var a = Path.Combine(folder.Path, "a");
        var (photos, store, index) = IndexedFolder(a, 10);
        var before = IndexVectors(index);
        var files = Directory.GetFiles(photos).Order(StringComparer.Ordinal).ToArray();
        // 3 new, 1 changed (another scene's picture under its name), 2 deleted.
        foreach (var scene in Scenes.Skip(10).Take(3)) File.Copy(scene, Path.Combine(photos, Path.GetFileName(scene)));
        File.Copy(Scenes[20], files[0], overwrite: true);
        File.Delete(files[1]);
        File.Delete(files[2]);
        var shardsBefore = Directory.GetFiles(store, "shard-*.index.json").Length;

        // The same starting point elsewhere, for the interrupted run.
        var b = Path.Combine(folder.Path, "b");
        CopyFolder(a, b);

        // A service on the index takes the update in without a restart.
        var (server, address) = CliProcess.StartServer("--index", index, "--port", "0", "--threads", "2");
        using var http = new HttpClient { BaseAddress = new Uri(address) };
        async Task<int> Served() => JsonNode.Parse(await http.GetStringAsync("/health"))!["images"]!.GetValue<int>();
        Assert.Equal(10, await Served());

        var (code, output, error) = CliProcess.Run(UpdateArguments(photos, store, index));
        Assert.True(code == 0, output + error);
        Assert.Contains("3 new, 1 changed, 2 removed, 7 unchanged; 4 embedded", output);
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (await Served() != 11 && DateTime.UtcNow < deadline) await Task.Delay(250);
            Assert.Equal(11, await Served());
            var added = Path.GetFileNameWithoutExtension(Scenes[10]);
            var like = JsonNode.Parse(await http.GetStringAsync($"/api/similar/{added}?k=3"))!["results"]!.AsArray();
            Assert.Equal(3, like.Count);
        }
        finally
        {
            server.Kill(true);
            server.WaitForExit(10_000);
        }
        var after = IndexVectors(index);
        Assert.Equal(11, after.Count);
        Assert.DoesNotContain(Path.GetFileNameWithoutExtension(files[1]), after.Keys);
        Assert.DoesNotContain(Path.GetFileNameWithoutExtension(files[2]), after.Keys);
        // The unchanged photos keep their vectors bit for bit; the changed photo has a new one.
        foreach (var file in files.Skip(3)) Assert.Equal(before[Path.GetFileNameWithoutExtension(file)], after[Path.GetFileNameWithoutExtension(file)]);
        Assert.NotEqual(before[Path.GetFileNameWithoutExtension(files[0])], after[Path.GetFileNameWithoutExtension(files[0])]);
        // Features were extracted for exactly the four, in one new shard whose hashes are the files'.
        var shards = Directory.GetFiles(store, "shard-*.index.json").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(shardsBefore + 1, shards.Length);
        var written = JsonNode.Parse(File.ReadAllText(shards[^1]))!.AsArray();
        Assert.Equal(4, written.Count);
        foreach (var entry in written)
        {
            var file = Path.Combine(photos, entry!["id"]!.GetValue<string>() + ".png");
            Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(file))), entry["sha256"]!.GetValue<string>());
        }
        // Searching the updated index by the changed photo finds it under its name.
        using (var pipeline = InterBertPipeline.Load(fixture.SearchWeights, new InterBertPipelineOptions { Index = index }))
            Assert.Equal(Path.GetFileNameWithoutExtension(files[0]), pipeline.SearchByImage(files[0], top: 1)[0].Id);

        (code, output, error) = CliProcess.Run(UpdateArguments(photos, store, index));
        Assert.True(code == 0, output + error);
        Assert.Contains("is up to date", output);

        // Killed (SIGKILL) once the new index is being written, then run again: the same index as the uninterrupted run.
        var (photosB, storeB, indexB) = (Path.Combine(b, "photos"), Path.Combine(b, "store"), Path.Combine(b, "index"));
        CliProcess.KillOnceWritten(UpdateArguments(photosB, storeB, indexB), indexB + ".partial/build.json");
        (code, output, error) = CliProcess.Run(UpdateArguments(photosB, storeB, indexB));
        Assert.True(code == 0, output + error);
        var resumed = IndexVectors(indexB);
        Assert.Equal(after.Keys.Order(), resumed.Keys.Order());
        foreach (var (id, vector) in after) Assert.Equal(vector, resumed[id]);
        Assert.False(Directory.Exists(indexB + ".partial"));
    }

    /// <summary>Each indexed image's vector, by id.</summary>
    private static Dictionary<string, float[]> IndexVectors(string index)
    {
        using var opened = InterBert.Search.ImageIndex.Open(index);
        return opened.Images.Select((image, position) => (image.Id, Vector: opened.Vector(position).ToArray())).ToDictionary(e => e.Id, e => e.Vector);
    }

    private static void CopyFolder(string from, string to)
    {
        foreach (var directory in Directory.GetDirectories(from, "*", SearchOption.AllDirectories)) Directory.CreateDirectory(directory.Replace(from, to));
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories)) File.Copy(file, file.Replace(from, to));
    }
}
