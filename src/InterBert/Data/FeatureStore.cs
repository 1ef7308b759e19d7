using System.IO.MemoryMappedFiles;
using System.Text.Json;

namespace InterBert.Data;

/// <summary>
/// Reads a feature store: <c>store.json</c> (layout), shards <c>shard-NNNNN.bin</c> (records back to back:
/// boxes float32 [R, 4], locations float32 [R, 5], features float16/float32 [R, D], class distributions float32
/// [R, C] when present) and their indexes <c>shard-NNNNN.index.json</c> (id, offset, regions, width, height).
/// Shards are memory-mapped; reading is thread-safe.
/// </summary>
public sealed class FeatureStore : IDisposable
{
    /// <summary>File name of the layout description.</summary>
    public const string ManifestFile = "store.json";
    private readonly Dictionary<string, FeatureStoreEntry> entries = new();
    private readonly Dictionary<string, (MemoryMappedFile File, MemoryMappedViewAccessor View)> shards = new();

    private FeatureStore(string folder, FeatureStoreManifest manifest)
    {
        Folder = folder;
        Manifest = manifest;
    }

    /// <summary>The store's folder.</summary>
    public string Folder { get; }
    /// <summary>The store's layout.</summary>
    public FeatureStoreManifest Manifest { get; }
    /// <summary>Stored image ids.</summary>
    public IEnumerable<string> Ids => entries.Keys;
    /// <summary>Number of stored images.</summary>
    public int Count => entries.Count;
    /// <summary>Number of shards.</summary>
    public int ShardCount => shards.Count;
    /// <summary>Index entries.</summary>
    public IEnumerable<FeatureStoreEntry> Entries => entries.Values;

    /// <summary>Opens a store; a missing or corrupt file gives an error naming it.</summary>
    public static FeatureStore Open(string folder)
    {
        var store = new FeatureStore(folder, ReadManifest(folder));
        try
        {
            foreach (var indexPath in Directory.GetFiles(folder, "shard-*.index.json").Order())
                store.AddShard(indexPath);
        }
        catch
        {
            store.Dispose();
            throw;
        }
        return store;
    }

    /// <summary>A store's description alone, without reading its shards; a missing or corrupt file gives an error naming it.</summary>
    public static FeatureStoreManifest ReadManifest(string folder)
    {
        var manifestPath = Path.Combine(folder, ManifestFile);
        if (!File.Exists(manifestPath)) throw new InterBertException($"{folder}: not a feature store (no {ManifestFile})");
        FeatureStoreManifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<FeatureStoreManifest>(File.ReadAllText(manifestPath)) ?? throw new JsonException("empty");
        }
        catch (JsonException e)
        {
            throw new InterBertException($"{manifestPath}: corrupt store description ({e.Message.Split('\n')[0]})");
        }
        if (manifest.Format != "interbert-features" || manifest.FeatureSize <= 0 || manifest.DType is not ("float16" or "float32"))
            throw new InterBertException($"{manifestPath}: not an interbert feature store description");
        return manifest;
    }

    private void AddShard(string indexPath)
    {
        var shardName = Path.GetFileName(indexPath)[..^".index.json".Length] + ".bin";
        var shardPath = Path.Combine(Folder, shardName);
        if (!File.Exists(shardPath)) throw new InterBertException($"{indexPath}: its shard {shardName} is missing");
        List<FeatureStoreEntry> shardEntries;
        try
        {
            shardEntries = JsonSerializer.Deserialize<List<FeatureStoreEntry>>(File.ReadAllText(indexPath)) ?? throw new JsonException("empty");
        }
        catch (JsonException e)
        {
            throw new InterBertException($"{indexPath}: corrupt shard index ({e.Message.Split('\n')[0]})");
        }
        var length = new FileInfo(shardPath).Length;
        foreach (var entry in shardEntries)
        {
            if (entry is null || entry.Id is null || entry.Regions <= 0 || entry.Offset < 0 || entry.Width <= 0 || entry.Height <= 0
                || entry.Offset + Manifest.RecordBytes(entry.Regions, entry.HasClasses) > length)
                throw new InterBertException($"{indexPath}: corrupt shard index (entry {entry?.Id ?? "?"} points outside {shardName} of {length} bytes)");
            entries[entry.Id] = entry with { Shard = shardName };
        }
        if (length == 0) return;
        var file = MemoryMappedFile.CreateFromFile(shardPath, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        shards[shardName] = (file, file.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read));
    }

    /// <summary>
    /// Takes in the shards written since the store was opened (by a <c>features</c> run extending it); returns how many
    /// images were added. Not to be called while another thread reads the store.
    /// </summary>
    public int AddNewShards()
    {
        var before = entries.Count;
        foreach (var indexPath in Directory.GetFiles(Folder, "shard-*.index.json").Order())
            if (!shards.ContainsKey(Path.GetFileName(indexPath)[..^".index.json".Length] + ".bin")) AddShard(indexPath);
        return entries.Count - before;
    }

        /// <summary>Whether an image is stored.</summary>
    public bool Contains(string id) => entries.ContainsKey(id);

    /// <summary>The SHA-256 of the file an image's features were extracted from, or null when the store does not know it (or holds no such image).</summary>
    public string? Sha256Of(string id) => entries.TryGetValue(id, out var entry) ? entry.Sha256 : null;

    /// <summary>Reads an image's regions; an unknown id gives an error naming the store.</summary>
    public ImageRegions Read(string id)
    {
        if (!entries.TryGetValue(id, out var entry)) throw new InterBertException($"{Folder}: no features for image {id}");
        var view = shards[entry.Shard].View;
        var r = entry.Regions;
        var offset = entry.Offset;
        float[] ReadFloats(int count)
        {
            var values = new float[count];
            view.ReadArray(offset, values, 0, count);
            offset += count * 4L;
            return values;
        }
        var boxes = ReadFloats(r * 4);
        var locations = ReadFloats(r * 5);
        float[] features;
        if (Manifest.DType == "float16")
        {
            var halves = new Half[r * Manifest.FeatureSize];
            view.ReadArray(offset, halves, 0, halves.Length);
            offset += halves.Length * 2L;
            features = Array.ConvertAll(halves, h => (float)h);
        }
        else
        {
            features = ReadFloats(r * Manifest.FeatureSize);
        }
        var classes = entry.HasClasses ? ReadFloats(r * Manifest.ClassCount) : null;
        return new ImageRegions(id, entry.Width, entry.Height, r, boxes, locations, features, classes);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var (file, view) in shards.Values)
        {
            view.Dispose();
            file.Dispose();
        }
        shards.Clear();
    }
}
