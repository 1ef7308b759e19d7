using InterBert.Modeling;
using InterBert.Training;
using InterBert.Weights;
using static TorchSharp.torch;

namespace InterBert.Tasks;

/// <summary>
/// Fine-tuning for caption-based image retrieval as ViLBERT and InterBERT's reference do it: each caption is scored
/// 4-way by the score head against (its image, its image with a random caption, a random image, a hard-negative
/// image) with cross-entropy. Hard negatives are mined with the current model at intervals: the images nearest to
/// each caption's own image by the image-only pooled vectors. After each epoch the
/// validation split is evaluated; the best (by mean recall) and the last weights are kept. With a contrastive weight,
/// the image-text contrastive loss over the step's captions and their images is added (search models). The loop is
/// the shared <see cref="Trainer"/>'s (<see cref="RetrievalObjective"/>): accumulation, exact resume and MPI included.
/// With <see cref="RetrievalFineTuningSetup.RerankerLists"/> it trains the re-ranker alone over a fixed first stage instead.
/// </summary>
public static class RetrievalFineTuning
{
    /// <summary>Progress after a step.</summary>
    public sealed record Progress(int Step, int Steps, double Loss, double LearningRate, string Status);

    /// <summary>What a run did: the best validation, where the weights are, the steps done and whether it was cancelled (then only its checkpoint is written).</summary>
    public sealed record Result(RetrievalMetrics? BestValidation, string BestWeights, string LastWeights, int Step = 0, bool Cancelled = false);

    /// <summary>
    /// Fine-tunes the setup's model through the one <see cref="Trainer"/>; writes <c>best.safetensors</c>,
    /// <c>last.safetensors</c> (vocabulary beside), <c>metrics.jsonl</c> and checkpoints in its run folder. With
    /// <see cref="RetrievalFineTuningSetup.Resume"/>, continues the folder's run from its last checkpoint, exactly.
    /// </summary>
    public static Result Run(RetrievalFineTuningSetup setup, IProgress<Progress>? progress = null, CancellationToken cancel = default)
    {
        var runFolder = setup.RunFolder;
        var options = setup.Training;
        using var firstStage = setup.RerankerLists > 0 ? HoldFirstStage(setup.Model) : null;
        Directory.CreateDirectory(runFolder);
        var bestPath = Path.Combine(runFolder, "best.safetensors");
        var lastPath = Path.Combine(runFolder, "last.safetensors");
        var (step, learningRate) = (0, 0.0);
        using var objective = new RetrievalObjective(setup, bestPath, status => progress?.Report(new Progress(step, options.Steps, double.NaN, learningRate, status)), cancel);
        var run = new TrainingRun(runFolder, setup.Model, setup.Model, options, setup.PretrainedKeys, setup.Resume, setup.Group)
        {
            Description = new Dictionary<string, object> { ["task"] = "retrieval", ["train_captions"] = setup.Train.CaptionCount, ["train_images"] = setup.Train.ImageCount },
        };
        var result = Trainer.Run(run, objective, progress is null ? null : new SynchronousProgress<Trainer.Progress>(p =>
        {
            (step, learningRate) = (p.Step, p.LearningRate);
            progress.Report(new Progress(p.Step, p.Steps, p.Values[0], p.LearningRate, "training"));
        }), cancel);
        if (setup.Group is { IsRoot: false } || result.Cancelled) return new Result(objective.Best, bestPath, lastPath, result.Step, result.Cancelled);
        Save(setup, lastPath, result.Step);
        if (objective.Best is null) Save(setup, bestPath, result.Step);
        // The run folder is a model folder of the model to use: the best by validation, else the last.
        ModelFolder.Complete(runFolder, bestPath, Data.ImagePreprocessing.Of(setup.Train.Features, fingerprintDetector: true));
        return new Result(objective.Best, bestPath, lastPath, result.Step);
    }

    /// <summary>
    /// Holds every weight of the first stage fixed (requires_grad off) until disposed: all but the re-ranker's own,
    /// so that training re-ranks with a new interaction over the same search vectors. The re-ranker's own weights are
    /// the late interaction (<see cref="InterBertModel.HasLateInteraction"/>) when the model has one, else the joint
    /// pass's own single-stream layers and the score head, which need an untied interaction
    /// (<see cref="InterBertConfig.UntiedInteraction"/>; otherwise the joint pass shares its layers with the search vectors).
    /// </summary>
    public static IDisposable HoldFirstStage(InterBertModel model)
    {
        string[] trained = model.HasLateInteraction ? [LateInteraction.Name + "."]
            : ["encoder." + InterBertEncoder.JointLayerName + ".", "encoder." + InterBertEncoder.JointImageLayerName + ".", InterBertBackbone.JointPoolerPrefix, InterBertModel.ScoreHeadName + "."];
        if (!model.HasLateInteraction && !model.Config.UntiedInteraction)
            throw new ArgumentException("training the re-ranker alone needs the joint pass on layers of its own: untie the model's interaction first");
        var held = model.named_parameters()
            .Where(p => p.parameter.requires_grad && !trained.Any(prefix => p.name.StartsWith(prefix, StringComparison.Ordinal)))
            .Select(p => p.parameter).ToList();
        foreach (var parameter in held) parameter.requires_grad = false;
        return new HeldParameters(held);
    }

