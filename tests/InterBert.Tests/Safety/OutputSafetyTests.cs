using InterBert.Search;
using InterBert.Tests.Search;

namespace InterBert.Tests.Safety;

/// <summary>
/// Nothing the user owns is lost to a command's output: every command that writes a folder or a file, given a path
/// that holds something else, refuses in one line (exit 1) and leaves it as it was; replacing its own kind stays
/// atomic, and a crash at the swap keeps the old index and the finished work.
/// </summary>
[Collection("Search")]
public sealed class OutputSafetyTests(SearchFixture fixture) : IDisposable
{
    private readonly TempFolder folder = new();

    public void Dispose() => folder.Dispose();

    /// <summary>A folder holding one file of the user's.</summary>
    private string UserFolder(string name)
    {
        var path = Directory.CreateDirectory(folder.File(name)).FullName;
        File.WriteAllText(Path.Combine(path, "keep.txt"), "mine");
        return path;
    }

    private static void AssertRefusedAndKept(string[] args, string path, string keptFile, string keptText)
    {
        var (code, output, error) = CliProcess.Run(args);
        Assert.True(code == 1, $"{string.Join(' ', args)}: exit {code}\n{output}{error}");
        var line = Assert.Single(error.Trim().Split('\n'));
        Assert.Contains(path, line);
        Assert.DoesNotContain("   at ", error);
        Assert.Equal(keptText, File.ReadAllText(keptFile));
    }

    [Fact]
    public void EveryCommandThatWritesAFolderRefusesOneThatHoldsSomethingElse()
    {
        var flickr = Directory.CreateDirectory(folder.File("flickr8k")).FullName;
        File.WriteAllText(Path.Combine(flickr, "Flickr8k.token.txt"), "1.jpg#0\ta dog\n");
        var photos = Directory.CreateDirectory(folder.File("photos")).FullName;
        File.Copy(Directory.GetFiles(SharedData.Path("data", "coco-sample", "images")).Order(StringComparer.Ordinal).First(), Path.Combine(photos, "a.jpg"));
        var commands = new (string Name, Func<string, string[]> Args)[]
        {
            ("index", o => ["index", "--weights", fixture.SearchWeights, "--features", fixture.Features, "--dataset", fixture.Dataset, "--split", "test", "--out", o]),
            ("model export", o => ["model", "export", "--weights", fixture.SearchWeights, "--out", o]),
            ("features", o => ["features", "--images", photos, "--out", o]),
            ("pretrain", o => ["pretrain", "--preset", "tiny", "--features", fixture.Features, "--dataset", fixture.Dataset, "--steps", "1", "--out", o]),
            ("finetune", o => ["finetune", "--task", "retrieval", "--dataset", fixture.Dataset, "--features", fixture.Features, "--init", fixture.SearchWeights, "--steps", "1", "--val-split", "none", "--out", o]),
            ("demo", o => ["demo", "--lang", "zh", "--preset", "tiny", "--images", "60", "--test-images", "24", "--out", o]),
            ("synth", o => ["synth", "--images", "2", "--test-images", "0", "--val-images", "0", "--out", o]),
            ("benchmark flickr8k", o => ["benchmark", "flickr8k", "--data", flickr, "--out", o]),
        };
        foreach (var (name, args) in commands)
        {
            var output = UserFolder(name.Replace(' ', '-'));
            AssertRefusedAndKept(args(output), output, Path.Combine(output, "keep.txt"), "mine");
            Assert.Equal(["keep.txt"], Directory.EnumerateFileSystemEntries(output).Select(Path.GetFileName));
        }
        // The current folder is refused like any other.
        var (code, _, error) = CliProcess.Run("index", "--weights", fixture.SearchWeights, "--features", fixture.Features, "--dataset", fixture.Dataset, "--split", "test", "--out", ".");
        Assert.Equal(1, code);
        Assert.Contains("not empty", error);
    }

    [Fact]
    public void EveryCommandThatWritesAFileRefusesOneThatIsNotItsOwn()
    {
        string UserFile(string name)
        {
            var path = folder.File(name);
            File.WriteAllText(path, "mine");
            return path;
        }
        var corpus = folder.File("corpus.txt");
        File.WriteAllLines(corpus, ["a red circle", "a blue square left of a green triangle"]);
        var commands = new (string File, Func<string, string[]> Args)[]
        {
            ("weights.safetensors", o => ["init", "--from", "minilm", "--preset", "tiny", "--out", o]),
            ("vocab.txt", o => ["vocab", "build", "--corpus", corpus, "--size", "60", "--out", o]),
            ("scores.tsv", o => ["evaluate", "--task", "retrieval", "--dataset", fixture.Dataset, "--split", "test", "--features", fixture.Features, "--weights", fixture.SearchWeights, "--scores-out", o]),
            ("metrics.json", o => ["evaluate", "--task", "retrieval", "--dataset", fixture.Dataset, "--split", "test", "--features", fixture.Features, "--weights", fixture.SearchWeights, "--metrics-out", o]),
            ("pointer.json", o => ["index", "--backend", "postgres", "--connection", "postgres://nobody@127.0.0.1:1/none", "--weights", fixture.SearchWeights, "--features", fixture.Features, "--out", o]),
        };
        foreach (var (name, args) in commands)
        {
            var path = UserFile(name);
            AssertRefusedAndKept(args(path), path, path, "mine");
        }
        // Its own output is replaced: a vocabulary built twice to one file.
        var vocabulary = folder.File("own-vocab.txt");
        for (var k = 0; k < 2; k++)
        {
            var (code, output, error) = CliProcess.Run("vocab", "build", "--corpus", corpus, "--size", "60", "--out", vocabulary);
            Assert.True(code == 0, output + error);
        }
    }

