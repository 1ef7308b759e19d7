using InterBert.Data;
using InterBert.Modeling;
using InterBert.Search;
using InterBert.Text;
using InterBert.Vision;
using InterBert.Weights;
using InterBert.Workflows;
using static TorchSharp.torch;

namespace InterBert.Inference;

/// <summary>
/// A model ready to use from a program: embed texts and photos (decoding, regions and features included), score
/// image-text pairs with the cross-modal model, search an index. Every model call runs on one dedicated thread, in
/// order, so a pipeline may be shared by many threads (a web service's requests); decoding and the image networks
/// run on the calling thread.
/// </summary>
public sealed class InterBertPipeline : IDisposable
{
    /// <summary>Text vectors computed together per forward pass.</summary>
    private const int TextsPerBatch = 32;
    private readonly InterBertModel model;
    private readonly ModelThread modelThread;
    private TwoStageSearcher? searcher;
    // Searches hold it shared; an update holds it alone only to swap the searcher of the updated index in.
    private readonly ReaderWriterLockSlim searcherLock = new(LockRecursionPolicy.SupportsRecursion);
    private readonly PhotoRegions photos;
    private int disposed;

    private InterBertPipeline(string weights, InterBertModel model, WordPieceTokenizer tokenizer, InterBertPipelineOptions options)
    {
        Weights = weights;
        this.model = model;
        Tokenizer = tokenizer;
        model.eval();
        // Photos become regions as the index's photos did, else as the model's training photos did (its folder's
        // preprocessor_config.json), else as the options or the defaults say; read before the index is opened, so a
        // corrupt description leaves nothing open.
        var modelFolder = Path.GetDirectoryName(Path.GetFullPath(weights))!;
        var trained = options.Index is null ? ImagePreprocessing.ReadFrom(modelFolder) : null;
        // In bf16 the thread holds one autocast region for its lifetime: the weights are cast once, not per call.
        modelThread = new ModelThread("interbert-pipeline-model", model.Autocast);
        try
        {
            searcher = options.Index is { } index ? TwoStageSearcher.OpenWith(index, model, tokenizer, weights, modelThread) : null;
        }
        catch
        {
            modelThread.Dispose();
            throw;
        }
        var preprocessing = searcher is not null ? ImagePreprocessing.Of(searcher.Store.Manifest) : trained;
        photos = new PhotoRegions(preprocessing, modelFolder, options.Detector, options.MaxRegions, options.Threads, model);
        ScoresWithMatchingHead = ModelCheckpoint.ScoresWithMatchingHead(ModelCheckpoint.ReadMetadata(weights));
    }

    /// <summary>The weights file in use (a model folder's <c>model.safetensors</c>).</summary>
    public string Weights { get; }

    /// <summary>The model's tokenizer.</summary>
    public WordPieceTokenizer Tokenizer { get; }

    /// <summary>The model's configuration.</summary>
    public InterBertConfig Config => model.Config;

    /// <summary>Dimension of the text and image vectors.</summary>
    public int Dimension => model.Config.BiHiddenSize;

    /// <summary>How photos become regions: the index's way when there is an index, else the model folder's (its training photos'), else the options' or the defaults.</summary>
    public RegionSource Regions => photos.Source;

    /// <summary>
    /// Whether pair scores come from the image-text matching head (a pretrained model: the matched-minus-unmatched
    /// logit) rather than the retrieval score head (a model fine-tuned for retrieval), as <c>evaluate</c> and <c>search</c> decide.
    /// </summary>
    public bool ScoresWithMatchingHead { get; }

    /// <summary>The index <see cref="Search"/> searches, or null when none was given.</summary>
    public IImageVectorIndex? Index => Volatile.Read(ref searcher)?.Index;

