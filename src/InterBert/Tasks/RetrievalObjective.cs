using System.Text.Json;
using System.Text.Json.Serialization;
using InterBert.Data;
using InterBert.Distributed;
using InterBert.Modeling;
using InterBert.Training;
using InterBert.Weights;
using static TorchSharp.torch;

namespace InterBert.Tasks;

/// <summary>
/// Retrieval fine-tuning as a <see cref="ITrainingObjective"/> (see <see cref="RetrievalFineTuning"/>): the 4-way
/// ranking loss over mined hard negatives, plus the contrastive loss when weighted. Its own state, checkpointed for an
/// exact resume: the hard negatives last mined and the best validation so far.
/// </summary>
internal sealed class RetrievalObjective(RetrievalFineTuningSetup setup, string bestPath, Action<string>? status, CancellationToken cancel) : ITrainingObjective, IDisposable
{
    private readonly InterBertModel model = setup.Model;
    private readonly PreparedPairs train = setup.Train;
    private readonly PreparedPairs? validation = setup.Validation;
    private readonly TrainingOptions options = setup.Training;
    // Training the re-ranker alone holds the first stage fixed: no contrastive loss runs (its weight is only recorded).
    private readonly double contrastiveWeight = setup.RerankerLists > 0 ? 0 : setup.ContrastiveWeight;
    private readonly int lists = setup.RerankerLists > 0 ? Math.Min(setup.RerankerLists, setup.Train.ImageCount) : 0;
    private readonly double ownNegativeRate = setup.OwnNegativeRate;
    private int Width => lists > 0 ? lists : 4 + setup.ExtraNegatives; // pairs per example (a list's length)
    private const string StateFile = "retrieval.json";
    private readonly EpochCursor order = new(setup.Train.CaptionCount, setup.Training.Seed);
    private readonly int stepsPerEpoch = Math.Max(1, (int)Math.Ceiling((double)setup.Train.CaptionCount / setup.Training.BatchSize));
    private int[][]? hard;
    // With a late interaction over the fixed first stage, its inputs: every caption's and image's unimodal sequences, computed once.
    private UnimodalSequences? sequences;

    /// <summary>The best validation so far (by mean recall).</summary>
    public RetrievalMetrics? Best { get; private set; }

    /// <inheritdoc/>
    public string Fingerprint => FormattableString.Invariant($"retrieval mine-every={MineEvery} contrastive={contrastiveWeight} own-negatives={ownNegativeRate}") + (setup.OwnNegativeKind is { } kind ? $" own-kind={kind}" : "") +
        (setup.SimilarityNegatives ? " negatives=similarity" : "") + (setup.MineByText ? " mine=text" : "") + (setup.ExtraNegatives > 0 ? $" extra-negatives={setup.ExtraNegatives}" : "") +
        (setup.Train.ComputesFeaturesPerBatch ? $" visual={Modeling.ResNetStage.Name}" : "") +
        (setup.ContrastiveBatchSize > 0 ? $" contrastive-batch={setup.ContrastiveBatchSize}" : "") + (setup.ResidualScore ? " residual-score" : "") + (setup.FixedContrastiveOthers ? " contrastive-others=fixed" : "") +
        (setup.Model.Config.UntiedInteraction ? " untied-interaction" : "") + (setup.Model.Config.UntiedExtraction ? " untied-extraction" : "") + (setup.WordRegionWeight > 0 ? FormattableString.Invariant($" word-region={setup.WordRegionWeight}") : "") +
        (lists > 0 ? $" reranker-lists={lists}" : "") + (setup.Model.HasLateInteraction ? $" late-interaction={setup.Model.Config.LateInteractionLayers}" : "");

    /// <inheritdoc/>
    public IReadOnlyList<string> ValueNames { get; } = ["loss"];

    private int MineEvery => setup.MineEvery > 0 ? setup.MineEvery : stepsPerEpoch;

