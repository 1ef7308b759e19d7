using System.Diagnostics;
using System.Text.Json;
using InterBert.Data;
using InterBert.Modeling;
using InterBert.Pretraining;
using InterBert.Synthetic;
using InterBert.Tasks;
using InterBert.Text;
using InterBert.Training;
using InterBert.Vision;
using InterBert.Weights;

namespace InterBert.Workflows;

/// <summary>
/// The end-to-end demonstration: synthetic scenes → region features → initial weights → pretraining (MSM + MRM + ITM)
/// → zero-shot retrieval → retrieval fine-tuning from the pretrained model and, alongside, from the model that skipped
/// multimodal pretraining → evaluation of both → a Markdown report with plots. Each stage's results are reused when
/// its inputs did not change, so an interrupted run continues where it stopped.
/// </summary>
public sealed class DemoRecipe
{
    private readonly string folder;
    private readonly DemoRecipeOptions settings;
    private readonly WorkflowHost host;
    private readonly StagedRun stages;

    /// <summary>Prepares a run in <paramref name="folder"/>.</summary>
    public DemoRecipe(string folder, DemoRecipeOptions settings, WorkflowHost? host = null)
    {
        CheckSettings(settings);
        this.folder = folder;
        this.settings = settings;
        this.host = host ?? new WorkflowHost();
        // The report shows the runs' loss curves.
        Training.TrainingPlots.Enable();
        stages = new StagedRun(folder, "demo", (settings.Baseline ? 12 : 10) + (settings.RelationCurriculumSteps > 0 ? 1 : 0) + (settings.GroundingCurriculumSteps > 0 ? GroundingStages.Length + 1 : 0), this.host, @"mm\:ss");
    }

    /// <summary>Refuses settings out of range with an <see cref="ArgumentException"/> naming the option, before anything is written.</summary>
    public static void CheckSettings(DemoRecipeOptions settings)
    {
        // Refused before any stage runs, not when the fine-tuning reaches it.
        HardNegativeReader.CheckKindHasRate(settings.OwnNegativeKind, Math.Min(settings.OwnNegativeRate, settings.FinetuneOwnNegativeRate));
        if (settings.RelationCurriculumSteps < 0 || settings.RelationCurriculumSteps >= settings.PretrainSteps)
            throw new ArgumentException($"--relation-curriculum {settings.RelationCurriculumSteps}: from 0 to fewer than the {settings.PretrainSteps} pretraining steps");
        if (settings.GroundingCurriculumSteps < 0) throw new ArgumentException($"--grounding-curriculum {settings.GroundingCurriculumSteps}: steps per stage, 0 or more");
        if (settings.GroundingLearningRate is { } groundingRate && !(groundingRate > 0 && double.IsFinite(groundingRate))) throw new ArgumentException($"--grounding-lr {groundingRate}: a learning rate above 0");
        if (settings.GroundingWarmupFraction is { } warmup && !(warmup >= 0 && warmup < 1)) throw new ArgumentException($"--grounding-warmup {warmup}: a share of the steps, from 0 to below 1");
        if (!(settings.GroundingFirstStagePretrainedMultiplier >= 0 && settings.GroundingFirstStagePretrainedMultiplier <= 1))
            throw new ArgumentException($"--grounding-start-multiplier {settings.GroundingFirstStagePretrainedMultiplier}: a multiplier from 0 to 1");
        if (settings.GroundingBatch < 0) throw new ArgumentException($"--grounding-batch {settings.GroundingBatch}: pairs per step, 0 (the pretraining's batch) or more");
        if (!(settings.RegionJudgeWeight >= 0 && double.IsFinite(settings.RegionJudgeWeight))) throw new ArgumentException($"--region-judge-weight {settings.RegionJudgeWeight}: a number, 0 or more");
        if (!(settings.FinetunePretrainedLearningRateMultiplier > 0 && double.IsFinite(settings.FinetunePretrainedLearningRateMultiplier)))
            throw new ArgumentException($"--finetune-pretrained-lr-multiplier {settings.FinetunePretrainedLearningRateMultiplier}: a number above 0");
    }

    private string Scenes => Path.Combine(folder, "scenes");
    private string Dataset => Path.Combine(Scenes, SyntheticDataset.DatasetFileFor(settings.Language));
    private string Features => Path.Combine(folder, "features");
    private string InitialWeights => Path.Combine(folder, "init", "model.safetensors");
    private string OneWayDataset => Path.Combine(Scenes, SyntheticDataset.OneWayDatasetFileFor(settings.Language));
    private string OneWayPretrainFolder => Path.Combine(folder, "pretrain-one-way");
    private string GroundingFolder(string stage) => Path.Combine(folder, "ground-" + stage);

