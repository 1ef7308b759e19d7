using System.Text.Json;

namespace InterBert.Data;

/// <summary>
/// Appends image records to a feature store in shards. Each shard (<c>shard-NNNNN.bin</c>) and its index
/// (<c>shard-NNNNN.index.json</c>) are written atomically when full or at the end; records already stored stay
/// as they are, so an interrupted extraction loses at most the current shard and resumes by skipping stored ids.
/// </summary>
public sealed class FeatureStoreWriter : IDisposable
{
    private readonly string folder;
    private readonly int shardSize;
    private readonly List<(ImageRegions Regions, string? Sha256)> pending = [];
    private readonly HashSet<string> stored;
    private readonly FileStream writerLock;

    /// <summary>The lock file a writer holds (an exclusive lock on it) while it writes the store.</summary>
    public const string LockFile = ".writer.lock";

    /// <summary>Opens (or creates) the store at <paramref name="folder"/> for appending; an existing store must have the same layout.</summary>
    public FeatureStoreWriter(string folder, FeatureStoreManifest manifest, int shardSize = 256)
    {
        this.folder = folder;
        this.shardSize = Math.Max(1, shardSize);
        OutputFolder.Claim(folder, "a feature store", FeatureStore.ManifestFile, LockFile);
        Directory.CreateDirectory(folder);
        // Two writers would number their shards alike and overwrite each other's, so features could belong to other
        // images: one writer at a time (an exclusive advisory lock, released when the process ends however it ends).
        try
        {
            writerLock = new FileStream(Path.Combine(folder, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            throw new InterBertException($"{folder}: another process is writing to this feature store; wait for it to finish, or write to another store");
        }
        try
        {
            (Manifest, stored) = OpenOrCreate(folder, manifest);
        }
        catch
        {
            writerLock.Dispose();
            throw;
        }
    }

    private static (FeatureStoreManifest, HashSet<string>) OpenOrCreate(string folder, FeatureStoreManifest manifest)
    {
        var manifestPath = Path.Combine(folder, FeatureStore.ManifestFile);
        if (File.Exists(manifestPath))
        {
            using var existing = FeatureStore.Open(folder);
            var m = existing.Manifest;
            if (m.FeatureSize != manifest.FeatureSize || m.ClassCount != manifest.ClassCount || m.DType != manifest.DType)
                throw new InterBertException($"{manifestPath}: the store holds {m.FeatureSize}-d {m.DType} features with {m.ClassCount} classes; cannot add {manifest.FeatureSize}-d {manifest.DType} with {manifest.ClassCount}");
            if (m.VisualStage != manifest.VisualStage)
                throw new InterBertException($"{manifestPath}: the store's features were computed by {Stage(m.VisualStage)}; cannot add features computed by {Stage(manifest.VisualStage)}");
            if ((m.Regions?.GridAlways ?? false) != (manifest.Regions?.GridAlways ?? false))
                throw new InterBertException($"{manifestPath}: the store's regions were extracted {GridKind(m.Regions)}; cannot add regions extracted {GridKind(manifest.Regions)} (features --grid-always must match the store)");
            if ((m.Regions?.Side ?? RegionSource.DefaultInputSize) != (manifest.Regions?.Side ?? RegionSource.DefaultInputSize))
                throw new InterBertException($"{manifestPath}: the store's photos were resized to {m.Regions?.Side ?? RegionSource.DefaultInputSize} pixels a side; cannot add photos resized to {manifest.Regions?.Side ?? RegionSource.DefaultInputSize} (features --input-size must match the store)");
            return (m, existing.Ids.ToHashSet());
        }
        AtomicFile.WriteAllText(manifestPath, JsonSerializer.Serialize(manifest, FeatureStoreManifest.Json));
        return (manifest, []);
    }

    private static string GridKind(RegionSource? regions) => regions?.GridAlways == true ? "with the grid in every image" : "with the grid only where nothing was detected";

    private static string Stage(string? fingerprint) => fingerprint is null ? "the packaged ResNet-18" : $"a model's fine-tuned CNN stage ({fingerprint})";

    /// <summary>The store's layout.</summary>
    public FeatureStoreManifest Manifest { get; }

    /// <summary>Whether an image is already stored (or pending).</summary>
    public bool Contains(string id) => stored.Contains(id);

    /// <summary>Number of records stored or pending.</summary>
    public int Count => stored.Count;

    /// <summary>
    /// Adds a record (an image already stored is left as it is); writes a shard when enough are pending.
    /// <paramref name="sha256"/> is the SHA-256 of the image file it was extracted from, when there is one.
    /// </summary>
    public void Add(ImageRegions regions, string? sha256 = null) => Put(regions, sha256, replace: false);

    /// <summary>
    /// Adds a record that supersedes the stored one of the same id (a photo whose file changed): readers take the
    /// latest shard's record.
    /// </summary>
    public void Replace(ImageRegions regions, string? sha256 = null) => Put(regions, sha256, replace: true);

    private void Put(ImageRegions regions, string? sha256, bool replace)
    {
        if (regions.FeatureSize != Manifest.FeatureSize)
            throw new InterBertException($"image {regions.Id}: {regions.FeatureSize}-d features do not fit the store's {Manifest.FeatureSize}");
        if (regions.Classes is not null && regions.ClassCount != Manifest.ClassCount)
            throw new InterBertException($"image {regions.Id}: {regions.ClassCount} classes do not fit the store's {Manifest.ClassCount}");
        if (!stored.Add(regions.Id) && !replace) return;
        // A record replaced twice before a flush keeps only its latest version.
        if (replace) pending.RemoveAll(p => p.Regions.Id == regions.Id);
        pending.Add((regions, sha256));
        if (pending.Count >= shardSize) Flush();
    }

    /// <summary>Writes the pending records as a new shard.</summary>
    public void Flush()
    {
        if (pending.Count == 0) return;
        var number = 0;
        while (File.Exists(Path.Combine(folder, ShardName(number) + ".index.json"))) number++;
        var name = ShardName(number);
        var entries = new List<FeatureStoreEntry>();
        AtomicFile.Write(Path.Combine(folder, name + ".bin"), temporary =>
        {
            using var stream = new BufferedStream(File.Create(temporary), 1 << 20);
            using var writer = new BinaryWriter(stream);
            foreach (var (record, sha256) in pending)
            {
                entries.Add(new FeatureStoreEntry(record.Id, stream.Position, record.RegionCount, record.Width, record.Height, record.Classes is not null, sha256));
                foreach (var v in record.Boxes) writer.Write(v);
                foreach (var v in record.Locations) writer.Write(v);
                if (Manifest.DType == "float16") foreach (var v in record.Features) writer.Write((Half)v);
                else foreach (var v in record.Features) writer.Write(v);
                if (record.Classes is not null) foreach (var v in record.Classes) writer.Write(v);
            }
        });
        // The index is written last: a shard without an index is incomplete and is ignored by readers.
        AtomicFile.WriteAllText(Path.Combine(folder, name + ".index.json"), JsonSerializer.Serialize(entries));
        pending.Clear();
    }

    private static string ShardName(int number) => $"shard-{number:D5}";

    /// <inheritdoc/>
    public void Dispose()
    {
        try
        {
            Flush();
        }
        finally
        {
            writerLock.Dispose();
        }
    }
}
