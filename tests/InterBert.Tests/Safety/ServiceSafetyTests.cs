using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using InterBert.Search;
using InterBert.Server;
using InterBert.Tests.Search;

namespace InterBert.Tests.Safety;

/// <summary>
/// The search service where others can reach it: security headers, a host allow-list, an API key, image files only
/// from the index's folders, deadlines, a share per client, and error bodies without internals.
/// </summary>
[Collection("Search")]
public sealed class ServiceSafetyTests(SearchFixture fixture) : IDisposable
{
    private readonly TempFolder folder = new();

    public void Dispose() => folder.Dispose();

    /// <summary>A request as written, with the given Host header; returns status, headers and body.</summary>
    private static async Task<(int Status, string Headers, string Body)> Raw(string address, string target, string? host = null, string? apiKey = null)
    {
        var uri = new Uri(address);
        using var client = new TcpClient();
        await client.ConnectAsync(uri.Host, uri.Port);
        await using var stream = client.GetStream();
        var key = apiKey is null ? "" : $"X-API-Key: {apiKey}\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\nHost: {host ?? uri.Authority}\r\n{key}Connection: close\r\n\r\n"));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var response = await reader.ReadToEndAsync();
        var split = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var body = response[(split + 4)..];
        if (body.Contains('{')) body = body[body.IndexOf('{')..(body.LastIndexOf('}') + 1)];
        return (int.Parse(response.Split(' ')[1]), response[..split], body);
    }

    [Fact]
    public async Task EveryResponseCarriesSecurityHeadersAndOtherHostNamesAreRefused()
    {
        var address = fixture.ServerAddress;
        foreach (var target in new[] { "/", "/api/search?q=red&k=2", "/health", "/no/such/route", "/images/scene-999999" })
        {
            var (status, headers, _) = await Raw(address, target);
            Assert.True(status is 200 or 404, $"{target}: {status}");
            Assert.Contains("X-Content-Type-Options: nosniff", headers);
            Assert.Contains("X-Frame-Options: DENY", headers);
            Assert.Contains("frame-ancestors 'none'", headers);
        }
        // The page's policy allows exactly its own script (by hash), nothing inline besides.
        var (_, pageHeaders, _) = await Raw(address, "/");
        Assert.Matches("Content-Security-Policy: default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+';", pageHeaders);
        // DNS rebinding: a request that names another host is refused, whatever it asks for.
        foreach (var host in new[] { "evil.example", "evil.example:8080", "127.0.0.1.evil.example" })
        {
            var (status, _, body) = await Raw(address, "/api/search?q=red", host);
            Assert.Equal(400, status);
            Assert.Contains("host name", JsonNode.Parse(body)!["error"]!.GetValue<string>());
        }
        Assert.Equal(200, (await Raw(address, "/health", "localhost")).Status);
        // No internals in what the service tells: no folders, no weights paths.
        var (_, _, health) = await Raw(address, "/health");
        Assert.DoesNotContain(fixture.Folder, health);
        Assert.DoesNotContain(".safetensors", health);
        Assert.Matches("^[0-9a-f]{64}$", JsonNode.Parse(health)!["model_sha256"]!.GetValue<string>());
    }

    [Fact]
    public async Task FilesAreServedOnlyFromTheIndexsFoldersAndOnlyAsImagesBehindTheKey()
    {
        // An index whose image list was tampered with, as a database row can be: a system file, a page, a link out.
        var photos = Directory.CreateDirectory(folder.File("photos")).FullName;
        var index = Directory.CreateDirectory(folder.File("index")).FullName;
        foreach (var file in Directory.GetFiles(fixture.IndexFolder)) File.Copy(file, Path.Combine(index, Path.GetFileName(file)));
        var lines = File.ReadAllLines(Path.Combine(index, "images.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        var ids = lines.Select(l => l["id"]!.GetValue<string>()).ToList();
        File.Copy(lines[0]["image"]!.GetValue<string>(), Path.Combine(photos, "real.png"));
        File.WriteAllText(Path.Combine(photos, "page.html"), "<script>alert(1)</script>");
        File.CreateSymbolicLink(Path.Combine(photos, "link.png"), "/etc/passwd");
        string[] files = [Path.Combine(photos, "real.png"), "/etc/passwd", Path.Combine(photos, "page.html"), Path.Combine(photos, "link.png"), Path.Combine(photos, "..", "..", "..", "etc", "passwd.png")];
        for (var k = 0; k < files.Length; k++) lines[k]["image"] = files[k];
        File.WriteAllLines(Path.Combine(index, "images.jsonl"), lines.Select(l => l.ToJsonString()));
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(index, "index.json")))!.AsObject();
        manifest["image_roots"] = new JsonArray(photos);
        manifest["features"] = fixture.Features; // the copy is elsewhere: its store by its full path
        File.WriteAllText(Path.Combine(index, "index.json"), manifest.ToJsonString());

        if (OperatingSystem.IsWindows()) return; // file modes and links as on the machines this serves from
        const string Key = "a-long-enough-api-key-for-tests";
        var keyFile = folder.File("key.txt");
        File.WriteAllText(keyFile, Key + "\n");
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var (code, _, error) = CliProcess.Run("serve", "--index", index, "--port", "0", "--api-key-file", keyFile);
        Assert.Equal(1, code);
        Assert.Contains("chmod 600", Assert.Single(error.Trim().Split('\n')));
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var (server, address) = CliProcess.StartServer("--index", index, "--port", "0", "--threads", "1", "--api-key-file", keyFile, "--timeout", "0.001");
        using var process = server;
        try
        {
            // The data needs the key; the page and the health check do not.
            Assert.Equal(401, (await Raw(address, "/api/search?q=red")).Status);
            Assert.Equal(401, (await Raw(address, $"/images/{ids[0]}")).Status);
            Assert.Equal(401, (await Raw(address, "/api/search?q=red", apiKey: Key + "x")).Status);
            Assert.Equal(200, (await Raw(address, "/health")).Status);
            Assert.Equal(200, (await Raw(address, "/")).Status);
            var (status, headers, _) = await Raw(address, $"/images/{ids[0]}", apiKey: Key);
            Assert.Equal(200, status);
            Assert.Contains("Content-Type: image/png", headers);
            for (var k = 1; k < files.Length; k++)
            {
                var (refused, _, body) = await Raw(address, $"/images/{Uri.EscapeDataString(ids[k])}", apiKey: Key);
                Assert.True(refused == 404, $"{files[k]}: {refused}");
                Assert.DoesNotContain("root:", body);
                Assert.DoesNotContain("alert", body);
                Assert.DoesNotContain(photos, body);
            }
            // A search past its deadline (here 1 ms) is answered 503 with Retry-After, not late.
            var (late, lateHeaders, lateBody) = await Raw(address, "/api/search?q=red", apiKey: Key);
            Assert.Equal(503, late);
            Assert.Contains("Retry-After: 1", lateHeaders);
            Assert.Contains("did not finish within", JsonNode.Parse(lateBody)!["error"]!.GetValue<string>());
        }
        finally
        {
            server.Kill(true);
        }
    }

    [Fact]
    public async Task EachClientHasItsShareAndWaitingEndsWhenTheClientLeaves()
    {
        using var admission = new SearchAdmission(runningPerClient: 1, queuedPerClient: 1, running: 2, queued: 8);
        var first = await admission.EnterAsync("flooder", CancellationToken.None);
        Assert.NotNull(first);
        var waiting = admission.EnterAsync("flooder", CancellationToken.None);
        Assert.False(waiting.IsCompleted);
        // Its share is full: a third request of the same client is turned away at once...
        Assert.Null(await admission.EnterAsync("flooder", CancellationToken.None));
        // ...while another client gets a turn at once.
        var other = admission.EnterAsync("steady", CancellationToken.None);
        Assert.True(other.IsCompletedSuccessfully);
        Assert.NotNull(await other);
        first!.Dispose();
        Assert.NotNull(await waiting.WaitAsync(TimeSpan.FromSeconds(5)));

        // A waiting request whose client leaves (or whose deadline passes) stops waiting and frees its place.
        using var leaving = new CancellationTokenSource();
        var queued = admission.EnterAsync("steady", leaving.Token);
        Assert.False(queued.IsCompleted);
        leaving.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued);
    }

    [Fact]
    public async Task WorkWhoseCallerHasGoneIsNeverRunOnTheModel()
    {
        using var thread = new ModelThread("test");
        using var gate = new ManualResetEventSlim();
        var busy = thread.RunAsync(() => gate.Wait(TimeSpan.FromSeconds(30)));
        using var gone = new CancellationTokenSource();
        var ran = false;
        var abandoned = thread.RunAsync(() => ran = true, gone.Token);
        gone.Cancel();
        gate.Set();
        await busy;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        Assert.False(ran);
        Assert.Equal(1, thread.Skipped);
        Assert.True(await thread.RunAsync(() => true));
    }

    [Fact]
    public async Task ACallOfAClientWithLessInTheServiceGoesFirst()
    {
        using var thread = new ModelThread("test");
        using var gate = new ManualResetEventSlim();
        var busy = thread.RunAsync(() => gate.Wait(TimeSpan.FromSeconds(30)), priority: 5);
        var order = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var flood = Enumerable.Range(0, 3).Select(k => thread.RunAsync(() => { order.Enqueue($"flood{k}"); return k; }, priority: 5)).ToList();
        Assert.False(thread.OthersWaitBefore(5));
        var steady = thread.RunAsync(() => { order.Enqueue("steady"); return 0; }, priority: 1);
        // A long call of the flooding client, between its parts, sees that it should give way.
        Assert.True(thread.OthersWaitBefore(5));
        Assert.False(thread.OthersWaitBefore(1));
        gate.Set();
        await Task.WhenAll([busy, steady, .. flood]);
        Assert.Equal(["steady", "flood0", "flood1", "flood2"], order);
    }
}
