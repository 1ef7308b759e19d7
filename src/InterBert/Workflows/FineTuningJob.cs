using InterBert.Data;
using InterBert.Distributed;
using InterBert.Modeling;
using InterBert.Tasks;
using InterBert.Training;
using InterBert.Weights;

namespace InterBert.Workflows;

/// <summary>
/// The <c>finetune</c> job for every task: loads the weights and the task's data, lays out the schedule (epochs count
/// examples: a step takes batch x accumulation x ranks of them) and runs the task's objective on the one trainer.
/// Returns whether it was interrupted (a checkpoint is then written); only the root rank logs.
/// </summary>
public static class FineTuningJob
{
    /// <summary>Runs the job.</summary>
    public static Trainer.Result Run(FineTuningJobOptions options, WorkflowHost host, CancellationToken cancel = default, ProcessGroup? processes = null)
    {
        processes ??= ProcessGroup.Current;
        Trainer.ClaimRunFolder(options.Output);
        var outcome = options.Task switch
        {
            "retrieval" => Retrieval(options, host, cancel, processes),
            "multiple-choice" => MultipleChoice(options, host, cancel, processes),
            "text-classification" => TextClassification(options, host, cancel, processes),
            _ => throw new InterBertException($"finetune --task {options.Task}: not available yet; expected retrieval, multiple-choice or text-classification"),
        };
        if (outcome.Cancelled && processes.IsRoot) host.Log($"finetune: interrupted at step {outcome.Step}; checkpoint written; continue with the same command{(options.Resume ? "" : " and --resume")}");
        return outcome;
    }

    private static int StepsFor(FineTuningJobOptions options, double examples, ProcessGroup processes) => options.Steps is { } steps
        ? (steps > 0 ? steps : throw new ArgumentException($"--steps {steps}: expected a positive number"))
        : Math.Max(1, (int)Math.Ceiling(options.Epochs * examples / (Math.Max(1, options.BatchSize) * Math.Max(1, options.GradientAccumulation) * processes.Size)));

    private static TrainingOptions Training(FineTuningJobOptions options, int steps) => new()
    {
        Steps = steps, BatchSize = Math.Max(1, options.BatchSize), GradientAccumulation = Math.Max(1, options.GradientAccumulation), LearningRate = options.LearningRate,
        PretrainedLearningRateMultiplier = options.PretrainedLearningRateMultiplier, Seed = options.Seed, LogEvery = Math.Max(1, options.LogEvery),
        CheckpointEvery = Math.Max(1, options.CheckpointEvery), KeepCheckpoints = Math.Max(1, options.KeepCheckpoints),
    };

