using InterBert.Modeling;
using static TorchSharp.torch;

namespace InterBert.Tasks;

/// <summary>
/// Retrieval evaluation in two stages (ALBEF's and BLIP's protocol): every caption is compared with every image by
/// the unimodal vectors (one text pass per caption, one image pass per image), and only each caption's
/// <c>K</c> nearest images, and each image's nearest captions, are re-scored by the cross-modal model. Each image
/// gets the same share of the captions as each caption gets of the images (<c>K × captions / images</c>, rounded up),
/// so with <c>K</c> equal to the number of images every pair is re-scored and the ranks are the exhaustive ones.
/// With <c>addSimilarity</c>, a re-scored pair's score is the cross-modal score plus the unimodal cosine on the
/// contrastive loss's logit scale (BLIP-2's re-ranking adds the two the same way), so the first stage's evidence is
/// kept rather than replaced; <c>similarityWeight</c> multiplies that cosine term (1: BLIP-2's sum; a relevance
/// calibration fits it on a dev split, <see cref="RelevanceCalibration.SimilarityWeight"/>).
/// </summary>
public static class TwoStageRetrievalEvaluation
{
    /// <summary>Progress: the stage ("vectors" or "pairs") and how far it is.</summary>
    public sealed record Progress(string Stage, long Done, long Total);

    /// <summary>
    /// The metrics (re-ranked as asked), the candidates each way and the cross-modal pairs scored; from the same pass,
    /// the metrics of the other re-ranking and of the unimodal first stage alone, which show what each stage adds.
    /// </summary>
    public sealed record Result(RetrievalMetrics Metrics, int ImageCandidates, int CaptionCandidates, long PairsScored)
    {
        /// <summary>Re-scored pairs ranked by the cross-modal score alone (ALBEF).</summary>
        public RetrievalMetrics? ScoreOnly { get; init; }
        /// <summary>Re-scored pairs ranked by the cross-modal score plus the scaled cosine (BLIP-2).</summary>
        public RetrievalMetrics? ScorePlusSimilarity { get; init; }
        /// <summary>Every pair ranked by the unimodal cosine alone (the first stage, no re-scoring).</summary>
        public RetrievalMetrics? Unimodal { get; init; }
        /// <summary>With word-region matching asked: re-scored pairs ranked by its score alone (<see cref="TokenRegionMatching"/>).</summary>
        public RetrievalMetrics? WordRegionOnly { get; init; }
        /// <summary>With word-region matching asked: re-scored pairs ranked by the word-region score plus the cosine, both on the logit scale.</summary>
        public RetrievalMetrics? WordRegionPlusSimilarity { get; init; }
        /// <summary>With word-region matching asked: the cross-modal score plus the word-region score and the cosine on the logit scale.</summary>
        public RetrievalMetrics? ScorePlusWordRegionPlusSimilarity { get; init; }

        internal float[,] Scores { get; init; } = new float[0, 0];
        /// <summary>The word-region matching scores of the re-scored pairs, when asked (before the logit scale).</summary>
        internal float[,]? WordRegionScores { get; init; }
        /// <summary>The cross-modal scores of the re-scored pairs (without the cosine), whichever ranking was asked.</summary>
        internal float[,] PairScores { get; init; } = new float[0, 0];
        /// <summary>The model's contrastive inverse temperature (the cosine's weight in score + similarity, before <see cref="SimilarityWeight"/>).</summary>
        internal float SimilarityScale { get; init; }
        /// <summary>The multiplier of the scaled cosine in <see cref="ScorePlusSimilarity"/>.</summary>
        public float SimilarityWeight { get; init; } = 1;
        /// <summary>The image of each caption.</summary>
        internal IReadOnlyList<int> ImageOf { get; init; } = [];
        internal float[,] Similarity { get; init; } = new float[0, 0];
        internal bool[,] TextCandidates { get; init; } = new bool[0, 0];
        internal bool[,] ImageCandidatesOf { get; init; } = new bool[0, 0];

        /// <summary>
        /// The metrics of the re-scored pairs ranked by the score plus <paramref name="weight"/> times the scaled cosine
        /// (the rest by the cosine), from this evaluation's scores: no pair is scored again.
        /// </summary>
        public RetrievalMetrics ScorePlusWeightedSimilarity(float weight) =>
            RetrievalMetrics.FromTwoStage(Fuse(PairScores, Similarity, TextCandidates, ImageCandidatesOf, SimilarityScale * weight), Similarity, TextCandidates, ImageCandidatesOf, ImageOf);