    [Fact]
    public void AModelFolderOrIndexHoldingAFileOfTheUsersIsNotReplaced()
    {
        var exported = folder.File("exported");
        var (code, output, error) = CliProcess.Run("model", "export", "--weights", fixture.SearchWeights, "--out", exported);
        Assert.True(code == 0, output + error);
        // Its own kind is replaced whole...
        (code, output, error) = CliProcess.Run("model", "export", "--weights", fixture.SearchWeights, "--out", exported);
        Assert.True(code == 0, output + error);
        // ...but not with a file of the user's inside, which would go with it.
        File.WriteAllText(Path.Combine(exported, "notes.txt"), "mine");
        AssertRefusedAndKept(["model", "export", "--weights", fixture.SearchWeights, "--out", exported], exported, Path.Combine(exported, "notes.txt"), "mine");
        var index = folder.File("index");
        CopyFolder(fixture.IndexFolder, index);
        File.WriteAllText(Path.Combine(index, "notes.txt"), "mine");
        AssertRefusedAndKept(["index", "--weights", fixture.SearchWeights, "--features", fixture.Features, "--dataset", fixture.Dataset, "--split", "test", "--out", index],
            index, Path.Combine(index, "notes.txt"), "mine");
        // A run folder (with checkpoints) is no model folder to export over.
        var run = UserFolder("run");
        Directory.CreateDirectory(Path.Combine(run, "checkpoints"));
        File.WriteAllText(Path.Combine(run, "config.json"), "{\"model_type\": \"interbert\"}");
        AssertRefusedAndKept(["model", "export", "--weights", fixture.SearchWeights, "--out", run], run, Path.Combine(run, "keep.txt"), "mine");
    }

    [Fact]
    public void ACrashWhileAnIndexIsSwappedInKeepsTheOldIndexAndTheFinishedWork()
    {
        var index = folder.File("index");
        CopyFolder(fixture.IndexFolder, index);
        var before = File.ReadAllBytes(Path.Combine(index, "vectors.f32"));
        var options = new InterBert.Workflows.IndexJobOptions { Weights = fixture.SearchWeights, Features = fixture.Features, Dataset = fixture.Dataset, Split = "test", Output = index, ExactBelow = 5 };
        ImageIndex.BeforeSwap = _ => throw new IOException("simulated crash at the swap");
        try
        {
            Assert.Throws<IOException>(() => InterBert.Workflows.IndexJob.Build(options));
        }
        finally
        {
            ImageIndex.BeforeSwap = null;
        }
        // The old index is whole and opens; the finished vectors wait in the partial folder.
        using (var old = ImageIndex.Open(index))
        {
            Assert.Equal(24, old.Count);
            Assert.Equal(20_000, old.Manifest.ExactBelow);
        }
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(index, "vectors.f32")));
        // Run again: every vector is taken from the earlier run, none computed again, and the new index is in place.
        var result = InterBert.Workflows.IndexJob.Build(options);
        Assert.Equal(24, result.Resumed);
        using (var rebuilt = ImageIndex.Open(index))
            Assert.Equal(5, rebuilt.Manifest.ExactBelow);
        Assert.False(File.Exists(Path.Combine(index, "build.json")));
        Assert.False(Directory.Exists(index + ".partial"));
        Assert.Empty(Directory.GetDirectories(folder.Path, ".index.old-*"));
    }

    [Fact]
    public void TwoWritersOfOneFeatureStoreAreRefused()
    {
        var store = folder.File("store");
        var manifest = new InterBert.Data.FeatureStoreManifest { FeatureSize = 4, DType = "float32", Extractor = "test" };
        using (var first = new InterBert.Data.FeatureStoreWriter(store, manifest))
        {
            var second = Assert.Throws<InterBertException>(() => new InterBert.Data.FeatureStoreWriter(store, manifest));
            Assert.Contains("another process is writing", second.Message);
            Assert.Contains(store, second.Message);
            first.Add(new InterBert.Data.ImageRegions("a", 10, 10, 1, new float[4], new float[5], new float[4], null));
        }
        // Once the first has finished, the store takes the next writer; what the first wrote is there.
        using (var next = new InterBert.Data.FeatureStoreWriter(store, manifest)) Assert.True(next.Contains("a"));
        // And across processes: a features run into a store another process holds is refused in one line.
        using var held = new InterBert.Data.FeatureStoreWriter(store, manifest);
        var photos = Directory.CreateDirectory(folder.File("photos")).FullName;
        File.Copy(Directory.GetFiles(SharedData.Path("data", "coco-sample", "images")).Order(StringComparer.Ordinal).First(), Path.Combine(photos, "b.jpg"));
        var (code, _, error) = CliProcess.Run("features", "--images", photos, "--out", store);
        Assert.Equal(1, code);
        Assert.Contains("another process is writing", error);
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }
}
