using System.IO.MemoryMappedFiles;
using System.Security.Cryptography;
using System.Text.Json;
using Cloud.Unum.USearch;
using InterBert.Data;
using InterBert.Modeling;
using InterBert.Weights;
using static TorchSharp.torch;

namespace InterBert.Search;

/// <summary>
/// An index of image vectors (the image-only pooled output of one model) in a folder: <c>index.json</c> (the model's
/// SHA-256, the feature store, the search settings), <c>images.jsonl</c> (id and image file of each position),
/// <c>vectors.f32</c> (normalised float32 vectors, memory-mapped for exact search) and <c>graph.usearch</c> (a USearch
/// HNSW graph, memory-mapped for approximate search). Searching is thread-safe.
/// </summary>
public sealed unsafe class ImageIndex : IImageVectorIndex
{
    /// <summary>File name of the description.</summary>
    public const string ManifestFile = "index.json";
    private const string ImagesFile = "images.jsonl";
    private const string VectorsFile = "vectors.f32";
    private const string GraphFile = "graph.usearch";
    private const string BuildFile = "build.json";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    private readonly MemoryMappedFile? vectorFile;
    private readonly MemoryMappedViewAccessor? vectorView;
    private readonly byte* vectors;
    private readonly Lazy<USearchIndex> graph;
    private readonly Lazy<Dictionary<string, IndexedImage>> byId;
    // Indexes built before roots were recorded: the folders of their images (images.jsonl is as local as index.json).
    private readonly Lazy<IReadOnlyList<string>> imageRoots;
    // When the description now in the folder was written: a rebuild or an update swaps in a new one.
    private readonly DateTime openedVersion;