    private static Trainer.Result Retrieval(FineTuningJobOptions options, WorkflowHost host, CancellationToken cancel, ProcessGroup processes)
    {
        if (options.ContrastiveBatchSize > 0 && options.ContrastiveWeight <= 0)
            throw new ArgumentException("--contrastive-batch-size sizes the contrastive loss: give --contrastive-weight above 0");
        if (options.SimilarityNegatives && options.ContrastiveWeight <= 0)
            throw new ArgumentException("--negatives similarity draws from the contrastive similarities: give --contrastive-weight above 0");
        if (options.FixedContrastiveOthers && options.ContrastiveBatchSize <= options.BatchSize)
            throw new ArgumentException("--fixed-contrastive-others fixes the vectors of a larger contrastive batch's other captions: give --contrastive-batch-size above --batch-size");
        HardNegativeReader.CheckKindHasRate(options.OwnNegativeKind, options.OwnNegativeRate);
        if (!(options.WordRegionWeight >= 0 && double.IsFinite(options.WordRegionWeight)))
            throw new ArgumentException($"--word-region-weight {options.WordRegionWeight}: expected a number, 0 or more");
        if (options.WordRegionWeight > 0 && (options.ContrastiveWeight <= 0 || options.FixedContrastiveOthers))
            throw new ArgumentException("--word-region-weight trains on the contrastive batch: it needs --contrastive-weight above 0 and no --fixed-contrastive-others");
        if (options.ResidualScore && options.ContrastiveWeight <= 0 && options.RerankerLists == 0)
            throw new ArgumentException("--residual-score corrects the first stage's cosine, which the contrastive loss trains: give --contrastive-weight above 0");
        var contrastiveWeight = Math.Max(0, options.ContrastiveWeight);
        if (options.RerankerLists > 0)
        {
            if (options.RerankerLists < 2) throw new ArgumentException($"--reranker-lists {options.RerankerLists}: a list needs the true photo and at least one other; expected 2 or more");
            if (options.ContrastiveWeight > 0 || options.SimilarityNegatives || options.ExtraNegatives > 0 || options.MineByText || options.OwnNegativeRate > 0 || options.WordRegionWeight > 0 || options.ContrastiveBatchSize > 0 || options.FixedContrastiveOthers || options.VisualMaps is not null)
                throw new ArgumentException("--reranker-lists trains the re-ranker alone over a fixed first stage: drop --contrastive-weight, --negatives, --extra-negatives, --mine-by, --own-negative-rate, --word-region-weight, --contrastive-batch-size, --fixed-contrastive-others and --visual-maps");
        }
        if (options.LateInteraction != 0 && options.RerankerLists == 0)
            throw new ArgumentException("--late-interaction adds a re-ranker trained alone over a fixed first stage: give --reranker-lists too");
        if (options.LateInteraction != 0 && (options.UntieInteraction || options.UntieExtraction))
            throw new ArgumentException("--late-interaction scores pairs without the joint pass, so there is nothing to untie: drop --untie-interaction and --untie-extraction");
        using var store = FeatureStore.Open(options.Features ?? throw new ArgumentException("--features is required for retrieval"));
        using var maps = options.VisualMaps is null ? null : VisualStageInputs.OpenMaps(options.VisualMaps);
        TorchSharp.torch.manual_seed(options.Seed);
        var (model, tokenizer, vocabulary, pretrained) = maps is null ? ModelLoading.Load(options.Init, store, options.Precision, visualStage: true, options.RegionJudgeWeight) : ModelLoading.LoadWithVisualStage(options.Init, maps.Folder, options.Precision);
        if (options.RerankerLists > 0)
        {
            // The first stage is the init's: its contrastive weight is recorded again, so that index and search take the result as a search model.
            var recorded = ModelCheckpoint.ReadMetadata(options.Init).GetValueOrDefault(ContrastiveLoss.WeightMetadataKey);
            if (recorded is null || !double.TryParse(recorded, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out contrastiveWeight) || contrastiveWeight <= 0)
            {
                model.Dispose();
                throw new InterBertException($"{options.Init}: --reranker-lists re-ranks a first stage, and these weights have none (not fine-tuned with --contrastive-weight)");
            }
        }
        if (model.HasLateInteraction && options.RerankerLists == 0)
        {
            model.Dispose();
            throw new InterBertException($"{options.Init}: these weights score pairs by a late interaction, which trains over its fixed first stage: give --reranker-lists");
        }
        if (options.PairScore is { } pairScore) model = ModelLoading.WithPairScore(model, pairScore);
        if (options.LateInteraction != 0)
        {
            try { model = ModelLoading.AddLateInteraction(model, options.LateInteraction, pretrained); }
            catch { model.Dispose(); throw; }
        }
        else if (options.UntieInteraction || options.UntieExtraction || (options.RerankerLists > 0 && !model.HasLateInteraction)) model = ModelLoading.Untie(model, pretrained, options.UntieExtraction);
        using (model)
        {
            if (maps is null && model.HasVisualStage)
                throw new InterBertException($"{options.Init}: the model computes its region features with its own CNN stage; give --visual-maps (a store written by features --layer3-maps)");
            var maxTokens = model.Config.TextLength;
            var trainCorpus = CaptionCorpus.Load(options.Dataset, [options.TrainSplit], store, tokenizer, maxTokens);
            var ownNegativeRate = Math.Clamp(options.OwnNegativeRate, 0, 1);
            if (ownNegativeRate > 0) trainCorpus = HardNegativeReader.WithOwnNegatives(trainCorpus, options.Dataset, [options.TrainSplit], tokenizer, maxTokens, "--own-negative-rate", options.OwnNegativeKind);
            if (trainCorpus.ImageIds.Count < 3) throw new InterBertException($"{options.Dataset}: retrieval fine-tuning needs at least 3 training images, found {trainCorpus.ImageIds.Count}");
            using var train = new PreparedPairs(trainCorpus, store, tokenizer.PadId, model.Config.VFeatureSize, model.Config.MaxRegionLength);
            using var validation = options.ValidationSplit == "none" ? null
                : new PreparedPairs(CaptionCorpus.Load(options.Dataset, [options.ValidationSplit], store, tokenizer, maxTokens), store, tokenizer.PadId, model.Config.VFeatureSize, model.Config.MaxRegionLength);
            if (maps is not null)
            {
                train.ComputeFeaturesWith(model, maps, store, snapshot: false);
                // Validation scores every pair: its features are computed once per validation (RetrievalObjective).
                validation?.ComputeFeaturesWith(model, maps, store, snapshot: true);
            }
            var training = Training(options, StepsFor(options, train.CaptionCount, processes));
            var root = processes.IsRoot;
            if (root)
                host.Log($"finetune retrieval: {train.CaptionCount} captions of {train.ImageCount} images, {training.Steps} steps of {training.BatchSize * training.GradientAccumulation} examples ({(options.RerankerLists > 0 ? $"the re-ranker alone{(model.HasLateInteraction ? $" (a late interaction of {model.Config.LateInteractionLayers} layers over the unimodal passes' sequences)" : "")}, each caption against its photo and its {Math.Min(options.RerankerLists, train.ImageCount) - 1} nearest photos by the first stage, which stays fixed" : $"{4 + options.ExtraNegatives} pairs each")}{(options.ContrastiveBatchSize > options.BatchSize ? $"; contrastive loss over {options.ContrastiveBatchSize} captions{(options.FixedContrastiveOthers ? ", the others' vectors without gradient" : "")}" : "")}{(options.ResidualScore ? "; the score trained as a correction to the scaled cosine" : "")}{(model.Config.UntiedInteraction ? $"; the joint pass on its own copy of the single-stream layers{(model.Config.UntiedExtraction ? ", the extraction layers and the poolers" : "")}" : "")}{(model.Config.PairScore == InterBertConfig.JointCosineScore && !model.HasLateInteraction ? "; pairs scored by the joint pass's own cosine" : "")}{(options.WordRegionWeight > 0 ? $"; word-region matching at weight {options.WordRegionWeight}" : "")})" +
                    (processes.Size > 1 ? $" per rank x {processes.Size} ranks (MPI)" : "") + (maps is null ? "" : $"; region features by the model's own {ResNetStage.Name} from {maps.Folder}, trained with it") + $"; validation on {(validation is null ? "nothing" : $"{validation.CaptionCount} captions x {validation.ImageCount} images")}; {options.Precision.Name()}");
            var setup = new RetrievalFineTuningSetup
            {
                Model = model, Train = train, Validation = validation, Training = training, RunFolder = options.Output, Vocabulary = vocabulary, LowerCase = tokenizer.LowerCase,
                PretrainedKeys = pretrained, MineEvery = options.MineEvery, ContrastiveWeight = contrastiveWeight, RerankerLists = options.RerankerLists, OwnNegativeRate = ownNegativeRate, OwnNegativeKind = ownNegativeRate > 0 ? options.OwnNegativeKind : null,
                SimilarityNegatives = options.SimilarityNegatives, ExtraNegatives = options.ExtraNegatives, ContrastiveBatchSize = Math.Max(0, options.ContrastiveBatchSize), ResidualScore = options.ResidualScore, FixedContrastiveOthers = options.FixedContrastiveOthers, WordRegionWeight = options.WordRegionWeight, MineByText = options.MineByText, Resume = options.Resume, Group = processes,
            };
            var result = host.RunStage("finetune", (progress, stop) => RetrievalFineTuning.Run(setup, new SynchronousProgress<RetrievalFineTuning.Progress>(p =>
            {
                if (root) progress.Report(new WorkflowProgress(p.Step, p.Steps, double.IsNaN(p.Loss) ? p.Status : $"step {p.Step}: loss {p.Loss:F3} lr {p.LearningRate:E1}"));
            }), stop), cancel);
            if (root && !result.Cancelled)
            {
                if (result.BestValidation is { } best) host.Log($"finetune: best validation mean recall {best.MeanRecall:F1} (text→image R@1/5/10 {best.TextToImage.R1:F1}/{best.TextToImage.R5:F1}/{best.TextToImage.R10:F1})");
                host.Log($"finetune: wrote {result.BestWeights} and {result.LastWeights}; {options.Output} is a model folder of the best");
            }
            return new Trainer.Result(result.Step, 0, result.Cancelled, new Dictionary<string, double>());
        }
    }

