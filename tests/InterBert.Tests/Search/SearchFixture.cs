using System.Diagnostics;

namespace InterBert.Tests.Search;

/// <summary>
/// A tiny Chinese demo run (synthetic scenes, a contrastive fine-tuned tiny model and its index of the test scenes),
/// made once for the search tests, and a <c>serve</c> process on that index started on first use.
/// </summary>
public sealed class SearchFixture : IDisposable
{
    private readonly TempFolder folder = new();
    private readonly Lazy<(Process Process, string Address)> server;
    private readonly Lazy<PostgresCluster> database = new(() => new PostgresCluster());

    public SearchFixture()
    {
        var (code, output, error) = CliProcess.Run(
            "demo", "--lang", "zh", "--preset", "tiny", "--out", folder.Path, "--images", "60", "--test-images", "24",
            "--pretrain-steps", "4", "--finetune-steps", "12", "--threads", "2", "--precision", "fp32");
        if (code != 0) throw new InvalidOperationException($"the demo for the search tests failed: {output}{error}");
        server = new Lazy<(Process, string)>(StartServer);
    }

    public string Folder => folder.Path;
    public string IndexFolder => Path.Combine(folder.Path, "index");
    public string SearchWeights => Path.Combine(folder.Path, "finetune-pretrained", "last.safetensors");
    /// <summary>The model folder the demo's index was built with (its best weights, with their relevance calibration).</summary>
    public string IndexedModel => Path.Combine(folder.Path, "finetune-pretrained");
    public string OtherWeights => Path.Combine(folder.Path, "finetune-baseline", "last.safetensors");
    public string Features => Path.Combine(folder.Path, "features");
    public string Dataset => Path.Combine(folder.Path, "scenes", "dataset.zh.json");

    /// <summary>A throwaway PostgreSQL cluster, started on first use and shared by the database tests (their tables differ).</summary>
    public PostgresCluster Database => database.Value;

    /// <summary>The base address of the shared server, e.g. http://127.0.0.1:41234.</summary>
    public string ServerAddress => server.Value.Address;

    /// <summary>Whether the shared server process is still running.</summary>
    public bool ServerRunning => server.IsValueCreated && !server.Value.Process.HasExited;

    private (Process, string) StartServer() => CliProcess.StartServer("--index", IndexFolder, "--port", "0", "--threads", "2");

    public void Dispose()
    {
        if (server.IsValueCreated && !server.Value.Process.HasExited)
        {
            server.Value.Process.Kill(true);
            server.Value.Process.WaitForExit(10_000);
        }
        if (database.IsValueCreated) database.Value.Dispose();
        folder.Dispose();
    }
}

[CollectionDefinition("Search")]
public sealed class SearchCollection : ICollectionFixture<SearchFixture>;