    private ImageIndex(string folder, ImageIndexManifest manifest, IReadOnlyList<IndexedImage> images)
    {
        Folder = folder;
        Manifest = manifest;
        Images = images;
        openedVersion = File.GetLastWriteTimeUtc(Path.Combine(folder, ManifestFile));
        var vectorPath = Path.Combine(folder, VectorsFile);
        var expected = (long)manifest.Count * manifest.Dimension * sizeof(float);
        if (!File.Exists(vectorPath) || new FileInfo(vectorPath).Length != expected)
            throw new InterBertException($"{vectorPath}: missing or not {expected} bytes ({manifest.Count} vectors of {manifest.Dimension}); rebuild the index");
        if (expected > 0)
        {
            vectorFile = MemoryMappedFile.CreateFromFile(vectorPath, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            vectorView = vectorFile.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* pointer = null;
            vectorView.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            vectors = pointer + vectorView.PointerOffset;
        }
        graph = new Lazy<USearchIndex>(() =>
        {
            var graphPath = Path.Combine(folder, GraphFile);
            if (!File.Exists(graphPath)) throw new InterBertException($"{graphPath}: missing; rebuild the index");
            return new USearchIndex(graphPath, view: true);
        }, LazyThreadSafetyMode.ExecutionAndPublication);
        imageRoots = new Lazy<IReadOnlyList<string>>(() => ImageIndexManifest.RootsOf(images), LazyThreadSafetyMode.ExecutionAndPublication);
        byId = new Lazy<Dictionary<string, IndexedImage>>(() =>
        {
            var ids = new Dictionary<string, IndexedImage>(StringComparer.Ordinal);
            foreach (var image in images) ids.TryAdd(image.Id, image);
            return ids;
        }, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <inheritdoc/>
    public string Location => Folder;

    /// <inheritdoc/>
    public int Count => Manifest.Count;

    /// <inheritdoc/>
    public IndexedImage? Find(string id) => byId.Value.GetValueOrDefault(id);

    /// <inheritdoc/>
    public IReadOnlyList<string> ImageRoots => Manifest.ImageRoots ?? imageRoots.Value;

    /// <inheritdoc/>
    public IReadOnlyList<IndexHit> NearestImages(float[] query, int count, SearchMode mode = SearchMode.Auto) =>
        Nearest(query, count, mode).Select(n => new IndexHit(Images[n.Position], n.Similarity)).ToList();

    /// <summary>The index folder.</summary>
    public string Folder { get; }
    /// <summary>The index description.</summary>
    public ImageIndexManifest Manifest { get; }
    /// <summary>The indexed images, by position.</summary>
    public IReadOnlyList<IndexedImage> Images { get; }

    /// <summary>Called with the index folder just before a finished build replaces it (tests stop a build there).</summary>
    internal static Action<string>? BeforeSwap { get; set; }

    /// <summary>What a build did.</summary>
    public sealed record BuildResult(int Count, int Resumed, bool Cancelled, TimeSpan Elapsed);

    /// <summary>The SHA-256 (hex) of a weights file: the identity of the model an index belongs to.</summary>
    public static string Fingerprint(string weightsPath)
    {
        weightsPath = ModelFolder.WeightsPath(weightsPath);
        if (!File.Exists(weightsPath)) throw new InterBertException($"{weightsPath}: weights file not found");
        using var stream = File.OpenRead(weightsPath);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>
    /// Computes the image vectors of <paramref name="images"/> with <paramref name="model"/> (loaded from
    /// <paramref name="weightsPath"/>) and writes the index to <paramref name="folder"/>. Work goes to
    /// <c>FOLDER.partial</c> first: an interrupted build continues there when run again with the same inputs, and the
    /// finished index replaces <paramref name="folder"/> only when complete.
    /// </summary>
    public static BuildResult Build(
        InterBertModel model, string weightsPath, FeatureStore store, IReadOnlyList<IndexedImage> images, string folder,
        ImageIndexManifest? settings = null, IProgress<(int Done, int Total)>? progress = null, CancellationToken cancel = default, int imagesPerBatch = 64)
    {
        if (images.Count == 0) throw new InterBertException($"{folder}: nothing to index (no images)");
        var manifest = Describe(model, weightsPath, store, images, settings);
        return Write(folder, manifest, images, (_, block) => ComputeVectors(model, store, block), imagesPerBatch, progress, cancel);
    }

    /// <summary>
    /// Writes given vectors (normalised, <paramref name="manifest"/>'s dimension) as the index of the model
    /// <paramref name="manifest"/> names: for vectors computed elsewhere, and for measuring the index at scale.
    /// </summary>
    public static BuildResult WriteVectors(
        string folder, ImageIndexManifest manifest, IReadOnlyList<IndexedImage> images, Func<int, float[]> vectorOf,
        IProgress<(int Done, int Total)>? progress = null, CancellationToken cancel = default)
    {
        if (images.Count == 0) throw new InterBertException($"{folder}: nothing to index (no images)");
        return Write(folder, manifest with { Count = images.Count }, images, (start, block) => Enumerable.Range(start, block.Count).SelectMany(vectorOf).ToArray(), 1024, progress, cancel);
    }

    /// <summary>
    /// Writes the index of <paramref name="images"/> to <paramref name="folder"/> with the vectors
    /// <paramref name="vectorsOf"/> gives block by block (a block's first position and its images), through
    /// <c>FOLDER.partial</c> (resumed when run again with the same images and files) and one swap at the end.
    /// </summary>
    internal static BuildResult Write(
        string folder, ImageIndexManifest manifest, IReadOnlyList<IndexedImage> images, Func<int, IReadOnlyList<IndexedImage>, float[]> vectorsOf, int imagesPerBatch,
        IProgress<(int Done, int Total)>? progress, CancellationToken cancel)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        ClaimFolder(folder);
        var dimension = manifest.Dimension;
        var partial = Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar) + ".partial";
        var build = JsonSerializer.Serialize(new { manifest.WeightsSha256, manifest.Features, manifest.Precision, Ids = Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(string.Join('\n', images.Select(i => i.Sha256 is null ? i.Id : $"{i.Id} {i.Sha256}"))))) });
        var buildPath = Path.Combine(partial, BuildFile);
        if (!File.Exists(buildPath) || File.ReadAllText(buildPath) != build)
        {
            if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
            Directory.CreateDirectory(partial);
            File.WriteAllText(buildPath, build);
        }

        var vectorPath = Path.Combine(partial, VectorsFile);
        var rowBytes = (long)dimension * sizeof(float);
        int resumed;
        using (var output = new FileStream(vectorPath, FileMode.OpenOrCreate, FileAccess.Write))
        {
            // Only whole vectors count: a torn last one (killed mid-write) is written again.
            resumed = (int)Math.Min(images.Count, output.Length / rowBytes);
            output.SetLength(resumed * rowBytes);
            output.Position = output.Length;
            var batch = Math.Max(1, imagesPerBatch);
            for (var start = resumed; start < images.Count; start += batch)
            {
                if (cancel.IsCancellationRequested) return new BuildResult(start, resumed, true, watch.Elapsed);
                var block = images.Skip(start).Take(batch).ToList();
                var values = vectorsOf(start, block);
                output.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
                output.Flush();
                progress?.Report((start + block.Count, images.Count));
            }
        }

        using (var hnsw = new USearchIndex(MetricKind.Cos, ScalarKind.Float32, (ulong)dimension, (ulong)manifest.Connectivity, (ulong)manifest.ExpansionAdd, (ulong)manifest.ExpansionSearch))
        using (var input = File.OpenRead(vectorPath))
        {
            var row = new byte[rowBytes];
            var vector = new float[dimension];
            for (var k = 0; k < images.Count; k++)
            {
                input.ReadExactly(row);
                Buffer.BlockCopy(row, 0, vector, 0, row.Length);
                hnsw.Add((ulong)k, vector);
            }
            var graphTemporary = Path.Combine(partial, GraphFile + ".tmp");
            hnsw.Save(graphTemporary);
            File.Move(graphTemporary, Path.Combine(partial, GraphFile), overwrite: true);
        }
        File.WriteAllLines(Path.Combine(partial, ImagesFile), images.Select(i => JsonSerializer.Serialize(i)));
        // The store is recorded relative to the index where it can be, so the two can be moved together.
        File.WriteAllText(Path.Combine(partial, ManifestFile), JsonSerializer.Serialize(manifest with { Features = StoreAsWritten(folder, manifest.Features) }, Json));
        // build.json stays until the new index is in place: a crash before that resumes with every vector computed.
        DurableFiles.ReplaceFolder(partial, folder, BeforeSwap is { } hook ? () => hook(folder) : null);
        File.Delete(Path.Combine(folder, BuildFile));
        return new BuildResult(images.Count, resumed, false, watch.Elapsed);
    }