    /// <inheritdoc/>
    public void BeforeStep(int step)
    {
        if (lists > 0)
        {
            // The first stage is held fixed, so its confusions are mined once (and restored with a checkpoint), and a late
            // interaction's inputs are computed once (again after a resume: the same fixed passes give the same sequences).
            if (hard is null)
            {
                status?.Invoke("mining each caption's nearest photos by the first stage");
                hard = RetrievalFineTuning.MineTextHardNegatives(model, train, lists - 1);
            }
            if (model.HasLateInteraction && sequences is null)
            {
                status?.Invoke("computing every caption's and photo's unimodal sequences");
                sequences = UnimodalSequences.Compute(model, train);
            }
            return;
        }
        if (step % MineEvery != 0 || train.ImageCount <= 2) return;
        status?.Invoke("mining hard negatives");
        hard = setup.MineByText ? RetrievalFineTuning.MineTextHardNegatives(model, train, 8) : RetrievalFineTuning.MineHardNegatives(model, train, 8);
    }

    /// <inheritdoc/>
    public ObjectiveLoss Loss(int step, int micro, ProcessGroup processes)
    {
        var everyRank = StepBatch.Global(order, step, micro, options, processes);
        // The wrong captions and images are drawn for the whole global batch from one source per (step, micro-batch),
        // and each rank takes its share: the ranks together train on exactly the pairs one process would.
        var random = new Random(unchecked(options.Seed * 1_000_003 + step) ^ (micro * 7_919));
        var (captionIds, imageIds) = lists > 0 ? RetrievalFineTuning.ListIds(train, everyRank, hard!) : RetrievalFineTuning.FourWayIds(train, everyRank, hard, random, ownNegativeRate, setup.ExtraNegatives);
        var first = StepBatch.FirstOfRank(options, processes);
        var examples = everyRank.Skip(first).Take(options.BatchSize).ToList();
        Tensor loss;
        using (model.Autocast())
        {
            Tensor? contrastiveLoss = null; // weighted
            var contrastiveCaptions = ContrastiveCaptions(examples, step, micro, processes.Rank);
            (Tensor Loss, Tensor Text, Tensor Images, int[] ImageOfText) ContrastivePass()
            {
                var wordRegion = setup.WordRegionWeight > 0;
                var (textVectors, imageVectors, imageOfText, matching) = RetrievalFineTuning.ContrastiveVectors(model, train, contrastiveCaptions, examples.Count, setup.FixedContrastiveOthers, wordRegion);
                var passLoss = ContrastiveLoss.FromVectors(textVectors, imageVectors, imageOfText, model.LogitScale) * contrastiveWeight;
                // The word-region scores are contrasted at the first stage's temperature, held fixed: this loss trains
                // the words and regions, not the scale the search vectors' loss learns.
                if (matching is not null)
                    passLoss = passLoss + ContrastiveLoss.FromLogits(matching * ContrastiveLoss.Scale(model.LogitScale).detach(), imageOfText) * setup.WordRegionWeight;
                return (passLoss, textVectors, imageVectors, imageOfText);
            }
            if (contrastiveWeight > 0 && setup.SimilarityNegatives)
            {
                // The contrastive pass first: its similarities choose the wrong image and caption of each example (this rank's share of the batch).
                (contrastiveLoss, var textVectors, var imageVectors, var imageOfText) = ContrastivePass();
                DrawSimilarNegatives(captionIds, imageIds, first, examples.Count, contrastiveCaptions, imageOfText, textVectors, imageVectors, step, micro);
            }
            var pairCaptions = captionIds.GetRange(Width * first, Width * examples.Count);
            var pairImages = imageIds.GetRange(Width * first, Width * examples.Count);
            Tensor scores;
            Tensor? cosines = null; // scaled, of the lists' pairs
            if (sequences is not null)
            {
                scores = sequences.Scores(model, pairCaptions, pairImages).view(examples.Count, Width);
                if (lists > 0 || setup.ResidualScore) cosines = sequences.ScaledCosines(model, pairCaptions, pairImages).view(examples.Count, Width);
            }
            else
            {
                var (text, image) = train.Pairs(pairCaptions, pairImages);
                scores = model.Score(model.Forward(text, image)).view(examples.Count, Width);
                if (lists > 0 || setup.ResidualScore) cosines = RetrievalFineTuning.ScaledCosines(model, train, pairCaptions, pairImages).view(examples.Count, Width);
            }
            if (setup.ResidualScore) scores = scores + cosines!;
            if (lists > 0) loss = RetrievalFineTuning.ListLoss(scores, cosines!);
            else loss = nn.functional.cross_entropy(scores, zeros(examples.Count, dtype: ScalarType.Int64));
            if (contrastiveWeight > 0 && contrastiveLoss is null) contrastiveLoss = ContrastivePass().Loss;
            // Already weighted: the contrastive loss times its weight, plus word-region matching's times its own.
            if (contrastiveLoss is not null) loss = loss + contrastiveLoss;
        }
        return new ObjectiveLoss(loss, [loss.item<float>()], examples.Count);
    }