    /// <summary>The stage names of the grounding curriculum, in order: the scene layouts, then the four stages.</summary>
    public static IReadOnlyList<string> GroundingStageNames => ["ground-layouts", .. GroundingStages.Select(s => "ground-" + s.Name)];

    /// <summary>The grounding curriculum's store of scene layouts (boxes and classes, no features).</summary>
    private string GroundingFeatures => Path.Combine(folder, "ground-features");

    /// <summary>The grounding curriculum's stages: name, share of the two-object scenes stated both ways, and how it is said.</summary>
    private static readonly (string Name, double BothWays, string Title)[] GroundingStages =
        [("one-way", 0, "every relation one way (left, above)"), ("third", 1 / 3.0, "a third of the scenes both ways"), ("two-thirds", 2 / 3.0, "two thirds both ways"), ("both-ways", 1, "every scene both ways")];
    private string PretrainFolder => Path.Combine(folder, "pretrain");
    private string PretrainedWeights => Path.Combine(PretrainFolder, "model.safetensors");
    private string EvaluationFolder => Path.Combine(folder, "eval");

    /// <summary>The search index of the test scenes, built with the fine-tuned pretrained model.</summary>
    public string IndexFolder => Path.Combine(folder, "index");

    /// <summary>The report's path.</summary>
    public string ReportPath => Path.Combine(folder, "report.md");