        /// <summary>The metrics of a search ranking from this evaluation (null for a word-region ranking it did not compute).</summary>
        public RetrievalMetrics? Of(SearchRanking ranking) => ranking switch
        {
            SearchRanking.FirstStage => Unimodal,
            SearchRanking.Score => ScoreOnly,
            SearchRanking.ScoreAndSimilarity => ScorePlusSimilarity,
            SearchRanking.WordRegionAndSimilarity => WordRegionPlusSimilarity,
            _ => ScorePlusWordRegionPlusSimilarity,
        };

        /// <summary>The first <paramref name="count"/> images (indices) of a caption's ranking: re-scored candidates by score, then the rest by similarity.</summary>
        public IReadOnlyList<int> RankedImages(int caption, int count) => Enumerable.Range(0, Scores.GetLength(1))
            .OrderByDescending(i => TextCandidates[caption, i])
            .ThenByDescending(i => TextCandidates[caption, i] ? Scores[caption, i] : Similarity[caption, i])
            .ThenBy(i => i).Take(count).ToList();
    }

    /// <summary>Evaluates with <paramref name="candidates"/> images re-scored per caption.</summary>
    public static Result Evaluate(InterBertModel model, PreparedPairs pairs, int candidates, bool zeroShot, int pairsPerBatch = 64,
        IProgress<Progress>? progress = null, CancellationToken cancel = default, bool addSimilarity = false, float similarityWeight = 1,
        bool wordRegion = false)
    {
        if (!(similarityWeight >= 0 && float.IsFinite(similarityWeight))) throw new ArgumentException($"similarity weight {similarityWeight}: a number, 0 or more");
        if (candidates < 1) throw new InterBertException($"--candidates {candidates}: give a positive number of images, or 'all'");
        var captions = pairs.CaptionCount;
        var images = pairs.ImageCount;
        var imageCandidates = Math.Min(candidates, images);
        var captionCandidates = (int)Math.Min(captions, ((long)imageCandidates * captions + images - 1) / images);
        model.eval();
        // Word-region matching keeps the word and region vectors of the first stage's own passes.
        using var positions = wordRegion ? new TokenRegionScores(model, pairs) : null;
        var similarity = Similarity(model, pairs, progress, cancel, positions);

        var textCandidates = new bool[captions, images];
        var imageCandidatesOf = new bool[captions, images];
        var toScore = new HashSet<long>();
        using (var scope = NewDisposeScope())
        {
            var matrix = tensor(Flatten(similarity), [captions, images]);
            var byCaption = matrix.topk(imageCandidates, dim: 1).indexes.data<long>().ToArray();
            for (var c = 0; c < captions; c++)
                for (var k = 0; k < imageCandidates; k++)
                {
                    var i = (int)byCaption[c * imageCandidates + k];
                    textCandidates[c, i] = true;
                    toScore.Add((long)c * images + i);
                }
            var byImage = matrix.t().topk(captionCandidates, dim: 1).indexes.data<long>().ToArray();
            for (var i = 0; i < images; i++)
                for (var k = 0; k < captionCandidates; k++)
                {
                    var c = (int)byImage[i * captionCandidates + k];
                    imageCandidatesOf[c, i] = true;
                    toScore.Add((long)c * images + i);
                }
        }

        // Pairs in order of caption length, then region count: little padding in any batch.
        var ordered = toScore.Select(p => (Caption: (int)(p / images), Image: (int)(p % images)))
            .OrderBy(p => pairs.CaptionLength(p.Caption)).ThenBy(p => pairs.RegionCount(p.Image)).ThenBy(p => p.Caption).ThenBy(p => p.Image).ToList();
        var scores = new float[captions, images];
        // A late interaction reads the unimodal passes' sequences: each caption and image runs once, not once per pair.
        using var sequences = model.HasLateInteraction && !zeroShot ? UnimodalSequences.Compute(model, pairs) : null;
        using (no_grad())
        using (model.Autocast())
        {
            for (var start = 0; start < ordered.Count; start += pairsPerBatch)
            {
                cancel.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var block = ordered.GetRange(start, Math.Min(pairsPerBatch, ordered.Count - start));
                var blockCaptions = block.Select(p => (long)p.Caption).ToList();
                var blockImages = block.Select(p => (long)p.Image).ToList();
                float[] values;
                if (sequences is not null) values = PlusRegionJudge(model, sequences.Scores(model, blockCaptions, blockImages), pairs, blockCaptions, blockImages).to(ScalarType.Float32).data<float>().ToArray();
                else
                {
                    var (text, image) = pairs.Pairs(blockCaptions, blockImages);
                    values = model.PairScores(text, image, zeroShot).to(ScalarType.Float32).data<float>().ToArray();
                }
                for (var k = 0; k < block.Count; k++) scores[block[k].Caption, block[k].Image] = values[k];
                progress?.Report(new Progress("pairs", start + block.Count, ordered.Count));
            }
        }
        var scoreOnly = RetrievalMetrics.FromTwoStage(scores, similarity, textCandidates, imageCandidatesOf, pairs.Corpus.ImageOf);
        var scale = ContrastiveLoss.SimilarityScale(model);
        var fused = Fuse(scores, similarity, textCandidates, imageCandidatesOf, scale * similarityWeight);
        var withSimilarity = RetrievalMetrics.FromTwoStage(fused, similarity, textCandidates, imageCandidatesOf, pairs.Corpus.ImageOf);
        RetrievalMetrics? wordRegionOnly = null, wordRegionPlusSimilarity = null, allThree = null;
        float[,]? matching = null;
        if (wordRegion)
        {
            matching = positions!.Of(ordered, cancel);
            wordRegionOnly = RetrievalMetrics.FromTwoStage(matching, similarity, textCandidates, imageCandidatesOf, pairs.Corpus.ImageOf);
            // Search ranks by the scale times (word-region + cosine); the common scale does not change the order.
            wordRegionPlusSimilarity = RetrievalMetrics.FromTwoStage(Fuse(matching, similarity, textCandidates, imageCandidatesOf, 1), similarity, textCandidates, imageCandidatesOf, pairs.Corpus.ImageOf);
            allThree = RetrievalMetrics.FromTwoStage(Fuse(Fuse(scores, matching, textCandidates, imageCandidatesOf, scale), similarity, textCandidates, imageCandidatesOf, scale),
                similarity, textCandidates, imageCandidatesOf, pairs.Corpus.ImageOf);
        }
        return new Result(addSimilarity ? withSimilarity : scoreOnly, imageCandidates, captionCandidates, ordered.Count)
        {
            WordRegionScores = matching, WordRegionOnly = wordRegionOnly, WordRegionPlusSimilarity = wordRegionPlusSimilarity, ScorePlusWordRegionPlusSimilarity = allThree,
            ScoreOnly = scoreOnly, ScorePlusSimilarity = withSimilarity, Unimodal = RetrievalMetrics.FromScores(similarity, pairs.Corpus.ImageOf),
            Scores = addSimilarity ? fused : scores, Similarity = similarity, TextCandidates = textCandidates,
            PairScores = scores, SimilarityScale = scale, SimilarityWeight = similarityWeight, ImageOf = pairs.Corpus.ImageOf, ImageCandidatesOf = imageCandidatesOf,
        };
    }

