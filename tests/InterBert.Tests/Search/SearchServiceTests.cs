using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace InterBert.Tests.Search;

[Collection("Search")]
public sealed class SearchServiceTests(SearchFixture fixture)
{
    /// <summary>Sends a request line exactly as written (no client-side normalisation of "..") and returns status and body.</summary>
    private async Task<(int Status, string Body)> RawGet(string target)
    {
        var uri = new Uri(fixture.ServerAddress);
        using var client = new TcpClient();
        await client.ConnectAsync(uri.Host, uri.Port);
        await using var stream = client.GetStream();
        var request = Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\nHost: {uri.Authority}\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(request);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var response = await reader.ReadToEndAsync();
        var status = int.Parse(response.Split(' ')[1]);
        var body = response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        // Chunked bodies: keep the JSON object between the first '{' and the last '}'.
        if (body.Contains('{')) body = body[body.IndexOf('{')..(body.LastIndexOf('}') + 1)];
        return (status, body);
    }

    [Fact]
    public async Task BadRequestsGetFourHundredJsonErrorsAndTheServiceStaysUp()
    {
        var cases = new (string Target, int Status, string Says)[]
        {
            ("/api/search?q=", 400, "empty"),
            ("/api/search?q=%20%20&k=3", 400, "empty"),
            ($"/api/search?q={new string('a', 10 * 1024)}", 400, "at most 500"),
            ("/api/search?q=red&k=100000", 400, "from 1 to 100"),
            ("/api/search?q=red&k=abc", 400, "from 1 to 100"),
            ("/images/../../etc/passwd", 404, "not found"),
            ("/images/..%2F..%2Fetc%2Fpasswd", 404, "no image"),
            ("/images/scene-999999", 404, "no image"),
            ("/api/search?q=%FF%FE%FD", 400, "UTF-8"),
            ("/api/search?q=%E4%B8", 400, "UTF-8"),
            ("/api/search?q=%G1", 400, "percent"),
        };
        foreach (var (target, status, says) in cases)
        {
            var (actual, body) = await RawGet(target);
            Assert.True(actual == status, $"{target[..Math.Min(60, target.Length)]}: {actual} {body}");
            var error = JsonNode.Parse(body)!["error"]!.GetValue<string>();
            Assert.Contains(says, error);
            Assert.DoesNotContain("root:", body); // never the contents of /etc/passwd
        }
        var (healthStatus, health) = await RawGet("/health");
        Assert.Equal(200, healthStatus);
        Assert.Equal("ok", JsonNode.Parse(health)!["status"]!.GetValue<string>());
        Assert.True(fixture.ServerRunning);
    }

    [Fact]
    public async Task SearchReturnsKRankedResultsWhoseImagesAreServed()
    {
        using var http = new HttpClient { BaseAddress = new Uri(fixture.ServerAddress) };
        var json = JsonNode.Parse(await http.GetStringAsync("/api/search?k=5&q=" + Uri.EscapeDataString("一个红色的圆")))!;
        Assert.Equal("一个红色的圆", json["query"]!.GetValue<string>());
        var results = json["results"]!.AsArray();
        Assert.Equal(5, results.Count);
        var scores = results.Select(r => r!["score"]!.GetValue<double>()).ToList();
        Assert.Equal(scores.OrderDescending().ToList(), scores);
        Assert.Equal(5, results.Select(r => r!["id"]!.GetValue<string>()).Distinct().Count());
        // Every result is a test scene of the index, and its image is served as the PNG file on disk.
        var image = results[0]!["image"]!.GetValue<string>();
        var id = results[0]!["id"]!.GetValue<string>();
        using var response = await http.GetAsync(image);
        Assert.Equal("image/png", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(fixture.Folder, "scenes", "images", id + ".png")), await response.Content.ReadAsByteArrayAsync());
        var page = await http.GetStringAsync("/");
        Assert.Contains("<input id=\"q\"", page);
    }

    [Fact]
    public void UnderOverloadTheServiceAnswersOrTurnsAwayWithoutServerErrors()
    {
        // Functional only: throughput and memory are the load benchmark's figures (bench serve prints them), not assertions.
        var (code, output, error) = CliProcess.Run("bench", "serve", "--index", fixture.IndexFolder, "--seconds", "6", "--warm-up", "2", "--clients", "16", "--threads", "2");
        Assert.True(code == 0, output + error);
        var figures = output.Split('\n').Single(l => l.StartsWith("bench serve: 5xx", StringComparison.Ordinal));
        Assert.StartsWith("bench serve: 5xx 0, no response 0;", figures);
        // 16 clients against 2 running + 8 queued searches: some are answered, the excess is turned away with 429, never queued without bound.
        Assert.Matches(@"\b200: [1-9]", output);
        Assert.Contains("429:", output);
    }
}
