using InterBert.Data;
using InterBert.Modeling;
using InterBert.Tasks;
using InterBert.Text;
using InterBert.Weights;
using static TorchSharp.torch;

namespace InterBert.Search;

/// <summary>
/// Text-to-image search in two stages: the query's text-only pooled vector finds the nearest image vectors in the
/// index (candidates), which InterBERT's cross-modal score then re-ranks, all candidates in one batched forward pass.
/// Model calls run one at a time on a dedicated thread, so one searcher may serve many threads.
/// </summary>
public sealed class TwoStageSearcher : IDisposable
{
    /// <summary>Default number of first-stage candidates re-ranked.</summary>
    public const int DefaultCandidates = 64;
    private readonly ModelThread modelThread;
    private readonly bool zeroShot;
    private readonly bool ownsModel;

    private TwoStageSearcher(IImageVectorIndex index, InterBertModel model, WordPieceTokenizer tokenizer, FeatureStore store, string weightsPath, ModelThread? sharedThread)
    {
        Index = index;
        Model = model;
        Tokenizer = tokenizer;
        Store = store;
        WeightsPath = weightsPath;
        zeroShot = index.Manifest.Score == "matching-head";
        model.eval();
        Relevance = RelevanceCalibration.ReadFor(weightsPath, out relevanceMissing);
        // The calibration's weight is the one its score + similarity curve was fitted with, and ranked dev best.
        ContrastiveScale = ContrastiveLoss.SimilarityScale(model);
        SimilarityScale = ContrastiveScale * (Relevance?.SimilarityWeight ?? 1);
        // In bf16 the model thread holds one autocast region for its lifetime: the weights are cast once, not per query.
        ownsModel = sharedThread is null;
        modelThread = sharedThread ?? new ModelThread("interbert-search-model", model.Autocast);
        photos = new Lazy<PhotoRegions>(() => new PhotoRegions(
            ImagePreprocessing.Of(store.Manifest) ?? throw new InterBertException(
                $"{store.Folder}: the index's features were imported without a description of how their regions were made, so a photo cannot be turned into comparable regions"),
            Path.GetDirectoryName(Path.GetFullPath(weightsPath))!, stage: model), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    private readonly Lazy<PhotoRegions> photos;

    /// <summary>The image index: a folder or a database table.</summary>
    public IImageVectorIndex Index { get; }
    /// <summary>The model (the one the index was built with).</summary>
    public InterBertModel Model { get; }
    /// <summary>The model's tokenizer.</summary>
    public WordPieceTokenizer Tokenizer { get; }
    /// <summary>The feature store of the indexed images.</summary>
    public FeatureStore Store { get; }
    /// <summary>The weights file in use.</summary>
    public string WeightsPath { get; }
    /// <summary>The model's relevance calibration (<c>relevance.json</c> beside its weights), or null: hits then carry no relevance and a minimum relevance is refused.</summary>
    public RelevanceCalibration? Relevance { get; }
    private readonly string relevanceMissing;

    /// <summary>
    /// The cosine's weight in score + similarity: the model's contrastive inverse temperature (which puts cosines on the
    /// scale of logits) times its relevance calibration's <see cref="RelevanceCalibration.SimilarityWeight"/>.
    /// </summary>
    public float SimilarityScale { get; }

    /// <summary>The model's contrastive inverse temperature: the weight of the cosine and of word-region matching in the word-region rankings.</summary>
    public float ContrastiveScale { get; }

    /// <summary>
    /// Opens an index with its model: the weights it records, or <paramref name="weightsPath"/>, which must be the
    /// same model (checked by SHA-256); queries and re-ranking run in <paramref name="precision"/>.
    /// </summary>
    public static TwoStageSearcher Open(string indexFolder, string? weightsPath = null, Precision precision = Precision.Fp32)
    {
        var index = ImageIndexes.Open(indexFolder);
        FeatureStore? store = null;
        try
        {
            var weights = weightsPath ?? index.Manifest.Weights;
            store = OpenStore(index, weights);
            var tokenizer = ModelVocabulary.TokenizerFor(weights);
            var model = ModelCheckpoint.Load(weights);
            model.Precision = precision;
            try
            {
                CheckFit(index, store, model, weights);
            }
            catch
            {
                model.Dispose();
                throw;
            }
            return new TwoStageSearcher(index, model, tokenizer, store, weights, sharedThread: null);
        }
        catch
        {
            store?.Dispose();
            index.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A searcher over <paramref name="indexFolder"/> that uses a model its caller loaded and runs it on the caller's
    /// model thread; disposing it closes the index and the store only.
    /// </summary>
    internal static TwoStageSearcher OpenWith(string indexFolder, InterBertModel model, WordPieceTokenizer tokenizer, string weightsPath, ModelThread modelThread)
    {
        var index = ImageIndexes.Open(indexFolder);
        FeatureStore? store = null;
        try
        {
            store = OpenStore(index, weightsPath);
            CheckFit(index, store, model, weightsPath);
            return new TwoStageSearcher(index, model, tokenizer, store, weightsPath, modelThread);
        }
        catch
        {
            store?.Dispose();
            index.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The same index opened again from where it lives (a folder index replaced by a rebuild or an update), searched with
    /// this searcher's model on its model thread; dispose it before this one.
    /// </summary>
    public TwoStageSearcher Reopen() => OpenWith(Index.Location, Model, Tokenizer, WeightsPath, modelThread);

    /// <summary>The index's feature store, once the model is known to be the index's.</summary>
    private static FeatureStore OpenStore(IImageVectorIndex index, string weights)
    {
        index.CheckModel(weights);
        if (!Directory.Exists(index.Manifest.Features)) throw new InterBertException($"{index.Location}: its feature store {index.Manifest.Features} is missing");
        return FeatureStore.Open(index.Manifest.Features);
    }

    private static void CheckFit(IImageVectorIndex index, FeatureStore store, InterBertModel model, string weights)
    {
        if (model.Config.BiHiddenSize != index.Manifest.Dimension || model.Config.VFeatureSize != store.Manifest.FeatureSize)
            throw new InterBertException($"{weights}: does not fit the index {index.Location} ({model.Config.BiHiddenSize}-d vectors, {model.Config.VFeatureSize}-d features)");
        // Features computed by a fine-tuned CNN stage serve that stage's model only, and such a model only them.
        if (store.Manifest.VisualStage != model.VisualStageFingerprint())
            throw new InterBertException($"{weights}: does not fit the index {index.Location}: its features were computed by {(store.Manifest.VisualStage is { } stage ? $"a fine-tuned CNN stage ({stage})" : "the packaged ResNet-18")}, the model's own stage differs");
    }

    /// <summary>Token ids of a query ([CLS] ... [SEP], cut at the model's maximum length).</summary>
    public int[] Tokens(string query) => Tokenizer.Encode(query, Model.Config.TextLength);

    /// <summary>
    /// Whether the model can read any of the query: false when every word of it is outside the model's vocabulary (all
    /// [UNK]), as a Chinese query is to an English-only vocabulary. Such a query's results carry relevance 0: the model
    /// ranked them on nothing the query said.
    /// </summary>
    public bool CanRead(string query) => Readable(Tokens(query));

    /// <summary>What a search says of a query <see cref="CanRead"/> is false for.</summary>
    public const string UnreadableQuery = "none of the query's words is in the model's vocabulary: its results rank on nothing it said (relevance 0)";

    private bool Readable(int[] tokens) =>
        tokens.Any(t => t != Tokenizer.ClsId && t != Tokenizer.SepId && t != Tokenizer.PadId && t != Tokenizer.UnknownId);

    /// <summary>The query's normalised text vector.</summary>
    public float[] QueryVector(int[] tokens) => modelThread.Run(() =>
    {
        using var scope = NewDisposeScope();
        return UnimodalEmbedding.Text(Model, TextBatch.Repeated(tokens, 1)).data<float>().ToArray();
    });

    /// <summary>Cross-modal scores of the query against the images <paramref name="imageIds"/> of the feature store.</summary>
    public float[] Rerank(int[] tokens, IReadOnlyList<string> imageIds, int pairsPerBatch = DefaultCandidates) =>
        Rerank(tokens, imageIds, SearchRanking.Score, pairsPerBatch);

    /// <summary>
    /// What <paramref name="ranking"/> adds to the cosine for each image of <paramref name="imageIds"/>: the
    /// cross-modal score, word-region matching on the contrastive logit scale, or both (0 for the first stage).
    /// </summary>
    public float[] Rerank(int[] tokens, IReadOnlyList<string> imageIds, SearchRanking ranking, int pairsPerBatch = DefaultCandidates) => modelThread.Run(() =>
    {
        var scores = new float[imageIds.Count];
        if (!ranking.NeedsScore() && !ranking.NeedsWordRegion()) return scores;
        // Images added to a database index while it is served have their features in shards written since: take them in
        // (the store is read only on this thread).
        if (imageIds.Any(id => !Store.Contains(id))) Store.AddNewShards();
        using (no_grad())
        {
            using var queryScope = NewDisposeScope();
            Tensor? words = null, wordMask = null;
            // A late interaction reads the query's text-only pass, the same for every candidate: it runs once.
            TextBatch? queryText = null;
            Tensor? querySequence = null;
            if (ranking.NeedsScore() && Model.HasLateInteraction && !zeroShot && Model.Config.RegionJudgeWeight <= 0)
            {
                queryText = TextBatch.Repeated(tokens, 1);
                querySequence = Model.Forward(queryText, null).TextSequence!;
            }
            if (ranking.NeedsWordRegion())
            {
                var query = TextBatch.Repeated(tokens, 1);
                (words, wordMask) = TokenRegionMatching.Words(Model, Model.Forward(query, null).TextSequence!, query);
            }
            for (var start = 0; start < imageIds.Count; start += pairsPerBatch)
            {
                using var scope = NewDisposeScope();
                var block = imageIds.Skip(start).Take(pairsPerBatch).Select(Store.Read).ToList();
                var image = RegionCollator.Collate(block, Store.Manifest.FeatureSize, Model.Config.MaxRegionLength);
                var values = zeros(block.Count);
                // The candidates' image-only pass, once for the late interaction and word-region matching alike.
                var imageSequence = querySequence is not null || words is not null ? Model.Forward(null, image).ImageSequence! : null;
                if (querySequence is not null)
                    values = values + Model.LateScore(querySequence.expand(block.Count, -1, -1), queryText!.AttentionMask.expand(block.Count, -1),
                        imageSequence!, ImageEmbeddings.MaskWithGlobalToken(image.RegionMask)).to(ScalarType.Float32);
                else if (ranking.NeedsScore()) values = values + Model.PairScores(TextBatch.Repeated(tokens, block.Count), image, zeroShot).to(ScalarType.Float32);
                if (words is not null)
                {
                    var (regions, regionMask) = TokenRegionMatching.Regions(Model, imageSequence!, image);
                    var matching = TokenRegionMatching.Paired(words.expand(block.Count, -1, -1), wordMask!.expand(block.Count, -1), regions, regionMask);
                    values = values + matching * ContrastiveScale;
                }
                values.data<float>().CopyTo(scores, start);
            }
        }
        return scores;
    });

    /// <summary>
    /// The ranking a search uses when not told one: the ranking the model's relevance calibration measured best on its
    /// dev split, else the cross-modal score plus the first-stage cosine (the better re-ranking in every measurement on
    /// real photos; see docs/benchmarks.md).
    /// </summary>
    public SearchRanking DefaultRanking => Relevance?.MeasuredBest ?? SearchRanking.ScoreAndSimilarity;

    /// <summary>Why <see cref="DefaultRanking"/> is what it is, in a few words (for <c>/health</c> and the command line).</summary>
    public string DefaultRankingReason => Relevance?.MeasuredBest is not null ? $"measured best when its relevance was fitted ({RelevanceCalibration.FileName})" : "the default without a measurement";

    /// <summary>
    /// The <paramref name="top"/> best images for <paramref name="query"/>: <paramref name="candidates"/> from the
    /// index, ordered by <paramref name="ranking"/> (<see cref="DefaultRanking"/> when null; ties by first-stage rank).
    /// A hit's score is what it was ranked by: the cross-modal score, that plus the first-stage cosine times
    /// <see cref="SimilarityScale"/> (BLIP-2's re-ranking), the cosine alone, or word-region matching plus the cosine
    /// times <see cref="ContrastiveScale"/> (with the score too in score+word-region+similarity).
    /// </summary>
    /// <remarks>With <paramref name="minRelevance"/>, only hits whose calibrated relevance reaches it are returned, possibly none.</remarks>
    public IReadOnlyList<SearchHit> Search(string query, int top = 10, int candidates = DefaultCandidates, SearchMode mode = SearchMode.Auto, SearchRanking? ranking = null,
        double? minRelevance = null)
    {
        var resolved = ranking ?? DefaultRanking;
        CheckMinRelevance(minRelevance, resolved);
        return modelThread.Run(() => SearchOnModelThread(query, top, candidates, mode, resolved, minRelevance));
    }

    /// <summary>Refuses a minimum relevance outside [0, 1], or one the model has no calibration for (the one-line reason names the fix).</summary>
    public void CheckMinRelevance(double? minRelevance, SearchRanking? ranking = null)
    {
        if (minRelevance is not { } minimum) return;
        if (minimum is < 0 or > 1 || double.IsNaN(minimum)) throw new ArgumentException($"a minimum relevance is a probability from 0 to 1, not {minimum}");
        if (Relevance is null) throw new InterBertException(relevanceMissing);
        var resolved = ranking ?? DefaultRanking;
        if (Relevance.For(resolved) is null)
            throw new InterBertException($"{WeightsPath}: its relevance calibration predates the {resolved.Name()} ranking; fit it again with 'interbert evaluate --task retrieval --split val --fit-relevance ...' or rank another way");
    }

    /// <summary>
    /// The same as <see cref="Search"/>, without holding the calling thread while the model works, for a service: a
    /// model call of <paramref name="priority"/> (lower first) that re-ranks in blocks of
    /// <see cref="ServiceRerankBlock"/> candidates and, between blocks, gives way to a call of lower priority that is
    /// waiting (another client's search waits for one block of this one at most), then goes on. Work not begun when
    /// <paramref name="cancel"/> ends (the client left, the deadline passed) is never run.
    /// </summary>
    public Task<IReadOnlyList<SearchHit>> SearchAsync(string query, int top = 10, int candidates = DefaultCandidates, SearchMode mode = SearchMode.Auto,
        SearchRanking? ranking = null, CancellationToken cancel = default, int priority = 0, double? minRelevance = null)
    {
        if (string.IsNullOrWhiteSpace(query)) throw new ArgumentException("the query is empty");
        var resolved = ranking ?? DefaultRanking;
        CheckMinRelevance(minRelevance, resolved);
        var result = new TaskCompletionSource<IReadOnlyList<SearchHit>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var tokens = Tokens(query);
        List<IndexHit>? nearest = null;
        float[] scores = [];
        var done = 0;
        // Runs on the model thread; false when it gave way before the end.
        bool Step()
        {
            if (nearest is null)
            {
                nearest = WithFeatures(Index.NearestImages(QueryVector(tokens), Math.Max(candidates, top), mode));
                scores = new float[nearest.Count];
                // Ranked by the first stage alone: nothing for the cross-modal model to score.
                if (resolved == SearchRanking.FirstStage) done = nearest.Count;
            }
            while (done < nearest.Count)
            {
                // A search whose client has gone, or whose deadline has passed, stops between blocks.
                cancel.ThrowIfCancellationRequested();
                if (done > 0 && modelThread.OthersWaitBefore(priority)) return false;
                var block = nearest.Skip(done).Take(ServiceRerankBlock).Select(n => n.Image.Id).ToList();
                Rerank(tokens, block, resolved).CopyTo(scores, done);
                done += block.Count;
            }
            return true;
        }
        void Continue() => modelThread.RunAsync(Step, cancel, priority).ContinueWith(step =>
        {
            if (step.IsCanceled) result.TrySetCanceled(cancel);
            else if (step.Exception is { } failed) result.TrySetException(failed.InnerExceptions);
            else if (!step.Result) Continue();
            else
            {
                try
                {
                    result.TrySetResult(Ranked(nearest!, scores, top, resolved, minRelevance, Readable(tokens)));
                }
                catch (Exception e)
                {
                    result.TrySetException(e);
                }
            }
        }, TaskScheduler.Default);
        Continue();
        return result.Task;
    }

    /// <summary>Candidates re-ranked per model call by <see cref="SearchAsync"/>: small enough to let others in, large enough to keep the batch efficient.</summary>
    public const int ServiceRerankBlock = 32;

    private IReadOnlyList<SearchHit> SearchOnModelThread(string query, int top, int candidates, SearchMode mode, SearchRanking ranking, double? minRelevance)
    {
        if (string.IsNullOrWhiteSpace(query)) throw new ArgumentException("the query is empty");
        var tokens = Tokens(query);
        var nearest = WithFeatures(Index.NearestImages(QueryVector(tokens), Math.Max(candidates, top), mode));
        var scores = Rerank(tokens, nearest.Select(n => n.Image.Id).ToList(), ranking);
        return Ranked(nearest, scores, top, ranking, minRelevance, Readable(tokens));
    }

    /// <summary>
    /// The candidates ordered by their re-ranking scores (ties by first-stage rank), with their relevance when the model
    /// is calibrated (0 for a query the model cannot read); the best <paramref name="top"/> of those at or above
    /// <paramref name="minRelevance"/>.
    /// </summary>
    private IReadOnlyList<SearchHit> Ranked(List<IndexHit> nearest, float[] scores, int top, SearchRanking ranking, double? minRelevance, bool readable)
    {
        for (var k = 0; k < scores.Length; k++)
            scores[k] = ranking switch
            {
                SearchRanking.ScoreAndSimilarity => scores[k] + SimilarityScale * nearest[k].Similarity,
                SearchRanking.WordRegionAndSimilarity or SearchRanking.ScoreWordRegionAndSimilarity => scores[k] + ContrastiveScale * nearest[k].Similarity,
                SearchRanking.FirstStage => nearest[k].Similarity,
                _ => scores[k],
            };
        var curve = Relevance?.For(ranking);
        return Enumerable.Range(0, nearest.Count)
            .OrderByDescending(k => scores[k]).ThenBy(k => k)
            .Select(k => new SearchHit(nearest[k].Image.Id, scores[k], nearest[k].Similarity, k + 1, nearest[k].Image.ImagePath, curve is null ? null : readable ? curve.Probability(scores[k]) : 0))
            .Where(hit => minRelevance is not { } minimum || hit.Relevance >= minimum)
            .Take(top)
            .ToList();
    }

    /// <summary>
    /// The regions of an encoded photo, made the way the index's photos were (its store's detector or grid), so its
    /// vector is comparable with theirs; a photo that cannot be decoded is a one-line <see cref="InterBertException"/>
    /// naming <paramref name="name"/>. Runs on the calling thread.
    /// </summary>
    public ImageRegions ReadPhoto(byte[] encoded, string name) => photos.Value.Extract(encoded, name);

    /// <summary>The <paramref name="top"/> indexed images nearest to a photo's regions by image vector (the score is the cosine).</summary>
    public IReadOnlyList<SearchHit> SearchByPhoto(ImageRegions regions, int top = 10, SearchMode mode = SearchMode.Auto) =>
        modelThread.Run(() => NearestToPhoto(regions, top, mode, except: null));

    /// <summary>
    /// The <paramref name="top"/> other indexed images nearest to the indexed image <paramref name="id"/> ("more like
    /// this"), by image vector; null when the index has no such image with features.
    /// </summary>
    public IReadOnlyList<SearchHit>? Similar(string id, int top = 10, SearchMode mode = SearchMode.Auto) => modelThread.Run(() => SimilarOnModelThread(id, top, mode));

    /// <summary><see cref="SearchByPhoto"/> as one model call of <paramref name="priority"/>, skipped if <paramref name="cancel"/> ends before it begins.</summary>
    public Task<IReadOnlyList<SearchHit>> SearchByPhotoAsync(ImageRegions regions, int top = 10, SearchMode mode = SearchMode.Auto, CancellationToken cancel = default, int priority = 0) =>
        modelThread.RunAsync<IReadOnlyList<SearchHit>>(() => NearestToPhoto(regions, top, mode, except: null), cancel, priority);

    /// <summary><see cref="Similar"/> as one model call of <paramref name="priority"/>, skipped if <paramref name="cancel"/> ends before it begins.</summary>
    public Task<IReadOnlyList<SearchHit>?> SimilarAsync(string id, int top = 10, SearchMode mode = SearchMode.Auto, CancellationToken cancel = default, int priority = 0) =>
        modelThread.RunAsync(() => SimilarOnModelThread(id, top, mode), cancel, priority);

    private IReadOnlyList<SearchHit>? SimilarOnModelThread(string id, int top, SearchMode mode)
    {
        if (Index.Find(id) is null) return null;
        if (!Store.Contains(id)) Store.AddNewShards();
        return Store.Contains(id) ? NearestToPhoto(Store.Read(id), top, mode, except: id) : null;
    }

    /// <summary>The nearest indexed images to a photo's vector, best first, without <paramref name="except"/> (the photo itself).</summary>
    private List<SearchHit> NearestToPhoto(ImageRegions regions, int top, SearchMode mode, string? except)
    {
        if (top < 1) throw new ArgumentOutOfRangeException(nameof(top), top, "at least 1");
        if (regions.FeatureSize != Store.Manifest.FeatureSize)
            throw new InterBertException($"image {regions.Id}: {regions.FeatureSize}-d features do not fit the index's {Store.Manifest.FeatureSize}-d ones");
        float[] vector;
        using (NewDisposeScope())
            vector = UnimodalEmbedding.Image(Model, RegionCollator.Collate([regions], Store.Manifest.FeatureSize, Model.Config.MaxRegionLength)).contiguous().data<float>().ToArray();
        return Index.NearestImages(vector, top + (except is null ? 0 : 1), mode)
            .Where(hit => hit.Image.Id != except)
            .Take(top)
            .Select((hit, k) => new SearchHit(hit.Image.Id, hit.Similarity, hit.Similarity, k + 1, hit.Image.ImagePath))
            .ToList();
    }

    /// <summary>Candidates the index proposed whose features are nowhere in the store, skipped (counted once per image).</summary>
    public int ImagesWithoutFeatures => withoutFeatures.Count;

    /// <summary>Raised (on the model thread) the first time a candidate without features is skipped, with its id.</summary>
    public event Action<string>? ImageWithoutFeatures;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> withoutFeatures = new(StringComparer.Ordinal);

    /// <summary>
    /// The candidates whose features the store holds. A database index may list an image added after the store was
    /// opened (its shard is read now), or a row whose features were never extracted: that one is skipped, not a
    /// failed search.
    /// </summary>
    private List<IndexHit> WithFeatures(IReadOnlyList<IndexHit> nearest)
    {
        if (nearest.All(n => Store.Contains(n.Image.Id))) return nearest.ToList();
        Store.AddNewShards();
        var kept = new List<IndexHit>(nearest.Count);
        foreach (var hit in nearest)
        {
            if (Store.Contains(hit.Image.Id)) kept.Add(hit);
            else if (withoutFeatures.TryAdd(hit.Image.Id, true)) ImageWithoutFeatures?.Invoke(hit.Image.Id);
        }
        return kept;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (ownsModel)
        {
            modelThread.Dispose();
            Model.Dispose();
        }
        if (photos.IsValueCreated) photos.Value.Dispose();
        Store.Dispose();
        Index.Dispose();
    }
}
