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
    /// <summary>What a run measured (memory: of the first server).</summary>
    public sealed record Result(
        int Requests, IReadOnlyDictionary<int, int> ByStatus, int ServerErrors, int Failures, double P50Milliseconds, double P99Milliseconds,
        double RequestsPerSecond, double ResidentAfterWarmUpMiB, double ResidentAfterLoadMiB)
    {
        /// <summary>Change of resident memory from warm-up to the end of the load, in percent.</summary>
        public double ResidentChangePercent => 100 * (ResidentAfterLoadMiB / ResidentAfterWarmUpMiB - 1);

        /// <summary>Requests answered 200 by each server, in order.</summary>
        public IReadOnlyList<int> AnsweredByServer { get; init; } = [];

        /// <summary>With an outage: statuses before it, during it and after it.</summary>
        public IReadOnlyList<(string Phase, IReadOnlyDictionary<int, int> ByStatus)> Phases { get; init; } = [];
    }

    /// <summary>Shell commands run a third and two thirds into the load: take the index's database down, and bring it back.</summary>
    public sealed record Outage(string Stop, string Start);

    /// <summary>Queries the clients cycle through (English and Chinese, short and long).</summary>
    public static readonly IReadOnlyList<string> Queries =
    [
        "a red circle", "two blue squares", "a small green triangle left of a large yellow star", "an image with a purple square",
        "a large red star above a small blue circle", "three objects", "一个红色的圆", "两个蓝色的正方形", "a yellow triangle below a green circle",
        "a blue star", "一个小的绿色三角形在一个大的黄色星星左边", "four objects: a red circle, a blue square, a green triangle and a yellow star",
    ];

    /// <summary>
    /// Runs the test against <paramref name="servers"/> new <c>serve</c> processes started with <paramref name="serveArguments"/>
    /// (without the port), client c asking server c mod N; with <paramref name="outage"/>, its commands run during the load.
    /// </summary>
    public static Result Run(IReadOnlyList<string> serveArguments, TimeSpan warmUp, TimeSpan load, int clients, Action<string> log, int servers = 1, Outage? outage = null)
    {
        var started = new List<Process>();
        try
        {
            var addresses = new List<string>();
            for (var n = 0; n < Math.Max(1, servers); n++)
            {
                started.Add(StartServer(serveArguments, out var address));
                addresses.Add(address);
            }
            log($"load: {(addresses.Count == 1 ? "server" : "servers")} {string.Join(", ", addresses.Select((a, n) => $"{a} (pid {started[n].Id})"))}; warm-up {warmUp.TotalSeconds:F0} s with {clients} clients");
            // Each client is a user of its own (its own loopback address), as the service's per-client shares see users.
            var https = Enumerable.Range(0, clients).Select(c => FairnessTest.Client(addresses[c % addresses.Count], ClientAddress(c), 2)).ToList();
            Drive(https, addresses.Count, warmUp, clients, null, log);
            Thread.Sleep(500);
            var before = ResidentMiB(started[0]);
            log($"load: resident after warm-up {before:F1} MiB; load {load.TotalSeconds:F0} s with {clients} clients{(outage is null ? "" : "; the database goes down at a third and comes back at two thirds")}");
            var (samples, stoppedAt, restartedAt) = Drive(https, addresses.Count, load, clients, outage, log);
            Thread.Sleep(500);
            var after = ResidentMiB(started[0]);
            foreach (var http in https) http.Dispose();
            var latencies = samples.Where(s => s.Status == 200).Select(s => s.Milliseconds).Order().ToArray();
            static IReadOnlyDictionary<int, int> Count(IEnumerable<Sample> some) => some.GroupBy(s => s.Status).OrderBy(g => g.Key).ToDictionary(g => g.Key, g => g.Count());
            return new Result(
                samples.Count, Count(samples), samples.Count(s => s.Status >= 500), samples.Count(s => s.Status == 0),
                Percentile(latencies, 0.50), Percentile(latencies, 0.99), samples.Count / load.TotalSeconds, before, after)
            {
                AnsweredByServer = Enumerable.Range(0, addresses.Count).Select(n => samples.Count(s => s.Server == n && s.Status == 200)).ToList(),
                Phases = outage is null ? [] :
                [
                    ("before the outage", Count(samples.Where(s => s.Started < stoppedAt))),
                    ("database down", Count(samples.Where(s => s.Started >= stoppedAt && s.Started < restartedAt))),
                    ("after it came back", Count(samples.Where(s => s.Started >= restartedAt))),
                ],
            };
        }
        finally
        {
            foreach (var server in started)
            {
                if (!server.HasExited) server.Kill(entireProcessTree: true);
                server.WaitForExit(10_000);
                server.Dispose();
            }
        }
    }

    /// <summary>The value at fraction <paramref name="q"/> of sorted values (nearest rank), 0 when empty.</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double q) =>
        sorted.Count == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];

    private sealed record Sample(int Status, double Milliseconds, int Server, long Started);

    /// <summary>Client <paramref name="client"/>'s source address: 127.0.0.2, 127.0.0.3, ... (all of 127/8 reaches loopback on Linux).</summary>
    public static IPAddress ClientAddress(int client) => new([127, (byte)(client / 250), (byte)(client % 250), 2]);

    private static (List<Sample> Samples, long StoppedAt, long RestartedAt) Drive(IReadOnlyList<HttpClient> https, int servers, TimeSpan duration, int clients, Outage? outage, Action<string> log)
    {
        var begin = Stopwatch.GetTimestamp();
        var until = begin + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var results = new List<Sample>[clients];
        var tasks = Enumerable.Range(0, clients).Select(client => Task.Run(async () =>
        {
            var mine = results[client] = [];
            var server = client % servers;
            for (var n = client; Stopwatch.GetTimestamp() < until; n += clients)
            {
                var query = Queries[n % Queries.Count];
                var started = Stopwatch.GetTimestamp();
                int status;
                try
                {
                    using var response = await https[client].GetAsync($"/api/search?k=10&q={Uri.EscapeDataString(query)}");
                    await response.Content.ReadAsByteArrayAsync();
                    status = (int)response.StatusCode;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    status = 0; // no response at all: counted as a failure
                }
                mine.Add(new Sample(status, Stopwatch.GetElapsedTime(started).TotalMilliseconds, server, started));
                if (status is (int)HttpStatusCode.TooManyRequests or (int)HttpStatusCode.ServiceUnavailable) await Task.Delay(50);
            }
        })).ToArray();
        long stoppedAt = long.MaxValue, restartedAt = long.MaxValue;
        if (outage is not null)
        {
            var third = (long)(duration.TotalSeconds * Stopwatch.Frequency / 3);
            Thread.Sleep(TimeSpan.FromSeconds(duration.TotalSeconds / 3));
            stoppedAt = Stopwatch.GetTimestamp();
            Shell(outage.Stop, log);
            var resumeAt = begin + 2 * third;
            while (Stopwatch.GetTimestamp() < resumeAt) Thread.Sleep(20);
            Shell(outage.Start, log);
            restartedAt = Stopwatch.GetTimestamp();
        }
        Task.WaitAll(tasks);
        return (results.SelectMany(r => r).ToList(), stoppedAt, restartedAt);
    }

    private static void Shell(string command, Action<string> log)
    {
        var info = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(command);
        using var process = Process.Start(info) ?? throw new InterBertException($"cannot run: {command}");
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        log($"load: ran '{command}' (exit {process.ExitCode}){(output.Trim().Length > 0 ? ": " + output.Trim().Split('\n')[0] : "")}");
        if (process.ExitCode != 0) throw new InterBertException($"'{command}' failed (exit {process.ExitCode}): {output.Trim()}");
    }

    /// <summary>Starts a <c>serve</c> process on any free port and returns it, with the address it listens on, once it does.</summary>
    public static Process StartServer(IReadOnlyList<string> serveArguments, out string address)
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