    /// <summary>The pair scores of <see cref="InterBertModel.PairScores"/> from late-interaction scores: plus the region judge where the model weighs one.</summary>
    private static Tensor PlusRegionJudge(InterBertModel model, Tensor scores, PreparedPairs pairs, List<long> captions, List<long> images)
    {
        if (model.Config.RegionJudgeWeight <= 0) return scores;
        var (text, image) = pairs.Pairs(captions, images);
        return scores + model.Config.RegionJudgeWeight * model.GroundedLikelihood(text, image);
    }

    /// <summary>Score + <paramref name="cosineWeight"/> x cosine on the re-scored pairs (the others stay 0: they rank by the cosine).</summary>
    private static float[,] Fuse(float[,] scores, float[,] similarity, bool[,] textCandidates, bool[,] imageCandidates, float cosineWeight)
    {
        var fused = new float[scores.GetLength(0), scores.GetLength(1)];
        for (var c = 0; c < scores.GetLength(0); c++)
            for (var i = 0; i < scores.GetLength(1); i++)
                if (textCandidates[c, i] || imageCandidates[c, i]) fused[c, i] = scores[c, i] + cosineWeight * similarity[c, i];
        return fused;
    }

    /// <summary>Cosine similarity [captions, images] of the unimodal (pooled, normalised) vectors, in fp32.</summary>
    public static float[,] Similarity(InterBertModel model, PreparedPairs pairs, IProgress<Progress>? progress = null, CancellationToken cancel = default) =>
        Similarity(model, pairs, progress, cancel, positions: null);