    /// <summary>
    /// Refuses, before any work, an existing folder that is not an index holding only an index's files: building an
    /// index replaces its folder whole.
    /// </summary>
    public static void ClaimFolder(string folder) =>
        OutputFolder.ClaimReplaceable(folder, "an image index", ManifestFile, [ImagesFile, VectorsFile, GraphFile, BuildFile]);

    /// <summary>
    /// The description of an index of <paramref name="images"/> by <paramref name="model"/> (loaded from
    /// <paramref name="weightsPath"/>): its fingerprint, the store, the dimension, the score head. Refuses a model that
    /// does not fit the store and images without features.
    /// </summary>
    public static ImageIndexManifest Describe(InterBertModel model, string weightsPath, FeatureStore store, IReadOnlyList<IndexedImage> images, ImageIndexManifest? settings = null)
    {
        if (model.Config.VFeatureSize != store.Manifest.FeatureSize)
            throw new InterBertException($"{weightsPath}: the model takes {model.Config.VFeatureSize}-d region features but {store.Folder} holds {store.Manifest.FeatureSize}-d ones");
        foreach (var image in images)
            if (!store.Contains(image.Id)) throw new InterBertException($"{store.Folder}: no features for image {image.Id}; run 'interbert features' on it first");
        var metadata = ModelCheckpoint.ReadMetadata(weightsPath);
        return (settings ?? new ImageIndexManifest()) with
        {
            Weights = Path.GetFullPath(weightsPath),
            WeightsSha256 = Fingerprint(weightsPath),
            Features = Path.GetFullPath(store.Folder),
            Dimension = model.Config.BiHiddenSize,
            Count = images.Count,
            Score = ModelCheckpoint.ScoresWithMatchingHead(metadata) ? "matching-head" : "score-head",
            Contrastive = metadata.ContainsKey(ContrastiveLoss.WeightMetadataKey),
            Precision = model.Precision.Name(),
            ImageRoots = ImageIndexManifest.RootsOf(images),
        };
    }

    /// <summary>The normalised image vectors of <paramref name="images"/>, row after row ([count x dimension]), in one forward pass.</summary>
    public static float[] ComputeVectors(InterBertModel model, FeatureStore store, IReadOnlyList<IndexedImage> images)
    {
        model.eval();
        using var autocast = model.Autocast();
        using var scope = NewDisposeScope();
        var regions = RegionCollator.Collate(images.Select(i => store.Read(i.Id)).ToList(), store.Manifest.FeatureSize, model.Config.MaxRegionLength);
        return UnimodalEmbedding.Image(model, regions).contiguous().data<float>().ToArray();
    }

    /// <summary><paramref name="store"/> relative to the index folder, or as it is when no relative path leads there (another drive).</summary>
    private static string StoreAsWritten(string folder, string store)
    {
        var relative = Path.GetRelativePath(Path.GetFullPath(folder), store);
        return Path.IsPathFullyQualified(relative) ? store : relative;
    }