    private const int TrainingAccuracySample = 2000;

    private static Trainer.Result TextClassification(FineTuningJobOptions options, WorkflowHost host, CancellationToken cancel, ProcessGroup processes)
    {
        var examples = LabelledTextReader.Read(options.Dataset);
        var labels = examples.Select(e => e.Label).Distinct().Order(StringComparer.Ordinal).ToList();
        var training = Training(options, StepsFor(options, examples.Count, processes));
        TorchSharp.torch.manual_seed(training.Seed);
        // The classifier holds the backbone and its own head: the pretraining heads are not loaded, trained or saved.
        var (backbone, tokenizer, vocabulary, pretrained) = ModelLoading.LoadBackbone(options.Init, options.Precision);
        using var classifier = new TextClassifier(backbone, labels);
        var maxLength = Math.Min(128, backbone.Config.MaxPositionEmbeddings);
        var root = processes.IsRoot;
        if (root)
            host.Log($"finetune text-classification: {examples.Count} examples, {labels.Count} labels ({string.Join(", ", labels)}), {training.Steps} steps of {training.BatchSize * training.GradientAccumulation}; text-only path (no image parameter)");
        var result = host.RunStage("finetune", (progress, stop) => TextClassificationTraining.Run(classifier, tokenizer, examples, options.Dataset, training, pretrained, maxLength, options.Output,
            new SynchronousProgress<(int Step, int Steps, double Loss)>(p => { if (root) progress.Report(new WorkflowProgress(p.Step, p.Steps, $"loss {p.Loss:F3}")); }),
            stop, options.Resume, processes), cancel);
        if (!root || result.Cancelled) return result;
        classifier.Save(options.Output, vocabulary, tokenizer.LowerCase, pretrained);
        ModelFolder.Complete(options.Output, Path.Combine(options.Output, ModelFolder.WeightsFile));
        // On a large training set (SST-2's 67,349 sentences) a fixed sample says as much in a fraction of the time.
        var sample = examples.Count <= TrainingAccuracySample ? examples : [.. examples.Take(TrainingAccuracySample)];
        var measured = sample.Count == examples.Count ? "training accuracy" : $"training accuracy on the first {sample.Count:N0} examples";
        host.Log($"finetune: {measured} {100 * TextClassificationTraining.Accuracy(classifier, tokenizer, sample, options.Dataset, maxLength):F1}%; wrote {options.Output}");
        return result;
    }

