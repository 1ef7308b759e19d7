using InterBert.Data;

namespace InterBert.Tests.Data;

public class FeatureStoreTests
{
    private static ImageRegions Record(string id, int regions, int seed, bool classes = true)
    {
        var random = new Random(seed);
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)random.NextDouble()).ToArray();
        return new ImageRegions(id, 640, 480, regions, Values(regions * 4), Values(regions * 5), Values(regions * 8), classes ? Values(regions * 3) : null);
    }

    private static FeatureStoreManifest Manifest(string dtype = "float32") => new() { FeatureSize = 8, ClassCount = 3, DType = dtype };

    [Theory]
    [InlineData("float32")]
    [InlineData("float16")]
    public void RecordsRoundTripAcrossShards(string dtype)
    {
        using var folder = new TempFolder();
        var records = Enumerable.Range(0, 7).Select(i => Record($"img{i}", 1 + i % 4, i, classes: i != 3)).ToList();
        using (var writer = new FeatureStoreWriter(folder.Path, Manifest(dtype), shardSize: 3))
            foreach (var r in records) writer.Add(r);
        using var store = FeatureStore.Open(folder.Path);
        Assert.Equal(7, store.Count);
        Assert.Equal(3, store.ShardCount);
        foreach (var expected in records)
        {
            var actual = store.Read(expected.Id);
            Assert.Equal(expected.RegionCount, actual.RegionCount);
            Assert.Equal(expected.Boxes, actual.Boxes);
            Assert.Equal(expected.Locations, actual.Locations);
            var tolerance = dtype == "float16" ? 1e-3 : 0;
            Assert.All(expected.Features.Zip(actual.Features), p => Assert.True(Math.Abs(p.First - p.Second) <= tolerance));
            Assert.Equal(expected.Classes, actual.Classes);
        }
        Assert.Contains("no features for image nope", Assert.Throws<InterBertException>(() => store.Read("nope")).Message);
    }

    [Fact]
    public void ReopeningSkipsStoredImagesAndRefusesAnotherLayout()
    {
        using var folder = new TempFolder();
        using (var writer = new FeatureStoreWriter(folder.Path, Manifest())) writer.Add(Record("a", 2, 1));
        using (var writer = new FeatureStoreWriter(folder.Path, Manifest()))
        {
            Assert.True(writer.Contains("a"));
            writer.Add(Record("a", 5, 9)); // ignored: already stored
            writer.Add(Record("b", 2, 2));
        }
        using (var store = FeatureStore.Open(folder.Path))
        {
            Assert.Equal(2, store.Count);
            Assert.Equal(2, store.Read("a").RegionCount);
        }
        var error = Assert.Throws<InterBertException>(() => new FeatureStoreWriter(folder.Path, Manifest() with { FeatureSize = 16 }));
        Assert.Contains("8-d", error.Message);
    }

    [Fact]
    public void CorruptedIndexIsAClearErrorAndLeavesOtherShardsIntact()
    {
        using var folder = new TempFolder();
        using (var writer = new FeatureStoreWriter(folder.Path, Manifest(), shardSize: 1))
        {
            writer.Add(Record("a", 2, 1));
            writer.Add(Record("b", 2, 2));
        }
        var firstShard = File.ReadAllBytes(folder.File("shard-00000.bin"));
        var index = folder.File("shard-00001.index.json");
        File.WriteAllText(index, "[{\"id\": \"b\", \"offset\": 99999, \"regi");
        var error = Assert.Throws<InterBertException>(() => FeatureStore.Open(folder.Path));
        Assert.Contains(index, error.Message);
        Assert.Contains("corrupt shard index", error.Message);
        File.WriteAllText(index, "[{\"id\": \"b\", \"offset\": 99999, \"regions\": 2, \"width\": 5, \"height\": 5, \"has_classes\": true}]");
        Assert.Contains("points outside", Assert.Throws<InterBertException>(() => FeatureStore.Open(folder.Path)).Message);
        Assert.Equal(firstShard, File.ReadAllBytes(folder.File("shard-00000.bin")));
    }

    [Fact]
    public void BottomUpTsvImports()
    {
        using var folder = new TempFolder();
        static string B64(float[] v) { var b = new byte[v.Length * 4]; Buffer.BlockCopy(v, 0, b, 0, b.Length); return Convert.ToBase64String(b); }
        var boxes = new float[] { 0, 0, 10, 20, 5, 5, 15, 15 };
        var features = Enumerable.Range(0, 2 * 6).Select(i => (float)i).ToArray();
        File.WriteAllText(folder.File("f.tsv"), $"42\t100\t50\t2\t{B64(boxes)}\t{B64(features)}\n43\t100\t50\t2\t{B64(boxes)}\tnot-base64!\n");
        var error = Assert.Throws<InterBertException>(() => BottomUpTsvReader.Import(folder.File("f.tsv"), folder.File("store"), false, 10));
        Assert.Contains("line 2", error.Message);
        // The good line before the bad one was kept; importing again adds nothing twice.
        File.WriteAllLines(folder.File("f.tsv"), File.ReadAllLines(folder.File("f.tsv")).Take(1));
        Assert.Equal(0, BottomUpTsvReader.Import(folder.File("f.tsv"), folder.File("store"), false, 10));
        using var store = FeatureStore.Open(folder.File("store"));
        var record = store.Read("42");
        Assert.Equal(6, record.FeatureSize);
        Assert.Equal(features, record.Features);
        Assert.Equal([0f, 0f, 0.1f, 0.4f, 0.04f], record.Locations[..5]);
    }

    [Fact]
    public void EpochOrderIsAReproduciblePermutation()
    {
        var a = EpochOrder.Permutation(100, 7, 3);
        Assert.Equal(a, EpochOrder.Permutation(100, 7, 3));
        Assert.NotEqual(a, EpochOrder.Permutation(100, 7, 4));
        Assert.Equal(Enumerable.Range(0, 100), a.Order());
    }
}