    /// <summary>Opens an index; a missing or corrupt file gives an error naming it.</summary>
    public static ImageIndex Open(string folder)
    {
        var manifestPath = Path.Combine(folder, ManifestFile);
        if (!File.Exists(manifestPath))
            throw new InterBertException(Directory.Exists(folder + ".partial")
                ? $"{folder}: the index was not finished; run the same 'interbert index' command again to complete it"
                : $"{folder}: not an image index (no {ManifestFile})");
        ImageIndexManifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<ImageIndexManifest>(File.ReadAllText(manifestPath)) ?? throw new JsonException("empty");
        }
        catch (JsonException e)
        {
            throw new InterBertException($"{manifestPath}: corrupt index description ({e.Message.Split('\n')[0]})");
        }
        if (manifest.Format != "interbert-index" || manifest.Dimension <= 0 || manifest.Count <= 0 || manifest.WeightsSha256.Length != 64)
            throw new InterBertException($"{manifestPath}: not an interbert index description");
        // A store recorded relative to the index (the way builds write it) is found from wherever the index now is.
        if (manifest.Features.Length > 0 && !Path.IsPathRooted(manifest.Features))
            manifest = manifest with { Features = Path.GetFullPath(Path.Combine(folder, manifest.Features)) };
        var imagesPath = Path.Combine(folder, ImagesFile);
        var images = new List<IndexedImage>(manifest.Count);
        var line = 0;
        foreach (var text in File.Exists(imagesPath) ? File.ReadLines(imagesPath) : throw new InterBertException($"{imagesPath}: missing; rebuild the index"))
        {
            line++;
            try
            {
                images.Add(JsonSerializer.Deserialize<IndexedImage>(text) ?? throw new JsonException("null"));
            }
            catch (JsonException)
            {
                throw new InterBertException($"{imagesPath}: line {line}: not an image entry");
            }
        }
        if (images.Count != manifest.Count) throw new InterBertException($"{imagesPath}: {images.Count} images but {manifestPath} says {manifest.Count}; rebuild the index");
        return new ImageIndex(folder, manifest, images);
    }

    /// <inheritdoc/>
    public bool ReplacedOnDisk => File.GetLastWriteTimeUtc(Path.Combine(Folder, ManifestFile)) != openedVersion;

    /// <inheritdoc/>
    public void CheckModel(string weightsPath, string? fingerprint = null) => Manifest.CheckModel(Folder, weightsPath, fingerprint);

    /// <summary>The stored vector of position <paramref name="position"/>.</summary>
    public ReadOnlySpan<float> Vector(int position) => new(vectors + (long)position * Manifest.Dimension * sizeof(float), Manifest.Dimension);

    /// <summary>
    /// The <paramref name="count"/> images nearest to a normalised query vector by cosine similarity, best first (ties
    /// by position).
    /// </summary>
    public IReadOnlyList<(int Position, float Similarity)> Nearest(ReadOnlySpan<float> query, int count, SearchMode mode = SearchMode.Auto)
    {
        if (query.Length != Manifest.Dimension) throw new ArgumentException($"the query vector has {query.Length} values, the index {Manifest.Dimension}");
        count = Math.Clamp(count, 0, Manifest.Count);
        if (count == 0) return [];
        var exact = mode == SearchMode.Exact || (mode == SearchMode.Auto && Manifest.Count <= Manifest.ExactBelow);
        return exact ? NearestExact(query, count) : NearestApproximate(query.ToArray(), count);
    }

    private List<(int Position, float Similarity)> NearestExact(ReadOnlySpan<float> query, int count)
    {
        // A min-heap of the best so far: its root is the weakest kept candidate.
        var heap = new PriorityQueue<int, (float Similarity, int NegativePosition)>(count + 1);
        for (var position = 0; position < Manifest.Count; position++)
        {
            var similarity = System.Numerics.Tensors.TensorPrimitives.Dot(query, Vector(position));
            var key = (similarity, -position);
            if (heap.Count < count) heap.Enqueue(position, key);
            else if (heap.TryPeek(out _, out var weakest) && key.CompareTo(weakest) > 0) heap.EnqueueDequeue(position, key);
        }
        var result = new List<(int, float)>(count);
        while (heap.TryDequeue(out var position, out var key)) result.Add((position, key.Similarity));
        result.Reverse();
        return result;
    }

    private List<(int Position, float Similarity)> NearestApproximate(float[] query, int count)
    {
        var found = graph.Value.Search(query, count, out ulong[] keys, out float[] distances);
        var result = new List<(int, float)>(found);
        for (var k = 0; k < found; k++) result.Add(((int)keys[k], 1 - distances[k]));
        return result.OrderByDescending(r => r.Item2).ThenBy(r => r.Item1).ToList();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (vectorView is not null)
        {
            vectorView.SafeMemoryMappedViewHandle.ReleasePointer();
            vectorView.Dispose();
        }
        vectorFile?.Dispose();
        if (graph.IsValueCreated) graph.Value.Dispose();
    }
}
