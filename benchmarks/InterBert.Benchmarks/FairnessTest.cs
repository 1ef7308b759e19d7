using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace InterBert.Benchmarks;

/// <summary>
/// Fairness of the search service under one flooding client: a steady client (one search a second, from 127.0.0.2)
/// is timed alone, then beside a client that keeps 10 searches in flight (from 127.0.0.1). Each client is a remote
/// address of its own, as the service tells clients apart; every answer is checked against the request's deadline.
/// The flooding client asks again 50 ms after every refusal.
/// </summary>
public static class FairnessTest
{
    /// <summary>What the run measured.</summary>
    public sealed record Result(
        IReadOnlyList<double> SteadyAlone, IReadOnlyList<double> SteadyBesideFlood, IReadOnlyDictionary<int, int> SteadyStatuses,
        IReadOnlyDictionary<int, int> FloodStatuses, int AnsweredAfterDeadline, int NoResponse)
    {
        /// <summary>The steady client's p99 (ms) alone.</summary>
        public double P99Alone => LoadTest.Percentile(SteadyAlone, 0.99);

        /// <summary>The steady client's p99 (ms) beside the flood.</summary>
        public double P99BesideFlood => LoadTest.Percentile(SteadyBesideFlood, 0.99);
    }

    private sealed record Sample(int Status, double Milliseconds);

    /// <summary>Runs the test on a new <c>serve</c> process started with <paramref name="serveArguments"/>.</summary>
    public static Result Run(IReadOnlyList<string> serveArguments, TimeSpan phase, TimeSpan deadline, int flooders, Action<string> log)
    {
        using var server = LoadTest.StartServer([.. serveArguments, "--timeout", deadline.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)], out var address);
        try
        {
            using var steady = Client(address, LoadTest.ClientAddress(0), 4);
            using var flood = Client(address, IPAddress.Loopback, flooders * 2);
            log($"fairness: server {address}; warm-up");
            for (var k = 0; k < 5; k++) _ = Ask(steady, k).GetAwaiter().GetResult();
            log($"fairness: the steady client alone for {phase.TotalSeconds:F0} s, one search a second");
            var alone = Steady(steady, phase);
            log($"fairness: the steady client beside {flooders} searches kept in flight by another client for {phase.TotalSeconds:F0} s");
            using var stop = new CancellationTokenSource();
            var flooding = Enumerable.Range(0, flooders).Select(f => Task.Run(async () =>
            {
                var mine = new List<Sample>();
                for (var n = f; !stop.IsCancellationRequested; n += flooders)
                {
                    var sample = await Ask(flood, n);
                    mine.Add(sample);
                    // Turned away, it asks again 50 ms later (as bench serve's clients do), without waiting the Retry-After.
                    if (sample.Status is 0 or 429 or 503) await Task.Delay(50);
                }
                return mine;
            })).ToArray();
            Thread.Sleep(2000); // the flood reaches its steady state first
            var beside = Steady(steady, phase);
            stop.Cancel();
            Task.WaitAll(flooding);
            var floodSamples = flooding.SelectMany(t => t.Result).ToList();
            var limit = deadline.TotalMilliseconds + 250; // the answer itself may take a moment after the deadline fires
            var all = alone.Concat(beside).Concat(floodSamples).ToList();
            static IReadOnlyDictionary<int, int> Count(IEnumerable<Sample> some) => some.GroupBy(s => s.Status).OrderBy(g => g.Key).ToDictionary(g => g.Key, g => g.Count());
            return new Result(
                alone.Where(s => s.Status == 200).Select(s => s.Milliseconds).Order().ToList(),
                beside.Where(s => s.Status == 200).Select(s => s.Milliseconds).Order().ToList(),
                Count(beside), Count(floodSamples), all.Count(s => s.Status != 0 && s.Milliseconds > limit), all.Count(s => s.Status == 0));
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
            server.WaitForExit(10_000);
        }
    }

    private static List<Sample> Steady(HttpClient http, TimeSpan phase)
    {
        var samples = new List<Sample>();
        var start = Stopwatch.GetTimestamp();
        for (var n = 0; Stopwatch.GetElapsedTime(start) < phase; n++)
        {
            samples.Add(Ask(http, n).GetAwaiter().GetResult());
            var next = TimeSpan.FromSeconds(n + 1) - Stopwatch.GetElapsedTime(start);
            if (next > TimeSpan.Zero) Thread.Sleep(next);
        }
        return samples;
    }

    private static async Task<Sample> Ask(HttpClient http, int n)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await http.GetAsync($"/api/search?k=10&q={Uri.EscapeDataString(LoadTest.Queries[n % LoadTest.Queries.Count])}");
            await response.Content.ReadAsByteArrayAsync();
            return new Sample((int)response.StatusCode, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return new Sample(0, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    /// <summary>A client whose connections come from <paramref name="source"/> (any 127.x.y.z address reaches loopback on Linux).</summary>
    public static HttpClient Client(string address, IPAddress source, int connections) => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = connections,
        ConnectCallback = async (context, cancel) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(source, 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancel);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(120) };
}