    /// <summary>
    /// Loads a model: a model folder (<c>config.json</c>, <c>model.safetensors</c>, <c>vocab.txt</c>) or a weights file
    /// with its vocabulary beside it. Problems (a missing file, an index of another model) are one-line
    /// <see cref="InterBertException"/>s naming the file.
    /// </summary>
    public static InterBertPipeline Load(string model, InterBertPipelineOptions? options = null)
    {
        options ??= new InterBertPipelineOptions();
        if (options.Threads < 0) throw new ArgumentException($"Threads is {options.Threads}; 0 (the runtime's choice) or more");
        if (options.MaxRegions < 1) throw new ArgumentException($"MaxRegions is {options.MaxRegions}; at least 1 (the whole image)");
        var weights = ModelFolder.WeightsPath(model);
        var tokenizer = ModelVocabulary.TokenizerFor(weights);
        var loaded = ModelCheckpoint.Load(weights);
        loaded.Precision = options.Precision;
        try
        {
            return new InterBertPipeline(weights, loaded, tokenizer, options);
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }

    /// <summary>The normalised text vector of <paramref name="text"/> (the text-only pooled output; a dot product of two vectors is their cosine).</summary>
    public float[] EmbedText(string text) => EmbedTexts([text])[0];

    /// <summary>The normalised text vectors of <paramref name="texts"/>, in order.</summary>
    public float[][] EmbedTexts(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var tokens = texts.Select(Tokens).ToList();
        return Run(() =>
        {
            var vectors = new float[tokens.Count][];
            for (var start = 0; start < tokens.Count; start += TextsPerBatch)
            {
                using var scope = NewDisposeScope();
                var block = tokens.Skip(start).Take(TextsPerBatch).ToList();
                var values = UnimodalEmbedding.Text(model, WordPieceTokenizer.Collate(block, Tokenizer.PadId)).contiguous().data<float>().ToArray();
                for (var k = 0; k < block.Count; k++) vectors[start + k] = values.AsSpan(k * Dimension, Dimension).ToArray();
            }
            return vectors;
        });
    }

    /// <summary>The regions of a photo file (JPEG, PNG, WebP) with their features, as <c>interbert features</c> would store them.</summary>
    public ImageRegions ExtractRegions(string imagePath) => ExtractRegions(new ImageLocation(imagePath).ReadBytes(), imagePath);

    /// <summary>The regions of an encoded photo held in memory; <paramref name="name"/> names it in errors and is the regions' id.</summary>
    public ImageRegions ExtractRegions(byte[] encoded, string name = "image")
    {
        ArgumentNullException.ThrowIfNull(encoded);
        ObjectDisposedException.ThrowIf(disposed != 0, this);
        return photos.Extract(encoded, name);
    }

    /// <summary>The normalised image vector of a photo file (the image-only pooled output), comparable with <see cref="EmbedText"/>'s.</summary>
    public float[] EmbedImage(string imagePath) => EmbedImage(ExtractRegions(imagePath));

    /// <summary>The normalised image vector of an encoded photo held in memory.</summary>
    public float[] EmbedImage(byte[] encoded, string name = "image") => EmbedImage(ExtractRegions(encoded, name));

    /// <summary>The normalised image vector of regions already extracted (or read from a feature store).</summary>
    public float[] EmbedImage(ImageRegions regions)
    {
        ArgumentNullException.ThrowIfNull(regions);
        return Run(() =>
        {
            using var scope = NewDisposeScope();
            return UnimodalEmbedding.Image(model, RegionCollator.Collate([regions], model.Config.VFeatureSize, model.Config.MaxRegionLength)).contiguous().data<float>().ToArray();
        });
    }

    /// <summary>The cross-modal score of a caption and a photo file: higher is a better match (see <see cref="ScoresWithMatchingHead"/>).</summary>
    public float Score(string text, string imagePath) => Score(text, [ExtractRegions(imagePath)])[0];

    /// <summary>The cross-modal scores of one text against each of <paramref name="images"/>' regions, all in one forward pass.</summary>
    public float[] Score(string text, IReadOnlyList<ImageRegions> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) return [];
        var tokens = Tokens(text);
        return Run(() =>
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var image = RegionCollator.Collate(images, model.Config.VFeatureSize, model.Config.MaxRegionLength);
            return model.PairScores(TextBatch.Repeated(tokens, images.Count), image, ScoresWithMatchingHead).contiguous().data<float>().ToArray();
        });
    }

    /// <summary>
    /// The <paramref name="top"/> best images of the index for <paramref name="query"/>: its <paramref name="candidates"/>
    /// nearest by vector, ranked as <c>interbert search</c> ranks them (<paramref name="ranking"/>; by default the one
    /// the model's relevance calibration measured best, see <see cref="TwoStageSearcher.DefaultRanking"/>).
    /// </summary>
    /// <remarks>
    /// With <paramref name="minRelevance"/> (0 to 1), only results whose calibrated relevance reaches it, possibly none;
    /// the model needs its <c>relevance.json</c> (<c>interbert evaluate --fit-relevance</c>).
    /// </remarks>
    public IReadOnlyList<SearchHit> Search(string query, int top = 10, int candidates = TwoStageSearcher.DefaultCandidates, double? minRelevance = null, Tasks.SearchRanking? ranking = null)
    {
        if (candidates < 1) throw new ArgumentOutOfRangeException(nameof(candidates), candidates, "at least 1");
        return WithIndex(top, index => index.Search(query, top, candidates, ranking: ranking, minRelevance: minRelevance));
    }

    /// <summary>
    /// The <paramref name="top"/> images of the index nearest to a photo file by image vector (photo-to-photo search;
    /// the photo is made into regions the way the index's photos were, so an indexed photo finds itself first).
    /// </summary>
    public IReadOnlyList<SearchHit> SearchByImage(string imagePath, int top = 10) => SearchByImage(new ImageLocation(imagePath).ReadBytes(), imagePath, top);

    /// <summary>The <paramref name="top"/> images of the index nearest to an encoded photo held in memory; <paramref name="name"/> names it in errors.</summary>
    public IReadOnlyList<SearchHit> SearchByImage(byte[] encoded, string name = "image", int top = 10)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        return WithIndex(top, index => index.SearchByPhoto(index.ReadPhoto(encoded, name), top));
    }

    /// <summary>
    /// The <paramref name="top"/> other images of the index nearest to its image <paramref name="id"/> ("more like
    /// this"); an id the index does not hold is a one-line <see cref="InterBertException"/>.
    /// </summary>
    public IReadOnlyList<SearchHit> Similar(string id, int top = 10)
    {
        ArgumentNullException.ThrowIfNull(id);
        return WithIndex(top, index => index.Similar(id, top) ?? throw new InterBertException($"{index.Index.Location}: no image {id} with features in the index"));
    }

    /// <summary>
    /// Brings the pipeline's folder index in line with <paramref name="photosFolder"/>, as <c>index --images DIR
    /// --update</c> does (new and changed photos embedded, their features added to the index's store; deleted ones
    /// dropped), then searches the updated index. Searches running meanwhile use the index as it was.
    /// </summary>
    public FolderIndexUpdate.Result Update(string photosFolder, WorkflowHost? host = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(photosFolder);
        var before = WithIndex(1, index => index);
        if (before.Index is not ImageIndex folderIndex) throw new InvalidOperationException("Update keeps a folder index; a database index is updated by 'interbert index --backend postgres --connection ... --images DIR --update' (a running service sees the change)");
        var result = FolderIndexUpdate.Run(new IndexJobOptions
        {
            Weights = Weights, Features = before.Store.Folder, Output = folderIndex.Folder, ImagesFolder = photosFolder, Update = true, Precision = model.Precision,
        }, host ?? new WorkflowHost(), cancel);
        if (result.Cancelled || result.UpToDate) return result;
        var updated = TwoStageSearcher.OpenWith(folderIndex.Folder, model, Tokenizer, Weights, modelThread);
        searcherLock.EnterWriteLock();
        try
        {
            searcher = updated;
        }
        finally
        {
            searcherLock.ExitWriteLock();
        }
        before.Dispose();
        return result;
    }

    private T WithIndex<T>(int top, Func<TwoStageSearcher, T> use)
    {
        ObjectDisposedException.ThrowIf(disposed != 0, this);
        if (top < 1) throw new ArgumentOutOfRangeException(nameof(top), top, "at least 1");
        searcherLock.EnterReadLock();
        try
        {
            return use(searcher ?? throw new InvalidOperationException("this pipeline has no index: load it with InterBertPipelineOptions.Index"));
        }
        finally
        {
            searcherLock.ExitReadLock();
        }
    }

    /// <summary>This pipeline's text vectors as a Microsoft.Extensions.AI embedding generator (the pipeline stays the caller's to dispose).</summary>
    public TextEmbeddingGenerator AsEmbeddingGenerator() => new(this);

    private int[] Tokens(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Tokenizer.Encode(text, model.Config.TextLength);
    }

    private T Run<T>(Func<T> call)
    {
        ObjectDisposedException.ThrowIf(disposed != 0, this);
        return modelThread.Run(call);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        searcher?.Dispose();
        modelThread.Dispose();
        searcherLock.Dispose();
        model.Dispose();
        photos.Dispose();
    }
}