    private sealed class HeldParameters(List<TorchSharp.Modules.Parameter> held) : IDisposable
    {
        public void Dispose()
        {
            foreach (var parameter in held) parameter.requires_grad = true;
            held.Clear();
        }
    }

    /// <summary>
    /// The caption and image indices of each example's list (<see cref="RetrievalFineTuningSetup.RerankerLists"/>):
    /// the caption with its own image first, then with each of its mined images, <c>1 + hard[c].Length</c> pairs in a row.
    /// </summary>
    public static (List<long> Captions, List<long> Images) ListIds(PreparedPairs pairs, IReadOnlyList<int> examples, int[][] hard)
    {
        var captionIds = new List<long>();
        var imageIds = new List<long>();
        foreach (var c in examples)
        {
            captionIds.AddRange(Enumerable.Repeat((long)c, 1 + hard[c].Length));
            imageIds.Add(pairs.Corpus.ImageOf[c]);
            imageIds.AddRange(hard[c].Select(i => (long)i));
        }
        return (captionIds, imageIds);
    }

    /// <summary>
    /// The loss over lists of scores [B, K] (each caption's own photo first, then its K - 1 nearest other photos by
    /// the first stage): cross-entropy with the own photo as the target, averaged over the lists that are the candidates
    /// a search re-ranks, those whose own photo the first stage puts among its K nearest (its cosine, from
    /// <paramref name="cosines"/> [B, K], at least that of one of the others). Any other list would teach the re-ranker
    /// that the photo the first stage finds least alike is the right one: there the own photo is always last by cosine.
    /// A step without such a list gives a loss of 0.
    /// </summary>
    public static Tensor ListLoss(Tensor scores, Tensor cosines)
    {
        var candidates = cosines.select(1, 0).ge(cosines.narrow(1, 1, cosines.shape[1] - 1).min(1).values).to_type(ScalarType.Float32);
        var perList = nn.functional.cross_entropy(scores, zeros(scores.shape[0], dtype: ScalarType.Int64), reduction: nn.Reduction.None);
        return (perList * candidates).sum() / candidates.sum().clamp_min(1);
    }

    /// <summary>
    /// For each caption, the images (not its own) closest to its own image by the image-only pooled vectors: images
    /// the model currently finds alike. Only images go through the model (a text pass over every caption would cost
    /// many times more), and the captions of one image share its negatives.
    /// </summary>
    public static int[][] MineHardNegatives(InterBertModel model, PreparedPairs pairs, int count)
    {
        model.eval();
        using var noGrad = no_grad();
        using var autocast = model.Autocast();
        using var scope = NewDisposeScope();
        var imageVectors = new List<Tensor>();
        for (var start = 0; start < pairs.ImageCount; start += 256)
        {
            var block = Enumerable.Range(start, Math.Min(256, pairs.ImageCount - start)).Select(i => (long)i).ToList();
            // One scope per block: only the vectors outlive it, not every layer's activations of every block.
            using var blockScope = NewDisposeScope();
            imageVectors.Add(UnimodalEmbedding.Image(model, pairs.Images(block)).MoveToOuterDisposeScope());
        }
        var vectors = cat(imageVectors, 0);
        using var fp32 = AutocastScope.Enter(Precision.Fp32); // neighbours by fp32 cosines, not bf16-rounded ones
        var similarity = matmul(vectors, vectors.t());
        similarity = similarity.masked_fill(eye(pairs.ImageCount, dtype: ScalarType.Bool), float.NegativeInfinity);
        var k = Math.Min(count, pairs.ImageCount - 1);
        var top = similarity.topk(k, dim: 1).indexes.data<long>().ToArray();
        var byImage = Enumerable.Range(0, pairs.ImageCount).Select(i => top.AsSpan(i * k, k).ToArray().Select(v => (int)v).ToArray()).ToArray();
        return pairs.Corpus.ImageOf.Select(i => byImage[i]).ToArray();
    }