    /// <summary>
    /// The captions of the step's contrastive loss: the examples, then (with a contrastive batch size above their
    /// count) distinct other training captions drawn at random from a source of their own, so that every other draw
    /// of the step stays that of a run without them.
    /// </summary>
    private List<int> ContrastiveCaptions(List<int> examples, int step, int micro, int rank)
    {
        var random = new Random(unchecked(options.Seed * 15_485_863 + step * 104_723) ^ (micro * 7_927) ^ (rank * 1_299_709));
        return ContrastiveBatch.Captions(examples, setup.ContrastiveBatchSize, train.CaptionCount, random);
    }

    /// <summary>
    /// Replaces each example's random wrong image (pair 3 of 4) and random wrong caption (pair 2, unless it is one of
    /// the image's own known-false captions) with ones drawn from the batch in proportion to exp(scale x cosine).
    /// </summary>
    private void DrawSimilarNegatives(List<long> captionIds, List<long> imageIds, int first, int exampleCount, List<int> captions, int[] imageOfText,
        Tensor textVectors, Tensor imageVectors, int step, int micro)
    {
        // The contrastive images by their position in its layout: caption k's image sits at imageOfText[k].
        var batchImages = new int[imageVectors.shape[0]];
        for (var k = 0; k < captions.Count; k++) batchImages[imageOfText[k]] = train.Corpus.ImageOf[captions[k]];
        var (similarity, scale) = SimilarityNegatives.Cosines(textVectors, imageVectors, model.LogitScale);
        // Its own source, so that the random draws of the other pairs stay those of a run without this option.
        var random = new Random(unchecked(options.Seed * 7_368_787 + step * 31) ^ (micro * 104_729));
        SimilarityNegatives.Replace(captionIds, imageIds, first, exampleCount, captions, imageOfText, batchImages, similarity, scale, random, train.CaptionCount, setup.ExtraNegatives);
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, double>? Validate(int step, bool last)
    {
        if (validation is null || !(last || step % stepsPerEpoch == 0)) return null;
        status?.Invoke("validating");
        validation.RecomputeFeatures();
        var result = RetrievalMetrics.FromScores(RetrievalScorer.ScoreAll(model, validation, zeroShot: false, cancel: cancel), validation.Corpus.ImageOf);
        if (Best is null || result.MeanRecall > Best.MeanRecall)
        {
            Best = result;
            RetrievalFineTuning.Save(setup, bestPath, step);
        }
        return new Dictionary<string, double>
        {
            ["t2i_R@1"] = result.TextToImage.R1, ["t2i_R@5"] = result.TextToImage.R5, ["t2i_R@10"] = result.TextToImage.R10, ["mean_recall"] = result.MeanRecall,
        };
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, string> CheckpointMetadata() => CheckpointManager.Metadata(setup.LowerCase, model.Precision, setup.PretrainedKeys);

    /// <inheritdoc/>
    public void SaveState(string checkpointFolder) =>
        File.WriteAllText(Path.Combine(checkpointFolder, StateFile), JsonSerializer.Serialize(new SavedState(hard, Best)));

    /// <inheritdoc/>
    public void RestoreState(string checkpointFolder)
    {
        var path = Path.Combine(checkpointFolder, StateFile);
        if (!File.Exists(path)) throw new CheckpointException($"{checkpointFolder}: no {StateFile}: not a retrieval fine-tuning checkpoint");
        var saved = JsonSerializer.Deserialize<SavedState>(File.ReadAllText(path)) ?? throw new CheckpointException($"{path}: empty");
        (hard, Best) = (saved.Hard, saved.Best);
    }

    /// <inheritdoc/>
    public void Dispose() => sequences?.Dispose();

    private sealed record SavedState([property: JsonPropertyName("hard_negatives")] int[][]? Hard, [property: JsonPropertyName("best")] RetrievalMetrics? Best);
}