    private static Trainer.Result MultipleChoice(FineTuningJobOptions options, WorkflowHost host, CancellationToken cancel, ProcessGroup processes)
    {
        using var store = FeatureStore.Open(options.Features ?? throw new ArgumentException("--features is required for multiple-choice"));
        var items = MultipleChoiceReader.Read(options.Dataset);
        foreach (var item in items) if (!store.Contains(item.ImageId)) throw new InterBertException($"{options.Dataset}: image {item.ImageId} has no features in {store.Folder}");
        // Each question gives two steps' worth of examples: Q→A and QA→R in turn.
        var training = Training(options, StepsFor(options, 2.0 * items.Count, processes) is var steps && steps > 1 ? steps : 2);
        TorchSharp.torch.manual_seed(training.Seed);
        var (model, tokenizer, vocabulary, pretrained) = ModelLoading.Load(options.Init, store, options.Precision);
        using (model)
        {
            // Multiple choice trains the joint pass's score head, which a late interaction's pair scores do not use.
            if (model.HasLateInteraction) throw new InterBertException($"{options.Init}: these weights score pairs by a late interaction; multiple choice fine-tunes the joint pass's score: start from the search model it was added to");
            var root = processes.IsRoot;
            if (root) host.Log($"finetune multiple-choice: {items.Count} questions, {training.Steps} steps of {training.BatchSize * training.GradientAccumulation} (Q->A and QA->R in turn)");
            var result = host.RunStage("finetune", (progress, stop) => MultipleChoiceTask.Train(model, items, store, tokenizer, training, pretrained, options.Output,
                new SynchronousProgress<(int Step, int Steps, double Loss)>(p => { if (root) progress.Report(new WorkflowProgress(p.Step, p.Steps, $"loss {p.Loss:F3}")); }),
                stop, options.Resume, processes), cancel);
            if (!root || result.Cancelled) return result;
            var weights = Path.Combine(options.Output, "last.safetensors");
            var metadata = ModelVocabulary.WriteBeside(weights, vocabulary, tokenizer.LowerCase);
            metadata["finetune_task"] = "multiple-choice";
            metadata[PrecisionNames.MetadataKey] = options.Precision.Name();
            PretrainedKeys.Record(metadata, pretrained);
            ModelCheckpoint.Save(model, weights, metadata);
            ModelFolder.Complete(options.Output, weights, ImagePreprocessing.Of(store.Manifest, fingerprintDetector: true));
            host.Log($"finetune: wrote {weights}; {options.Output} is its model folder");
            return result;
        }
    }
}