    /// <summary>
    /// For each caption, the images (not its own) its text vector is closest to among all of <paramref name="pairs"/>'
    /// images: exactly the first stage's confusions, which the re-ranker then trains on. Costs a text-only pass over
    /// every caption besides the image pass.
    /// </summary>
    public static int[][] MineTextHardNegatives(InterBertModel model, PreparedPairs pairs, int count)
    {
        using var scope = NewDisposeScope();
        var (texts, images) = TwoStageRetrievalEvaluation.Vectors(model, pairs);
        using var noGrad = no_grad();
        // Blocks of captions, so that the whole captions x images matrix never exists at once.
        var imagesT = images.t();
        var k = Math.Min(count, pairs.ImageCount - 1);
        var imageOf = pairs.Corpus.ImageOf;
        var result = new int[pairs.CaptionCount][];
        for (var start = 0; start < pairs.CaptionCount; start += 1024)
        {
            using var blockScope = NewDisposeScope();
            var rows = Math.Min(1024, pairs.CaptionCount - start);
            var similarity = matmul(texts.narrow(0, start, rows), imagesT);
            var own = tensor(Enumerable.Range(start, rows).Select(c => (long)imageOf[c]).ToArray()).unsqueeze(1);
            similarity = similarity.scatter(1, own, full(rows, 1, float.NegativeInfinity));
            var top = similarity.topk(k, dim: 1).indexes.data<long>().ToArray();
            for (var r = 0; r < rows; r++) result[start + r] = top.AsSpan(r * k, k).ToArray().Select(v => (int)v).ToArray();
        }
        return result;
    }

    /// <summary>
    /// The 4B pairs of B examples: (c, i), (c', i), (c, i'), (c, i'') for each caption c of image i. With
    /// <paramref name="ownNegativeRate"/>, c' is one of image i's own known-false captions (one colour or relation
    /// changed) with that probability when it has any, so the score head must read the caption against the image.
    /// </summary>
    public static (TextBatch Text, ImageBatch Image) FourWayBatch(PreparedPairs pairs, IReadOnlyList<int> examples, int[][]? hard, Random random, double ownNegativeRate = 0)
    {
        var (captionIds, imageIds) = FourWayIds(pairs, examples, hard, random, ownNegativeRate);
        return pairs.Pairs(captionIds, imageIds);
    }

    /// <summary>
    /// The caption and image indices of <see cref="FourWayBatch"/>'s 4B pairs, four consecutive pairs per example; with
    /// <paramref name="extraNegatives"/> N, 4 + N per example, the last N the caption with N distinct random images of other photos.
    /// </summary>
    public static (List<long> Captions, List<long> Images) FourWayIds(PreparedPairs pairs, IReadOnlyList<int> examples, int[][]? hard, Random random, double ownNegativeRate = 0, int extraNegatives = 0)
    {
        var imageOf = pairs.Corpus.ImageOf;
        var width = 4 + extraNegatives;
        if (extraNegatives > 0 && pairs.ImageCount < extraNegatives + 2)
            throw new InterBertException($"{extraNegatives} extra wrong images per example need at least {extraNegatives + 2} images; the training split has {pairs.ImageCount}");
        var captionIds = new List<long>(examples.Count * width);
        var imageIds = new List<long>(examples.Count * width);
        foreach (var c in examples)
        {
            var i = imageOf[c];
            long otherCaption;
            var own = pairs.OwnNegatives(i);
            if (ownNegativeRate > 0 && own.Count > 0 && random.NextDouble() < ownNegativeRate) otherCaption = own[random.Next(own.Count)];
            else
                do otherCaption = random.Next(pairs.CaptionCount); while (imageOf[(int)otherCaption] == i);
            int otherImage;
            do otherImage = random.Next(pairs.ImageCount); while (otherImage == i);
            var hardImage = hard is not null && hard[c].Length > 0 ? hard[c][random.Next(hard[c].Length)] : otherImage;
            captionIds.AddRange([c, otherCaption, c, c]);
            imageIds.AddRange([i, i, otherImage, hardImage]);
            // Drawn after the four pairs, so that a run without extras draws exactly what it always did.
            var extras = new HashSet<int>();
            while (extras.Count < extraNegatives)
            {
                var image = random.Next(pairs.ImageCount);
                if (image != i && extras.Add(image))
                {
                    captionIds.Add(c);
                    imageIds.Add(image);
                }
            }
        }
        return (captionIds, imageIds);
    }

