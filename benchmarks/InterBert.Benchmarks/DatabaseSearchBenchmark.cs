using System.Diagnostics;
using System.Numerics.Tensors;
using InterBert.Cli;
using InterBert.Search;

namespace InterBert.Benchmarks;

/// <summary>
/// <c>bench search --backend postgres</c>: the first stage of search at scale, the database index (pgvector HNSW)
/// next to the folder index (USearch HNSW, and its exact memory-mapped scan), on the same synthetic vectors: build
/// time, latency p50/p99 per query and recall@K against exact search.
/// </summary>
public static class DatabaseSearchBenchmark
{
    /// <summary>What to measure.</summary>
    public sealed record Options(string Connection, string Work, int Vectors, int Dimension, int Queries, int Candidates, int Seed, bool Uniform = false);

    /// <summary>Runs the measurement and prints it; returns the exit code.</summary>
    public static int Run(Options options, Action<string> log)
    {
        var random = new Random(options.Seed);
        // Clustered vectors, as embeddings are: 1,000 centres, each vector a centre plus noise, normalised; or, the hard
        // case for any graph index, directions uniformly at random.
        var centres = Enumerable.Range(0, 1000).Select(_ => Gaussian(random, options.Dimension, 1f)).ToArray();
        float[] Draw()
        {
            var v = Gaussian(random, options.Dimension, 0.6f);
            if (!options.Uniform) TensorPrimitives.Add(v, centres[random.Next(centres.Length)], v);
            TensorPrimitives.Divide(v, TensorPrimitives.Norm(v), v);
            return v;
        }
        var vectors = Enumerable.Range(0, options.Vectors).Select(_ => Draw()).ToArray();
        var queries = Enumerable.Range(0, options.Queries).Select(_ => Draw()).ToArray();
        var images = Enumerable.Range(0, options.Vectors).Select(i => new IndexedImage($"v{i}", null)).ToList();
        var manifest = new ImageIndexManifest
        {
            Weights = "synthetic", WeightsSha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes(options.Seed))),
            Features = options.Uniform ? "synthetic-uniform" : "synthetic", Dimension = options.Dimension, ExactBelow = 0,
        };
        log($"bench search --backend postgres: {options.Vectors:N0} synthetic {options.Dimension}-d vectors ({(options.Uniform ? "uniformly random directions" : "clustered")}), {options.Queries} queries, K = {options.Candidates}");

        var folder = Path.Combine(Directory.CreateDirectory(options.Work).FullName, $"vectors-{options.Vectors}-{options.Dimension}-seed{options.Seed}{(options.Uniform ? "-uniform" : "")}");
        var watch = Stopwatch.StartNew();
        if (!File.Exists(Path.Combine(folder, ImageIndex.ManifestFile)))
        {
            var built = ProgressDisplay.Run("folder index", (progress, cancel) => ImageIndex.WriteVectors(folder, manifest, images, i => vectors[i],
                new Progress<(int Done, int Total)>(p => progress.Report(new ProgressDisplay.Update(p.Done, p.Total, "vectors"))), cancel));
            if (built.Cancelled) return 130;
            log($"  folder index built in {watch.Elapsed.TotalSeconds:F0} s (vectors and USearch graph)");
        }
        var location = PostgresIndexLocation.Parse(options.Connection, $"bench_{options.Vectors}_{options.Dimension}_{options.Seed}{(options.Uniform ? "_uniform" : "")}");
        watch.Restart();
        if (!Built(location, manifest, options.Vectors))
        {
            var written = ProgressDisplay.Run("database index", (progress, cancel) => PostgresImageIndex.WriteVectors(location, manifest, images, i => vectors[i], append: false,
                new Progress<(int Done, int Total)>(p => progress.Report(new ProgressDisplay.Update(p.Done, p.Total, "vectors"))), cancel));
            if (written.Cancelled) return 130;
            log($"  database index built in {watch.Elapsed.TotalSeconds:F0} s (COPY and pgvector's HNSW index, m = {manifest.Connectivity}, ef_construction = {manifest.ExpansionAdd})");
        }

        using var onDisk = ImageIndex.Open(folder);
        using var database = PostgresImageIndex.Open(location);
        var exact = queries.Select(q => onDisk.NearestImages(q, options.Candidates, SearchMode.Exact).Select(h => h.Image.Id).ToHashSet()).ToList();
        foreach (var (name, index, mode) in new (string, IImageVectorIndex, SearchMode)[]
        {
            ("folder, exact scan", onDisk, SearchMode.Exact), ("folder, USearch HNSW", onDisk, SearchMode.Approximate),
            ("postgres, exact scan", database, SearchMode.Exact), ("postgres, pgvector HNSW", database, SearchMode.Approximate),
        })
        {
            index.NearestImages(queries[0], options.Candidates, mode); // warm-up
            var times = new List<double>(queries.Length);
            double found = 0;
            for (var q = 0; q < queries.Length; q++)
            {
                var started = Stopwatch.GetTimestamp();
                var hits = index.NearestImages(queries[q], options.Candidates, mode);
                times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                found += hits.Count(h => exact[q].Contains(h.Image.Id));
            }
            times.Sort();
            log($"  {name,-24} first stage p50 {LoadTest.Percentile(times, 0.5),7:F2} ms, p99 {LoadTest.Percentile(times, 0.99),7:F2} ms; recall@{options.Candidates} {100 * found / (queries.Length * options.Candidates):F1}%");
        }
        return 0;
    }

    /// <summary>Whether an earlier run left this index in the database (same vectors, all of them): then it is reused.</summary>
    private static bool Built(PostgresIndexLocation location, ImageIndexManifest manifest, int count)
    {
        try
        {
            using var index = PostgresImageIndex.Open(location);
            return index.Manifest.WeightsSha256 == manifest.WeightsSha256 && index.Count == count;
        }
        catch (InterBertException)
        {
            return false;
        }
    }

    private static float[] Gaussian(Random random, int dimension, float scale)
    {
        var v = new float[dimension];
        for (var d = 0; d < dimension; d++)
            v[d] = scale * (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        return v;
    }
}