    /// <summary>Runs (or continues) every stage; returns false when interrupted.</summary>
    public bool Run(CancellationToken cancel = default)
    {
        bool Stage(string name, string title, string fingerprint, string? output, Func<IProgress<WorkflowProgress>, CancellationToken, bool> work) =>
            stages.Stage(name, title, fingerprint, output, work, cancel);
        var fingerprint = settings.Fingerprint("scenes");
        if (!Stage("scenes", $"render {settings.Images} scenes", fingerprint, Scenes, RenderScenes)) return false;
        fingerprint += "|" + settings.Fingerprint("features");
        if (!Stage("features", "extract region features (given boxes)", fingerprint, Features, ExtractFeatures)) return false;
        var initFingerprint = fingerprint + "|" + settings.Fingerprint("init");
        if (!Stage("init", settings.Language == "en" ? "initial weights from MiniLM" : settings.ChineseLayersFromMiniLm ? "character vocabulary into MiniLM's layers" : "character vocabulary and random weights", initFingerprint, Path.GetDirectoryName(InitialWeights)!, Initialise)) return false;
        // The grounding curriculum's stages, each from the last one's weights; the pretraining starts from the last.
        var start = InitialWeights;
        var grounding = settings.GroundingCurriculumSteps;
        var groundingFingerprint = initFingerprint;
        if (grounding > 0)
        {
            groundingFingerprint += $"|grounding-layouts v1 scenes={settings.GroundingSceneCount}";
            if (!Stage("ground-layouts", $"lay out {settings.GroundingSceneCount} scenes' boxes and classes for grounding (nothing rendered)", groundingFingerprint, GroundingFeatures, WriteGroundingLayouts)) return false;
        }
        foreach (var (name, share, title) in grounding > 0 ? GroundingStages : [])
        {
            var from = start;
            var multiplier = from == InitialWeights ? settings.GroundingFirstStagePretrainedMultiplier : 1;
            var output = GroundingFolder(name);
            groundingFingerprint += $"|grounding v3 {name} steps={grounding} lr={settings.GroundingLearningRate ?? settings.PretrainLearningRate} precision={settings.Precision.Name()} seed={settings.Seed}" +
                (settings.GroundingBatch > 0 ? $" true-pairs batch={settings.GroundingBatch}" : "") + (settings.GroundingWarmupFraction is { } warmup ? $" warmup={warmup}" : "") +
                (settings.GroundingFirstStagePretrainedMultiplier != 1 ? $" start-multiplier={settings.GroundingFirstStagePretrainedMultiplier}" : "");
            if (!Stage("ground-" + name, $"ground relations in the two-object scenes, {title} ({grounding} steps)", groundingFingerprint, output,
                    (p, c) => Ground(share, from, output, multiplier, p, c))) return false;
            start = Path.Combine(output, "model.safetensors");
        }
        // Pretraining follows from the grounding stages' weights, so a change to them is a change to it.
        var pretrainFingerprint = groundingFingerprint + "|" + settings.Fingerprint("pretrain");
        var curriculum = settings.RelationCurriculumSteps;
        if (curriculum > 0 && !Stage("pretrain-one-way", $"pretrain {curriculum} steps with every relation stated one way (left, above)", pretrainFingerprint + "|one-way", OneWayPretrainFolder,
                (p, c) => Pretrain(OneWayDataset, start, OneWayPretrainFolder, curriculum, p, c))) return false;
        var pretrainFrom = curriculum > 0 ? Path.Combine(OneWayPretrainFolder, "model.safetensors") : start;
        if (!Stage("pretrain", $"pretrain {settings.PretrainSteps - curriculum} steps (MSM + MRM + ITM){(curriculum > 0 ? ", from the one-way model" : grounding > 0 ? ", from the grounded model" : "")}", pretrainFingerprint, PretrainFolder,
                (p, c) => Pretrain(Dataset, pretrainFrom, PretrainFolder, settings.PretrainSteps - curriculum, p, c))) return false;
        var evaluate = settings.Fingerprint("evaluate");
        if (!Stage("zero-shot", "zero-shot retrieval (matching head)", pretrainFingerprint + "|zero-shot|" + evaluate, null,
                (p, c) => Evaluate("zero-shot", PretrainedWeights, zeroShot: true, p, c))) return false;
        var finetune = settings.Fingerprint("finetune");
        var pretrainedRun = Path.Combine(folder, "finetune-pretrained");
        var baselineRun = Path.Combine(folder, "finetune-baseline");
        if (!Stage("finetune-pretrained", $"fine-tune retrieval from the pretrained model ({settings.FinetuneSteps} steps)", pretrainFingerprint + "|" + finetune, pretrainedRun,
                (p, c) => Finetune(PretrainedWeights, pretrainedRun, p, c))) return false;
        if (!Stage("evaluate-pretrained", "evaluate the fine-tuned pretrained model", pretrainFingerprint + "|" + finetune + "|" + evaluate, null,
                (p, c) => Evaluate("finetuned-pretrained", Path.Combine(pretrainedRun, "last.safetensors"), zeroShot: false, p, c))) return false;
        if (!Stage("index", "index the test scenes for search", pretrainFingerprint + "|" + finetune + "|" + settings.Fingerprint("index"), IndexFolder,
                (p, c) => BuildIndex(pretrainedRun, p, c))) return false;
        if (!Stage("calibrate", "fit the search model's relevance calibration on the validation scenes", pretrainFingerprint + "|" + finetune + "|" + settings.Fingerprint("calibrate"), null,
                (p, c) => Calibrate(pretrainedRun, p, c))) return false;
        if (settings.Baseline && !Stage("finetune-baseline", $"fine-tune retrieval without multimodal pretraining ({settings.FinetuneSteps} steps)", initFingerprint + "|" + finetune, baselineRun,
                (p, c) => Finetune(InitialWeights, baselineRun, p, c))) return false;
        if (settings.Baseline && !Stage("evaluate-baseline", "evaluate the fine-tuned baseline", initFingerprint + "|" + finetune + "|" + evaluate, null,
                (p, c) => Evaluate("finetuned-baseline", Path.Combine(baselineRun, "last.safetensors"), zeroShot: false, p, c))) return false;
        // The report is cheap: always rewritten, so it shows this run's timings.
        stages.Last("write the report");
        DemoReport.Write(folder, settings, Results(), stages.Cache, stages.Elapsed);
        return true;
    }

    /// <summary>The evaluations written so far, by name.</summary>
    public Dictionary<string, DemoEvaluation> Results() =>
        new[] { "zero-shot", "finetuned-baseline", "finetuned-pretrained" }
            // A baseline left in the folder by an earlier run is not this run's.
            .Where(name => settings.Baseline || name != "finetuned-baseline")
            .Select(name => Path.Combine(EvaluationFolder, name + ".json"))
            .Where(File.Exists)
            .Select(path => JsonSerializer.Deserialize<DemoEvaluation>(File.ReadAllText(path))!)
            .ToDictionary(e => e.Model);