    private static float[,] Similarity(InterBertModel model, PreparedPairs pairs, IProgress<Progress>? progress, CancellationToken cancel, TokenRegionScores? positions)
    {
        using var scope = NewDisposeScope();
        var (text, images) = Vectors(model, pairs, progress, cancel, positions);
        var values = matmul(text, images.t()).data<float>().ToArray();
        var result = new float[pairs.CaptionCount, pairs.ImageCount];
        Buffer.BlockCopy(values, 0, result, 0, values.Length * sizeof(float));
        return result;
    }

    /// <summary>
    /// The unimodal (pooled, normalised) vectors of every caption, in caption order [captions, D], and of every image
    /// [images, D], in fp32, in the caller's dispose scope (no gradient).
    /// </summary>
    public static (Tensor Text, Tensor Images) Vectors(InterBertModel model, PreparedPairs pairs, IProgress<Progress>? progress = null, CancellationToken cancel = default) =>
        Vectors(model, pairs, progress, cancel, positions: null);

    /// <summary>The same vectors; with <paramref name="positions"/>, the same passes also fill in every caption's word and image's region vectors.</summary>
    internal static (Tensor Text, Tensor Images) Vectors(InterBertModel model, PreparedPairs pairs, IProgress<Progress>? progress, CancellationToken cancel, TokenRegionScores? positions)
    {
        const int block = 128;
        model.eval();
        using var noGrad = no_grad();
        var total = (long)pairs.CaptionCount + pairs.ImageCount;
        var done = 0L;
        // Captions by length, so a block pads little; the vectors go back to caption order below.
        var captionOrder = Enumerable.Range(0, pairs.CaptionCount).OrderBy(pairs.CaptionLength).ThenBy(c => c).ToArray();
        var textVectors = new List<Tensor>();
        var imageVectors = new List<Tensor>();
        using (model.Autocast())
        {
            for (var start = 0; start < captionOrder.Length; start += block)
            {
                cancel.ThrowIfCancellationRequested();
                var rows = captionOrder.Skip(start).Take(block).Select(c => (long)c).ToList();
                // One scope per block: only the vectors outlive it, not every layer's activations of every block.
                using var blockScope = NewDisposeScope();
                var text = pairs.Captions(rows);
                var output = model.Forward(text, null);
                positions?.AddCaptions(model, output, text, rows);
                textVectors.Add(nn.functional.normalize(output.PooledText!, dim: 1).to(ScalarType.Float32).MoveToOuterDisposeScope());
                progress?.Report(new Progress("vectors", done += rows.Count, total));
            }
            for (var start = 0; start < pairs.ImageCount; start += block)
            {
                cancel.ThrowIfCancellationRequested();
                var rows = Enumerable.Range(start, Math.Min(block, pairs.ImageCount - start)).Select(i => (long)i).ToList();
                using var blockScope = NewDisposeScope();
                var image = pairs.Images(rows);
                var output = model.Forward(null, image);
                positions?.AddImages(model, output, image, rows);
                imageVectors.Add(nn.functional.normalize(output.PooledImage!, dim: 1).to(ScalarType.Float32).MoveToOuterDisposeScope());
                progress?.Report(new Progress("vectors", done += rows.Count, total));
            }
        }
        var sortedText = cat(textVectors, 0);
        return (zeros_like(sortedText).index_copy(0, tensor(captionOrder.Select(c => (long)c).ToArray()), sortedText), cat(imageVectors, 0));
    }

    private static float[] Flatten(float[,] matrix)
    {
        var flat = new float[matrix.Length];
        Buffer.BlockCopy(matrix, 0, flat, 0, flat.Length * sizeof(float));
        return flat;
    }
}
