using System.Diagnostics;
using InterBert.Cli;
using System.Net;

namespace InterBert.Benchmarks;

/// <summary>
/// A bounded load test of the search service: starts <c>serve</c> on an index in a child process (so its memory is
/// its own), warms it up, then runs loopback clients for a fixed time and reports statuses, latency percentiles and
/// the server's resident memory after warm-up and after the load.
/// </summary>
public static class LoadTest
{
    /// <summary>What a run measured.</summary>
    public sealed record Result(
        int Requests, IReadOnlyDictionary<int, int> ByStatus, int ServerErrors, int Failures, double P50Milliseconds, double P99Milliseconds,
        double RequestsPerSecond, double ResidentAfterWarmUpMiB, double ResidentAfterLoadMiB)
    {
        /// <summary>Change of resident memory from warm-up to the end of the load, in percent.</summary>
        public double ResidentChangePercent => 100 * (ResidentAfterLoadMiB / ResidentAfterWarmUpMiB - 1);
    }

    /// <summary>Queries the clients cycle through (English and Chinese, short and long).</summary>
    public static readonly IReadOnlyList<string> Queries =
    [
        "a red circle", "two blue squares", "a small green triangle left of a large yellow star", "an image with a purple square",
        "a large red star above a small blue circle", "three objects", "一个红色的圆", "两个蓝色的正方形", "a yellow triangle below a green circle",
        "a blue star", "一个小的绿色三角形在一个大的黄色星星左边", "four objects: a red circle, a blue square, a green triangle and a yellow star",
    ];

    /// <summary>Runs the test against a new <c>serve</c> process started with <paramref name="serveArguments"/> (without the port).</summary>
    public static Result Run(IReadOnlyList<string> serveArguments, TimeSpan warmUp, TimeSpan load, int clients, Action<string> log)
    {
        using var server = StartServer(serveArguments, out var address);
        try
        {
            log($"load: server {address} (pid {server.Id}); warm-up {warmUp.TotalSeconds:F0} s with {clients} clients");
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients * 2, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
            {
                BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(60),
            };
            Drive(http, warmUp, clients);
            Thread.Sleep(500);
            var before = ResidentMiB(server);
            log($"load: resident after warm-up {before:F1} MiB; load {load.TotalSeconds:F0} s with {clients} clients");
            var samples = Drive(http, load, clients);
            Thread.Sleep(500);
            var after = ResidentMiB(server);
            var latencies = samples.Where(s => s.Status == 200).Select(s => s.Milliseconds).Order().ToArray();
            var byStatus = samples.GroupBy(s => s.Status).OrderBy(g => g.Key).ToDictionary(g => g.Key, g => g.Count());
            return new Result(
                samples.Count, byStatus, samples.Count(s => s.Status >= 500), samples.Count(s => s.Status == 0),
                Percentile(latencies, 0.50), Percentile(latencies, 0.99), samples.Count / load.TotalSeconds, before, after);
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
            server.WaitForExit(10_000);
        }
    }

    /// <summary>The value at fraction <paramref name="q"/> of sorted values (nearest rank), 0 when empty.</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double q) =>
        sorted.Count == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static List<(int Status, double Milliseconds)> Drive(HttpClient http, TimeSpan duration, int clients)
    {
        var until = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var results = new List<(int, double)>[clients];
        var tasks = Enumerable.Range(0, clients).Select(client => Task.Run(async () =>
        {
            var mine = results[client] = [];
            for (var n = client; Stopwatch.GetTimestamp() < until; n += clients)
            {
                var query = Queries[n % Queries.Count];
                var started = Stopwatch.GetTimestamp();
                int status;
                try
                {
                    using var response = await http.GetAsync($"/api/search?k=10&q={Uri.EscapeDataString(query)}");
                    await response.Content.ReadAsByteArrayAsync();
                    status = (int)response.StatusCode;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    status = 0; // no response at all: counted as a failure
                }
                mine.Add((status, Stopwatch.GetElapsedTime(started).TotalMilliseconds));
                if (status == (int)HttpStatusCode.TooManyRequests) await Task.Delay(50);
            }
        })).ToArray();
        Task.WaitAll(tasks);
        return results.SelectMany(r => r).ToList();
    }

    private static Process StartServer(IReadOnlyList<string> serveArguments, out string address)
    {
        var info = SelfProcess.StartInfo(["serve", .. serveArguments, "--port", "0"]);
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        var process = Process.Start(info) ?? throw new InterBertException("cannot start the server process");
        var errors = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (errors) errors.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (DateTime.UtcNow < deadline)
        {
            var line = process.StandardOutput.ReadLine();
            if (line is null) break;
            const string marker = "listening on ";
            var at = line.IndexOf(marker, StringComparison.Ordinal);
            if (at < 0) continue;
            address = line[(at + marker.Length)..].Split(' ')[0];
            // Keep draining the server's output so it never blocks on a full pipe.
            _ = Task.Run(() => { while (process.StandardOutput.ReadLine() is not null) { } });
            return process;
        }
        if (!process.HasExited) process.Kill(true);
        process.WaitForExit();
        lock (errors) throw new InterBertException($"the server did not start: {errors.ToString().Trim()}");
    }

    private static double ResidentMiB(Process process)
    {
        foreach (var line in File.ReadLines($"/proc/{process.Id}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0;
        process.Refresh();
        return process.WorkingSet64 / 1048576.0;
    }
}