    private bool RenderScenes(IProgress<WorkflowProgress> progress, CancellationToken cancel)
    {
        try
        {
            SyntheticDataset.Write(Scenes, SceneOptions,
                new Progress<SyntheticDataset.Progress>(p => progress.Report(new WorkflowProgress(p.Done, p.Total, "scenes"))), cancel);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private bool ExtractFeatures(IProgress<WorkflowProgress> progress, CancellationToken cancel)
    {
        var images = DatasetReader.Read(Dataset).Select(i => (i.Id, i.Location)).ToList();
        var boxes = RegionBoxFile.Read(Path.Combine(Scenes, SyntheticDataset.ObjectsFile));
        using var extractor = RegionFeatureExtractor.Open(null, 8, settings.Threads, parallelImages: true);
        var result = FeatureExtractionJob.Run(images, extractor, boxes, Features, float16: false, skipBad: false, progress: new Progress<FeatureExtractionJob.Progress>(
            p => progress.Report(new WorkflowProgress(p.Done, p.Total, "images"))), cancel: cancel);
        return !result.Cancelled;
    }

    private bool Initialise(IProgress<WorkflowProgress> progress, CancellationToken cancel)
    {
        TorchSharp.torch.manual_seed(settings.Seed);
        // Masked region modeling predicts each region's class (its shape, colour and size, from the scene's objects file), as the paper's KL task.
        int classes;
        using (var store = FeatureStore.Open(Features)) classes = store.Manifest.ClassCount;
        var config = InterBertConfig.FromPreset(settings.Preset) with { VTargetSize = classes, MaxSeqLength = 64, GeometryAttentionBias = settings.GeometryBias, VLocationFrequencies = settings.LocationFrequencies };
        if (settings.Language == "en")
        {
            RecipeTraining.FromMiniLm(config, settings.Preset, InitialWeights);
            return true;
        }
        // No Chinese weights ship: learn a character vocabulary from the training captions; the text path starts random,
        // or from MiniLM's layers with that vocabulary transplanted.
        var vocabularyPath = Path.Combine(folder, "init", "characters.vocab.txt");
        var vocabulary = RecipeTraining.LearnVocabulary(Dataset, vocabularyPath, 512);
        if (!settings.ChineseLayersFromMiniLm)
        {
            RecipeTraining.RandomWeights(config, vocabularyPath, vocabulary, InitialWeights);
            return true;
        }
        var (shared, added, aligned) = RecipeTraining.FromMiniLmWithVocabulary(config, settings.Preset, vocabulary, vocabularyPath, InitialWeights,
            settings.AlignedCharacters ? ParallelTrainingCaptions() : null);
        progress.Report(new WorkflowProgress(1, 1, $"{shared} of {shared + added} tokens start from MiniLM's embeddings ({aligned} through the English captions they align to)"));
        return true;
    }

    /// <summary>The training scenes' captions in English and in Chinese, which the scenes write in the same order.</summary>
    private IEnumerable<(string English, string Other)> ParallelTrainingCaptions()
    {
        var english = DatasetReader.Read(Path.Combine(Scenes, SyntheticDataset.DatasetFileFor("en"))).Where(i => i.Split == "train").ToDictionary(i => i.Id);
        foreach (var image in DatasetReader.Read(Dataset).Where(i => i.Split == "train"))
        {
            if (!english.TryGetValue(image.Id, out var translated) || translated.Captions.Count != image.Captions.Count) continue;
            for (var k = 0; k < image.Captions.Count; k++) yield return (translated.Captions[k], image.Captions[k]);
        }
    }

    private bool Pretrain(string dataset, string init, string output, int steps, IProgress<WorkflowProgress> progress, CancellationToken cancel)
    {
        var options = RecipeTraining.Pretraining(settings, dataset, Features, init, output, Path.Combine(folder, "cache"));
        return RecipeTraining.Run(options with
        {
            // A checkpoint (weights and optimizer state, about 350 MB in English) costs 0.5-2 s: four a stage are enough to resume from.
            Steps = steps, EvalEvery = Math.Max(1, steps / 4), CheckpointEvery = Math.Max(1, steps / 4), LogEvery = 5, RegionJudgeWeight = settings.RegionJudgeWeight,
            Tasks = options.Tasks with { OwnNegativeRate = settings.OwnNegativeRate, OwnNegativeKind = settings.OwnNegativeKind, AllRegionsMaskedRate = settings.AllRegionsMaskedRate, ConditionalMasking = settings.ConditionalMasking },
        }, host, progress, cancel);
    }

    // A grounding stage: masked region modeling alone with every region hidden, so the region head must name each box
    // from the caption and the boxes; MiniLM's layers at the full rate (at 0.3 times it they do not move far enough to bind).
    // With masked segment modeling off the caption is read whole: masked relation words stalled the stage on some seeds.
    // Half the pairs have a wrong caption, as in pretraining (masked region modeling skips them). Every pair a true one
    // in half the steps bound less (zero-shot relations 62% against 78%); every pair a true one in batches of half the
    // size, the same steps at half the compute, bound in some runs and not in others (docs/levers.md).
    private bool Ground(double bothWaysShare, string init, string output, double pretrainedMultiplier, IProgress<WorkflowProgress> progress, CancellationToken cancel)
    {
        var dataset = output + ".json";
        HashSet<string> laidOut;
        using (var layouts = FeatureStore.Open(GroundingFeatures)) laidOut = [.. layouts.Ids];
        var (training, validation) = SyntheticDataset.WriteGrounding(dataset, GroundingSceneOptions, settings.Language, bothWaysShare, settings.Seed, laidOut);
        // Matching draws its wrong captions from other scenes, so a stage needs two at least.
        if (training < 2) throw new InterBertException($"--grounding-curriculum: {training} of the {settings.GroundingSceneCount} scenes are training scenes with exactly two objects, and the stages need two at least; lay out more (--grounding-scenes)");
        var options = RecipeTraining.Pretraining(settings, dataset, GroundingFeatures, init, output, Path.Combine(folder, "cache"));
        return RecipeTraining.Run(options with
        {
            // A small run may have no two-object validation scene: then the stage validates on nothing.
            ValidationSplit = validation > 0 ? options.ValidationSplit : "none",
            Steps = settings.GroundingCurriculumSteps, EvalEvery = Math.Max(1, settings.GroundingCurriculumSteps / 2), CheckpointEvery = Math.Max(1, settings.GroundingCurriculumSteps / 2), LogEvery = 5, PretrainedLearningRateMultiplier = pretrainedMultiplier,
            BatchSize = settings.GroundingBatch > 0 ? settings.GroundingBatch : options.BatchSize, LearningRate = settings.GroundingLearningRate ?? options.LearningRate,
            WarmupFraction = settings.GroundingWarmupFraction ?? options.WarmupFraction,
            // Masked region modeling skips the wrong-caption pairs: with a batch of its own, every pair is a true one.
            Tasks = options.Tasks with { SegmentWeight = 0, RegionWeight = 1, MatchingWeight = 0, ContrastiveWeight = 0, AllRegionsMaskedRate = 1, NegativeRate = settings.GroundingBatch > 0 ? 0 : options.Tasks.NegativeRate },
        }, host, progress, cancel);
    }

    // The grounding scenes' boxes and classes, in the classes of the rendered scenes' store (those the model predicts).
    private bool WriteGroundingLayouts(IProgress<WorkflowProgress> progress, CancellationToken cancel)
    {
        FeatureStoreManifest manifest;
        using (var store = FeatureStore.Open(Features)) manifest = store.Manifest;
        var (written, skipped) = GroundingLayoutStore.Write(GroundingFeatures, GroundingSceneOptions, manifest, cancel);
        progress.Report(new WorkflowProgress(written, written, $"two-object scenes laid out{(skipped > 0 ? $", {skipped} skipped for a class the rendered scenes lack" : "")}"));
        return true;
    }

    private SyntheticDataset.Options GroundingSceneOptions => SceneOptions with { Images = settings.GroundingSceneCount, MirroredTwins = false };

    private SyntheticDataset.Options SceneOptions => new(settings.Images, settings.Seed, settings.TestImages, settings.ValidationImages, settings.MirroredTwins);

    // The demo's fine-tuning trains MiniLM's weights at the full rate unless told otherwise, and draws half its wrong captions from each scene's own hard negatives.
    private bool Finetune(string initWeights, string runFolder, IProgress<WorkflowProgress> progress, CancellationToken cancel) =>
        RecipeTraining.Run(RecipeTraining.Retrieval(settings, Dataset, Features, initWeights, runFolder) with
        {
            // The model without pretraining has an untrained region head: it never judges.
            RegionJudgeWeight = initWeights == InitialWeights ? 0 : null,
            PretrainedLearningRateMultiplier = settings.FinetunePretrainedLearningRateMultiplier, MineEvery = Math.Max(1, settings.FinetuneSteps / 3), OwnNegativeRate = settings.FinetuneOwnNegativeRate, OwnNegativeKind = settings.OwnNegativeKind, LogEvery = 5,
        }, host, progress, cancel);

    private bool BuildIndex(string weights, IProgress<WorkflowProgress> progress, CancellationToken cancel) =>
        !IndexJob.Build(new IndexJobOptions { Weights = weights, Features = Features, Output = IndexFolder, Dataset = Dataset, Split = "test", Precision = settings.Precision }, progress, cancel).Cancelled;

    // The index's model gets a relevance calibration (relevance.json in its folder), so searches can ask for a minimum relevance.
    private bool Calibrate(string modelFolder, IProgress<WorkflowProgress> progress, CancellationToken cancel) =>
        !EvaluationJob.Run(new EvaluationJobOptions
        {
            Task = "retrieval", Dataset = Dataset, Split = "val", Features = Features, Weights = ModelFolder.WeightsPath(modelFolder), Candidates = 16,
            FitRelevance = true, Precision = settings.Precision,
        }, new StageHost(host, progress), cancel).Cancelled;

    private bool Evaluate(string name, string weights, bool zeroShot, IProgress<WorkflowProgress> progress, CancellationToken cancel)
    {
        var watch = Stopwatch.StartNew();
        using var store = FeatureStore.Open(Features);
        var (model, tokenizer, _, _) = ModelLoading.Load(weights, store, settings.Precision);
        using (model)
        {
            var maxTokens = model.Config.TextLength;
            var corpus = CaptionCorpus.Load(Dataset, ["test"], store, tokenizer, maxTokens);
            // One query per image, cycling through the five phrasings, so every phrasing is asked about.
            var captionsOf = Enumerable.Range(0, corpus.Captions.Count).GroupBy(c => corpus.ImageOf[c]).OrderBy(g => g.Key).Select(g => g.ToList()).ToList();
            var queries = corpus.WithCaptions(captionsOf.Select((captions, image) => captions[image % captions.Count]).ToList());
            using var pairs = new PreparedPairs(queries, store, tokenizer.PadId, model.Config.VFeatureSize, model.Config.MaxRegionLength);
            var count = (long)pairs.CaptionCount * pairs.ImageCount;
            float[,] scores;
            try
            {
                scores = RetrievalScorer.ScoreAll(model, pairs, zeroShot, progress: new Progress<long>(done => progress.Report(new WorkflowProgress(done, count, "pairs"))), cancel: cancel);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
            var retrieval = RetrievalMetrics.FromScores(scores, queries.ImageOf);
            var negatives = HardNegativeEvaluation.Evaluate(model, corpus, store, tokenizer, HardNegativeReader.ReadHardNegatives(Dataset, "test"), zeroShot);
            var top = Enumerable.Range(0, Math.Min(settings.ShownQueries, queries.Captions.Count)).Select(q => new RankedQuery(
                queries.Captions[q], queries.ImageIds[queries.ImageOf[q]],
                Enumerable.Range(0, pairs.ImageCount).OrderByDescending(i => scores[q, i]).ThenBy(i => i).Take(5).Select(i => queries.ImageIds[i]).ToList())).ToList();
            // The probe asks the region head, which only pretraining trains.
            var grounding = zeroShot ? GroundingProbe.Evaluate(model, corpus, store, tokenizer, HardNegativeReader.ReadHardNegatives(Dataset, "test"),
                objectPhrase: settings.Language == "en" ? null : SceneLanguage.For(settings.Language).ObjectPhrase) : null;
            var evaluation = new DemoEvaluation(name, retrieval, negatives, top, Math.Round(watch.Elapsed.TotalSeconds, 1), grounding);
            Directory.CreateDirectory(EvaluationFolder);
            AtomicFile.WriteAllText(Path.Combine(EvaluationFolder, name + ".json"), JsonSerializer.Serialize(evaluation, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
            host.Log($"  {name}: text→image R@1/5/10 {retrieval.TextToImage.R1:F1}/{retrieval.TextToImage.R5:F1}/{retrieval.TextToImage.R10:F1}, " +
                $"image→text {retrieval.ImageToText.R1:F1}/{retrieval.ImageToText.R5:F1}/{retrieval.ImageToText.R10:F1}; hard negatives below the true caption: attribute {negatives.AttributeBelowTrue:F0}%, relation {negatives.RelationBelowTrue:F0}%" +
                (grounding is null ? "" : $"; grounding: the two named objects' boxes told apart {grounding.NamedRight:F0}% of {grounding.Regions}, their sizes {grounding.SizeRight:F0}% of {grounding.SizedRegions}"));
            return true;
        }
    }
}
