using InterBert.Data;
using InterBert.Distributed;
using InterBert.Modeling;
using InterBert.Pretraining;
using InterBert.Text;
using InterBert.Training;

namespace InterBert.Workflows;

/// <summary>
/// The <c>pretrain</c> job: loads (or creates) the model, the training and validation captions and the hard-negative
/// pool, checks that model and features fit, and runs <see cref="PretrainingRun"/> on this process group.
/// </summary>
public static class PretrainingJob
{
    /// <summary>Runs the job; only the root rank logs.</summary>
    public static PretrainingRun.Result Run(PretrainingJobOptions options, WorkflowHost host, CancellationToken cancel = default, ProcessGroup? processes = null)
    {
        processes ??= ProcessGroup.Current;
        if ((options.Init is null) == (options.Preset is null)) throw new ArgumentException("give --init WEIGHTS or --preset NAME");
        HardNegativeReader.CheckKindHasRate(options.Tasks.OwnNegativeKind, options.Tasks.OwnNegativeRate);
        Trainer.ClaimRunFolder(options.Output);
        TorchSharp.torch.manual_seed(options.Seed);
        using var store = FeatureStore.Open(options.Features);
        var hasClasses = store.Manifest.ClassCount > 0 && store.Entries.All(e => e.HasClasses);
        var (model, tokenizer, vocabulary, pretrained) = options.Init is { } init ? ModelLoading.Load(init, null, options.Precision, regionJudgeWeight: options.RegionJudgeWeight) : Create(options, store, hasClasses);
        using (model)
        {
            if (model.Config.VFeatureSize != store.Manifest.FeatureSize)
                throw new InterBertException($"{store.Folder}: {store.Manifest.FeatureSize}-d region features, but the model expects v_feature_size {model.Config.VFeatureSize}");
            if (hasClasses && model.Config.VTargetSize != store.Manifest.ClassCount)
                throw new InterBertException($"{store.Folder}: {store.Manifest.ClassCount} region classes, but the model predicts v_target_size {model.Config.VTargetSize}");
            var maxTokens = model.Config.TextLength;
            var train = CaptionCorpus.Load(options.Dataset, options.TrainSplits, store, tokenizer, maxTokens);
            if (options.Tasks.OwnNegativeRate > 0) train = HardNegativeReader.WithOwnNegatives(train, options.Dataset, options.TrainSplits, tokenizer, maxTokens, "--own-negative-rate", options.Tasks.OwnNegativeKind);
            var validation = options.ValidationSplit is null or "none" ? null : CaptionCorpus.Load(options.Dataset, [options.ValidationSplit], store, tokenizer, maxTokens);
            if (validation is not null && options.ValidationCaptions is { } shown) validation = validation.FirstCaptions(shown);
            var batchSize = Math.Max(1, options.BatchSize);
            var accumulation = Math.Max(1, options.GradientAccumulation);
            var steps = options.Steps ?? (options.Epochs is { } e
                ? (int)Math.Ceiling(e * train.Captions.Count / (batchSize * accumulation))
                : throw new ArgumentException("give --steps N or --epochs N"));
            var training = new TrainingOptions
            {
                Steps = steps, BatchSize = batchSize, GradientAccumulation = accumulation, LearningRate = options.LearningRate, WarmupFraction = options.WarmupFraction,
                PretrainedLearningRateMultiplier = options.PretrainedLearningRateMultiplier, Seed = options.Seed,
                CheckpointEvery = Math.Max(1, options.CheckpointEvery), KeepCheckpoints = options.KeepCheckpoints, EvalEvery = options.EvalEvery, LogEvery = Math.Max(1, options.LogEvery),
            };
            var root = processes.IsRoot;
            if (root)
                host.Log($"pretrain: {train.Captions.Count:N0} captions of {train.ImageIds.Count:N0} images; {steps} steps of {batchSize * accumulation} pairs" +
                    (processes.Size > 1 ? $" per rank x {processes.Size} ranks (MPI)" : "") +
                    (options.Tasks.ContrastiveWeight > 0 && options.Tasks.ContrastiveBatchSize > batchSize ? $"; contrastive loss over {options.Tasks.ContrastiveBatchSize} captions" : "") + $"; {model.ParameterCounts()["total"]:N0} parameters; {options.Precision.Name()}");
            var setup = new PretrainingSetup
            {
                RunFolder = options.Output, Model = model, Tokenizer = tokenizer, Vocabulary = vocabulary, Train = train, Validation = validation, Store = store,
                Training = training, Tasks = options.Tasks with { MaxRegions = model.Config.MaxRegionLength }, PretrainedKeys = pretrained,
                HardNegatives = CaptionNeighbours.LoadOrBuild(train.Captions, train.ImageOf, options.NeighbourCache ?? CaptionNeighbours.DefaultCacheFolder),
                Resume = options.Resume, Group = processes,
            };
            // Only rank 0 reports progress and results; the other ranks work silently.
            var result = host.RunStage("pretrain", (progress, stop) => PretrainingRun.Run(setup,
                new Progress<PretrainingRun.Progress>(p => { if (root) progress.Report(new WorkflowProgress(p.Step, p.Steps,
                    $"step {p.Step}: loss {p.Loss:F3} (msm {p.Segment:F3}, mrm {p.Region:F3}, itm {p.Matching:F3}) lr {p.LearningRate:E1} {p.SamplesPerSecond:F0} pairs/s")); }), stop), cancel);
            if (!root) return result;
            foreach (var (key, value) in result.Validation) host.Log($"  {key}: {value:F4}");
            host.Log(result.Cancelled
                ? $"pretrain: interrupted at step {result.Step}; checkpoint written; continue with the same command{(options.Resume ? "" : " and --resume")}"
                : $"pretrain: {result.Step} steps ({result.SkippedNonFinite} skipped as non-finite) → {result.WeightsPath}");
            return result;
        }
    }

    /// <summary>Random weights of the preset, shaped to the store's features and classes (feature regression when it has none).</summary>
    private static (InterBertModel, WordPieceTokenizer, byte[], HashSet<string>) Create(PretrainingJobOptions options, FeatureStore store, bool hasClasses)
    {
        var vocabulary = options.Vocabulary is { } vocabPath
            ? File.Exists(vocabPath) ? File.ReadAllBytes(vocabPath) : throw new InterBertException($"{vocabPath}: vocabulary file not found")
            : options.DefaultVocabulary ?? throw new ArgumentException("a model from a preset needs a vocabulary: give --vocab FILE");
        var tokenizer = WordPieceTokenizer.Load(new MemoryStream(vocabulary), options.Vocabulary ?? "BERT-uncased vocabulary");
        var preset = InterBertConfig.FromPreset(options.Preset!);
        var config = preset with
        {
            VocabSize = tokenizer.VocabularySize, VFeatureSize = store.Manifest.FeatureSize,
            VTargetSize = hasClasses ? store.Manifest.ClassCount : preset.VTargetSize, PredictFeature = !hasClasses,
            RegionJudgeWeight = options.RegionJudgeWeight ?? 0,
        };
        var model = new InterBertModel(config) { Precision = options.Precision };
        return (model, tokenizer, vocabulary, []);
    }
}