    /// <summary>
    /// The contrastive loss's vectors for a step's captions (its examples first, then any others of a larger contrastive
    /// batch) and their distinct images in <see cref="ContrastiveBatch.Layout"/> order. With <paramref name="fixedOthers"/>
    /// the other captions' vectors, and those of the photos only they bring, are computed without gradient: they serve
    /// as negatives only (as a queue does in MoCo and ALBEF), for a forward pass instead of a forward and backward one.
    /// </summary>
    internal static (Tensor Text, Tensor Images, int[] ImageOfText, Tensor? WordRegion) ContrastiveVectors(InterBertModel model, PreparedPairs pairs, IReadOnlyList<int> captions, int exampleCount, bool fixedOthers, bool wordRegion = false)
    {
        var (images, imageOfText) = ContrastiveBatch.Layout(captions.Select(c => pairs.Corpus.ImageOf[c]));
        static List<long> Ids(IEnumerable<int> some) => some.Select(i => (long)i).ToList();
        if (!fixedOthers || exampleCount >= captions.Count)
        {
            var (text, imageVectors, matching) = ContrastiveLoss.Vectors(model, pairs.Captions(Ids(captions)), pairs.Images(Ids(images)), wordRegion);
            return (text, imageVectors, imageOfText, matching);
        }
        if (wordRegion) throw new ArgumentException("word-region matching needs every contrastive vector with gradient, not fixed others");
        // The layout lists images in first-seen order and the examples come first, so the examples' photos lead it.
        var exampleImages = imageOfText.Take(exampleCount).Max() + 1;
        var (trainedText, trainedImages) = ContrastiveLoss.Vectors(model, pairs.Captions(Ids(captions.Take(exampleCount))), pairs.Images(Ids(images.Take(exampleImages))));
        var otherText = UnimodalEmbedding.Text(model, pairs.Captions(Ids(captions.Skip(exampleCount))));
        if (exampleImages == images.Count) return (cat([trainedText, otherText.to(trainedText.dtype)]), trainedImages, imageOfText, null);
        var otherImages = UnimodalEmbedding.Image(model, pairs.Images(Ids(images.Skip(exampleImages))));
        return (cat([trainedText, otherText.to(trainedText.dtype)]), cat([trainedImages, otherImages.to(trainedImages.dtype)]), imageOfText, null);
    }

    /// <summary>
    /// The first stage's evidence for each pair, as the re-ranking adds it: the unimodal cosine times the contrastive
    /// inverse temperature, computed without dropout and without gradient (held fixed), so that a ranking loss on
    /// score + this trains the score to correct the first stage rather than to rank on its own.
    /// </summary>
    internal static Tensor ScaledCosines(InterBertModel model, PreparedPairs pairs, IReadOnlyList<long> captions, IReadOnlyList<long> images)
    {
        var training = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            var distinctCaptions = captions.Distinct().ToList();
            var distinctImages = images.Distinct().ToList();
            var textVectors = UnimodalEmbedding.Text(model, pairs.Captions(distinctCaptions)).to(ScalarType.Float32);
            var imageVectors = UnimodalEmbedding.Image(model, pairs.Images(distinctImages)).to(ScalarType.Float32);
            var captionRow = distinctCaptions.Select((c, k) => (c, k)).ToDictionary(p => p.c, p => (long)p.k);
            var imageRow = distinctImages.Select((i, k) => (i, k)).ToDictionary(p => p.i, p => (long)p.k);
            var cosines = (textVectors.index_select(0, tensor(captions.Select(c => captionRow[c]).ToArray())) *
                imageVectors.index_select(0, tensor(images.Select(i => imageRow[i]).ToArray()))).sum(1);
            return cosines * ContrastiveLoss.Scale(model.LogitScale).to(ScalarType.Float32);
        }
        finally
        {
            if (training) model.train();
        }
    }

    /// <summary>Saves fine-tuned weights with their vocabulary, task, step, precision, contrastive weight and pretrained keys.</summary>
    internal static void Save(RetrievalFineTuningSetup setup, string path, int step)
    {
        var model = setup.Model;
        var metadata = ModelVocabulary.WriteBeside(path, setup.Vocabulary, setup.LowerCase);
        metadata["finetune_task"] = "retrieval";
        metadata["finetune_step"] = step.ToString();
        metadata[PrecisionNames.MetadataKey] = model.Precision.Name();
        if (setup.ContrastiveWeight > 0) metadata[ContrastiveLoss.WeightMetadataKey] = setup.ContrastiveWeight.ToString(System.Globalization.CultureInfo.InvariantCulture);
        PretrainedKeys.Record(metadata, setup.PretrainedKeys);
        ModelCheckpoint.Save(model, path, metadata);
    }
}
