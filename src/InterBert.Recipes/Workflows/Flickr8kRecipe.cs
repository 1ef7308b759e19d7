using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using InterBert.Data;
using InterBert.Modeling;
using InterBert.Pretraining;
using InterBert.Tasks;
using InterBert.Text;
using InterBert.Training;
using InterBert.Vision;
using InterBert.Weights;

namespace InterBert.Workflows;

/// <summary>
/// InterBERT on real photographs, Flickr8k's standard split, in English or Chinese (Flickr8K-CN): region features with
/// the YOLOX detector → initial weights → pretraining on the training photos (MSM + MRM + ITM + contrastive) →
/// zero-shot evaluation → retrieval fine-tuning from the pretrained model and, with the same steps, from the initial
/// weights → two-stage evaluation of both on the 1,000 test photos x 5,000 captions → a search index of the test
/// photos → <c>report.md</c>. Each stage is reused when its inputs did not change; an interrupted run continues
/// (pretraining from its last checkpoint, the other stages from their start).
/// </summary>
public sealed class Flickr8kRecipe
{
    private const int StageCount = 11;
    private static readonly string[] ModelNames = ["zero-shot", "finetuned-baseline", "finetuned-pretrained", "finetuned"];
    private readonly Flickr8kRecipeOptions options;
    private readonly WorkflowHost host;
    private readonly string folder;
    private readonly StagedRun stages;

    /// <summary>Prepares a run; checks that the dataset is there.</summary>
    public Flickr8kRecipe(Flickr8kRecipeOptions options, WorkflowHost? host = null)
    {
        this.options = options;
        this.host = host ?? new WorkflowHost();
        // The report shows the runs' loss curves.
        Training.TrainingPlots.Enable();
        var chinese = Path.Combine(options.DataFolder, "flickr8kzhc.caption.txt");
        // Each language's test captions are evaluated apart; the bilingual model trains on both at once.
        EvaluationDatasets = options.Language switch
        {
            "en" => [("", options.DataFolder)],
            "zh" => [("", chinese)],
            _ => [("-en", options.DataFolder), ("-zh", chinese)],
        };
        Dataset = DatasetReader.Combine([.. EvaluationDatasets.Select(d => d.Path)]);
        if (!Directory.Exists(options.DataFolder)) throw new InterBertException($"{options.DataFolder}: Flickr8k folder not found");
        if (options.Language != "en" && !File.Exists(chinese)) throw new InterBertException($"{chinese}: Flickr8K-CN's caption file not found (--lang {options.Language} reads it from the Flickr8k folder)");
        if (options.Language != "zh" && FlickrTokenReader.CaptionFileIn(options.DataFolder) is null)
            throw new InterBertException($"{options.DataFolder}: no Flickr8k.token.txt (lay the dataset out as distributed: captions, split files, Flicker8k_Dataset/)");
        OutputFolder.Claim(options.OutputFolder, "the Flickr8k recipe's working folder", "en/" + StageCache.FileName, "zh/" + StageCache.FileName, "en+zh/" + StageCache.FileName, "features/" + Data.FeatureStore.ManifestFile, "features-grid/" + Data.FeatureStore.ManifestFile,
            Path.GetFileName(Features) + "/" + Data.FeatureStore.ManifestFile);
        OutputFolder.Claim(Path.Combine(options.OutputFolder, options.Language), "the Flickr8k recipe's working folder", StageCache.FileName);
        folder = Directory.CreateDirectory(VariantFolder(options) ?? Path.Combine(options.OutputFolder, options.Language)).FullName;
        // An ablation row: features, init, [pretrain, zero-shot,] fine-tune, evaluate.
        var stageCount = options.Variant is { } variant ? (variant.Pretrains ? 6 : 4) : options.Baseline ? StageCount : StageCount - 2;
        stages = new StagedRun(folder, "flickr8k", stageCount, this.host);
    }

    /// <summary>The working folder of an ablation row's run (<c>LANG/ablations/NAME-seedN</c>), or null for the recipe itself.</summary>
    public static string? VariantFolder(Flickr8kRecipeOptions options) =>
        options.Variant is { } variant ? Path.Combine(options.OutputFolder, options.Language, "ablations", $"{variant.Name}-seed{options.Seed}") : null;

    /// <summary>The folder of this run's stages (the language's folder, or an ablation row's).</summary>
    public string Folder => folder;


    /// <summary>
    /// The dataset path the verbs read: the Flickr8k folder (English), Flickr8K-CN's caption file in it (Chinese), or
    /// both joined (<see cref="DatasetReader.Combine"/>: every photo with its English and Chinese captions).
    /// </summary>
    public string Dataset { get; }

    /// <summary>The test captions evaluated, by language: the suffix of their evaluation's name (empty for one language) and their dataset.</summary>
    public IReadOnlyList<(string Suffix, string Path)> EvaluationDatasets { get; }

    /// <summary>The region features of all photos (shared by both languages).</summary>
    public string Features => Path.Combine(options.OutputFolder, (options.GridAlways ? "features-grid" : "features") +
        (options.InputSize != Data.RegionSource.DefaultInputSize ? $"-{options.InputSize}" : ""));

    /// <summary>The search index of the test photos, built with the model fine-tuned after pretraining.</summary>
    public string IndexFolder => Path.Combine(folder, "index");

    /// <summary>The report's path.</summary>
    public string ReportPath => Path.Combine(folder, "report.md");

    private string InitialWeights => Path.Combine(folder, "init", "model.safetensors");
    private string PretrainFolder => Path.Combine(folder, "pretrain");
    private string PretrainedWeights => Path.Combine(PretrainFolder, "model.safetensors");
    private string EvaluationFolder => Path.Combine(folder, "eval");
    private string FinetunedWeights(string run) => Path.Combine(folder, run, "last.safetensors");

    /// <summary>Runs (or continues) every stage; returns false when cancelled.</summary>
    public bool Run(CancellationToken cancel = default)
    {
        var features = options.Fingerprint("features");
        if (!Stage("features", $"region features of the 8,000 photos (ResNet-18{(options.InputSize != Data.RegionSource.DefaultInputSize ? $" at {options.InputSize} pixels" : "")}, YOLOX boxes{(options.GridAlways ? " and a 3x3 grid" : "")})", features, null, ExtractFeatures, cancel)) return false;
        var init = features + "|" + options.Fingerprint("init");
        if (!Stage("init", options.Language == "en" ? "initial weights from MiniLM"
            : options.Language == "en+zh" ? "MiniLM's weights and vocabulary, extended by the characters of the Chinese training captions"
            : options.ChineseLayersFromMiniLm ? "vocabulary from the training captions, MiniLM's layers" : "vocabulary from the training captions, random text weights", init, Path.GetDirectoryName(InitialWeights)!, Initialise, cancel)) return false;
        var pretrain = init + "|" + options.Fingerprint("pretrain");
        if (options.Variant is { } variant) return RunVariant(variant, init, pretrain, cancel);
        if (!Stage("pretrain", $"pretrain {options.PretrainSteps} steps of {options.PretrainBatch} pairs (MSM + MRM + ITM + contrastive)", pretrain, PretrainFolder, Pretrain, cancel)) return false;
        var evaluate = options.Fingerprint("evaluate");
        // (The same chain as EvaluationFingerprint, which the bilingual report checks its single-language rows against.)
        if (!Stage("zero-shot", "zero-shot retrieval on test (matching head)", pretrain + "|" + evaluate, null,
                (p, c) => Evaluate("zero-shot", PretrainedWeights, zeroShot: true, p, c), cancel)) return false;
        var finetune = options.Fingerprint("finetune");
        if (!Stage("finetune-pretrained", $"fine-tune retrieval from the pretrained model ({options.FinetuneSteps} steps)", pretrain + "|" + finetune, Path.Combine(folder, "finetune-pretrained"),
                (p, c) => Finetune(PretrainedWeights, "finetune-pretrained", p, c), cancel)) return false;
        if (!Stage("index", "index the test photos for search", pretrain + "|" + finetune + "|" + options.Fingerprint("index"), IndexFolder,
                (p, c) => BuildIndex(Path.Combine(folder, "finetune-pretrained"), p, c), cancel)) return false;
        var calibrate = options.Fingerprint("calibrate");
        if (!Stage("calibrate", "fit the search model's relevance on dev", pretrain + "|" + finetune + "|" + calibrate, null,
                (p, c) => Calibrate(Path.Combine(folder, "finetune-pretrained"), p, c), cancel)) return false;
        // After the calibration: the test evaluation of the model folder it was fitted for (the index's; without a
        // validation split, the last weights) also measures what its relevance cut-off keeps and returns.
        if (!Stage("evaluate-pretrained", "evaluate it on test, with its relevance cut-off", pretrain + "|" + finetune + "|" + evaluate + "|" + calibrate, null,
                (p, c) => Evaluate("finetuned-pretrained", ModelFolder.WeightsPath(Path.Combine(folder, "finetune-pretrained")), zeroShot: false, p, c), cancel)) return false;
        if (options.Baseline && !Stage("finetune-baseline", $"fine-tune retrieval without multimodal pretraining ({options.FinetuneSteps} steps)", init + "|" + finetune, Path.Combine(folder, "finetune-baseline"),
                (p, c) => Finetune(InitialWeights, "finetune-baseline", p, c), cancel)) return false;
        if (options.Baseline && !Stage("evaluate-baseline", "evaluate it on test", init + "|" + finetune + "|" + evaluate, null,
                (p, c) => Evaluate("finetuned-baseline", FinetunedWeights("finetune-baseline"), zeroShot: false, p, c), cancel)) return false;
        stages.Last("write the report");
        Flickr8kReport.Write(folder, options, Results(), stages.Cache, Dataset, stages.Elapsed);
        return true;
    }

    // An ablation row stops at its fine-tuned model's evaluation: the ablation report compares rows.
    private bool RunVariant(PretrainingVariant variant, string init, string pretrain, CancellationToken cancel)
    {
        var evaluate = options.Fingerprint("evaluate");
        var finetune = options.Fingerprint("finetune");
        var start = InitialWeights;
        if (variant.Pretrains)
        {
            if (!Stage("pretrain", $"pretrain {options.PretrainSteps} steps of {options.PretrainBatch} pairs: {variant.Title}", pretrain, PretrainFolder, Pretrain, cancel)) return false;
            if (!Stage("zero-shot", "zero-shot retrieval on test (matching head)", pretrain + "|" + evaluate, null,
                    (p, c) => Evaluate("zero-shot", PretrainedWeights, zeroShot: true, p, c), cancel)) return false;
            start = PretrainedWeights;
        }
        var trained = variant.Pretrains ? pretrain : init;
        if (!Stage("finetune", $"fine-tune retrieval ({options.FinetuneSteps} steps)", trained + "|" + finetune, Path.Combine(folder, "finetune"),
                (p, c) => Finetune(start, "finetune", p, c), cancel)) return false;
        return Stage("evaluate", "evaluate it on test", trained + "|" + finetune + "|" + evaluate, null,
            (p, c) => Evaluate("finetuned", FinetunedWeights("finetune"), zeroShot: false, p, c), cancel);
    }

    /// <summary>The inputs of the evaluate-pretrained stage of a run with these options (whether an evaluation on disk came from such a run).</summary>
    public static string EvaluationFingerprint(Flickr8kRecipeOptions options) =>
        string.Join("|", options.Fingerprint("features"), options.Fingerprint("init"), options.Fingerprint("pretrain"), options.Fingerprint("finetune"), options.Fingerprint("evaluate"));

    /// <summary>The evaluations written so far, by model name (zero-shot, finetuned-baseline, finetuned-pretrained).</summary>
    public Dictionary<string, Flickr8kEvaluation> Results() =>
        ModelNames.SelectMany(name => EvaluationDatasets.Select(d => Path.Combine(EvaluationFolder, name + d.Suffix + ".json"))).Where(File.Exists)
            .Select(path => JsonSerializer.Deserialize<Flickr8kEvaluation>(File.ReadAllText(path))!)
            .ToDictionary(e => e.Model);

    private bool Stage(string name, string title, string fingerprint, string? output, Func<IProgress<WorkflowProgress>, CancellationToken, bool> work, CancellationToken cancel) =>
        stages.Stage(name, title, fingerprint, output, work, cancel);

    private bool ExtractFeatures(IProgress<WorkflowProgress> progress, CancellationToken cancel)
    {
        // Every photo of the three splits, whichever language: both recipes share the store.
        var images = DatasetReader.Read(options.DataFolder).Where(i => i.Split != "other").Select(i => (i.Id, i.Location)).DistinctBy(i => i.Id).ToList();
        if (File.Exists(Path.Combine(Features, FeatureStore.ManifestFile)))
        {
            using var existing = FeatureStore.Open(Features);
            if (images.All(i => existing.Contains(i.Id))) return true;
        }
        var detector = options.DetectorPath ?? throw new InterBertException("the features stage needs the YOLOX detector (--detector yolox_nano.onnx)");
        using var extractor = RegionFeatureExtractor.Open(detector, options.MaxRegions, options.Threads, parallelImages: true, gridAlways: options.GridAlways, inputSize: options.InputSize);
        var result = FeatureExtractionJob.Run(images, extractor, null, Features, float16: false, skipBad: false, progress: new Progress<FeatureExtractionJob.Progress>(
            p => progress.Report(new WorkflowProgress(p.Done, p.Total, "photos"))), cancel: cancel);
        return !result.Cancelled;
    }

    private bool Initialise(IProgress<WorkflowProgress> progress, CancellationToken cancel)
    {
        TorchSharp.torch.manual_seed(options.Seed);
        var preset = InterBertConfig.FromPreset(options.Preset) with { MaxSeqLength = options.MaxTokens, GeometryAttentionBias = options.GeometryBias, UntiedInteraction = options.UntieInteraction, VLocationFrequencies = options.LocationFrequencies };
        // An ablation row may reshape the model (layers, a regression head); MiniLM's layers fill its text path either way.
        var config = options.Variant?.Shape(preset) ?? preset;
        if (options.Language == "en")
        {
            RecipeTraining.FromMiniLm(config, options.Preset, InitialWeights);
            return true;
        }
        // No Chinese weights ship: a vocabulary learned from the training captions (characters first, then frequent
        // pairs). The text path starts from MiniLM's layers with that vocabulary transplanted, or from random weights.
        // Learned apart from init/vocab.txt, which the initial weights write beside themselves (and refuse to find there first).
        var vocabularyPath = Path.Combine(folder, "init", "learned-vocab.txt");
        var vocabulary = RecipeTraining.LearnVocabulary(EvaluationDatasets[^1].Path, vocabularyPath, options.ChineseVocabularySize);
        if (options.Language == "en+zh")
        {
            // One vocabulary for both languages: MiniLM's, every English token at its id, then the Chinese entries it lacks.
            using var minilm = MiniLmOnnxReader.Read();
            var englishTokens = System.Text.Encoding.UTF8.GetString(minilm.Vocabulary).TrimEnd('\n').Split('\n').Select(t => t.TrimEnd('\r')).ToList();
            var chineseTokens = File.ReadAllLines(vocabularyPath);
            WordPieceVocabularyBuilder.Write(WordPieceVocabularyBuilder.Extend(englishTokens, chineseTokens), vocabularyPath);
            vocabulary = File.ReadAllBytes(vocabularyPath);
        }
        if (!options.ChineseLayersFromMiniLm)
        {
            RecipeTraining.RandomWeights(config, vocabularyPath, vocabulary, InitialWeights);
            return true;
        }
        var (shared, added, _) = RecipeTraining.FromMiniLmWithVocabulary(config, options.Preset, vocabulary, vocabularyPath, InitialWeights);
        progress.Report(new WorkflowProgress(1, 1, $"{shared} of {shared + added} tokens kept MiniLM's embeddings"));
        return true;
    }

    private bool Pretrain(IProgress<WorkflowProgress> progress, CancellationToken cancel)
    {
        var job = RecipeTraining.Pretraining(options, Dataset, Features, InitialWeights, PretrainFolder, Path.Combine(folder, "cache")) with { CheckpointEvery = 100, ValidationCaptions = 500 };
        if (options.PretrainSimilarityNegatives) job = job with { Tasks = job.Tasks with { SimilarityNegatives = true } };
        if (options.MaskMismatchedRegions) job = job with { Tasks = job.Tasks with { MaskMismatchedRegions = true } };
        if (options.PretrainContrastiveBatch > 0) job = job with { Tasks = job.Tasks with { ContrastiveBatchSize = options.PretrainContrastiveBatch } };
        if (options.Variant is { } variant) job = job with { Tasks = variant.Tasks(job.Tasks) };
        return RecipeTraining.Run(job, host, progress, cancel);
    }

    private bool Finetune(string initWeights, string run, IProgress<WorkflowProgress> progress, CancellationToken cancel) =>
        RecipeTraining.Run(FinetuneJob(initWeights, Path.Combine(folder, run)), host, progress, cancel);

    /// <summary>The recipe's retrieval fine-tuning of <paramref name="initWeights"/> into <paramref name="output"/>.</summary>
    // Both fine-tunings give MiniLM's weights the same multiplier: pretraining carries init's list of them on.
    public FineTuningJobOptions FinetuneJob(string initWeights, string output) =>
        RecipeTraining.Retrieval(options, Dataset, Features, initWeights, output) with
        {
            MineEvery = Math.Max(1, options.FinetuneSteps / 4), SimilarityNegatives = options.SimilarityNegatives, ContrastiveBatchSize = options.ContrastiveBatch,
            WordRegionWeight = options.WordRegionWeight, PairScore = options.PairScore, PretrainedLearningRateMultiplier = options.FinetuneMultiplier,
        };

    private bool Evaluate(string model, string weights, bool zeroShot, IProgress<WorkflowProgress> progress, CancellationToken cancel) =>
        EvaluationDatasets.All(d => Evaluate(model + d.Suffix, d.Path, weights, zeroShot, progress, cancel));

    private bool Evaluate(string name, string dataset, string weights, bool zeroShot, IProgress<WorkflowProgress> progress, CancellationToken cancel)
    {
        var watch = Stopwatch.StartNew();
        using var store = FeatureStore.Open(Features);
        var (model, tokenizer, _, _) = ModelLoading.Load(weights, store, options.Precision);
        using (model)
        {
            var corpus = CaptionCorpus.Load(dataset, ["test"], store, tokenizer, model.Config.TextLength);
            using var pairs = new PreparedPairs(corpus, store, tokenizer.PadId, model.Config.VFeatureSize, model.Config.MaxRegionLength);
            // The search model ranks score + similarity with the cosine weighed as its calibration on dev fitted it.
            var calibration = zeroShot ? null : RelevanceCalibration.ReadFor(weights, out _);
            var result = TwoStageRetrievalEvaluation.Evaluate(model, pairs, options.Candidates, zeroShot, progress: new Progress<TwoStageRetrievalEvaluation.Progress>(
                p => progress.Report(new WorkflowProgress(p.Done, p.Total, p.Stage))), cancel: cancel, addSimilarity: options.AddSimilarity, similarityWeight: calibration?.SimilarityWeight ?? 1, wordRegion: true);
            // The search model's headline is the ranking search uses by default: the one its calibration measured best on dev.
            var (ranking, headline) = calibration?.MeasuredBest is { } measured && result.Of(measured) is { } chosen
                ? (measured.Name(), chosen) : (options.AddSimilarity ? "score+similarity" : "score", result.Metrics);
            // A few captions spread over the test split, each with its five first photos.
            var shown = Enumerable.Range(0, options.ShownQueries).Select(q => q * corpus.Captions.Count / Math.Max(options.ShownQueries, 1)).ToList();
            var top = shown.Select(c => new RankedQuery(corpus.Captions[c], corpus.ImageIds[corpus.ImageOf[c]],
                result.RankedImages(c, 5).Select(i => corpus.ImageIds[i]).ToList())).ToList();
            // The search model's calibration (fitted on dev by the calibrate stage): what a minimum relevance does on
            // this test split, from the same scores (on the first language's captions in the bilingual recipe).
            if (dataset == EvaluationDatasets[0].Path && calibration is not null)
                AtomicFile.WriteAllText(RelevancePath, new JsonObject
                {
                    ["relevance_cut_off"] = calibration.CutOffs(result, SearchRankingNames.Parse(ranking), line => host.Log(line)),
                }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            var evaluation = new Flickr8kEvaluation(name, headline, result.ImageCandidates, result.CaptionCandidates, result.PairsScored, top, Math.Round(watch.Elapsed.TotalSeconds, 1))
            {
                Rerank = ranking, SimilarityWeight = result.SimilarityWeight, Unimodal = result.Unimodal, ScoreOnly = result.ScoreOnly, ScorePlusSimilarity = result.ScorePlusSimilarity,
                WordRegionOnly = result.WordRegionOnly, WordRegionPlusSimilarity = result.WordRegionPlusSimilarity, ScorePlusWordRegionPlusSimilarity = result.ScorePlusWordRegionPlusSimilarity,
            };
            Directory.CreateDirectory(EvaluationFolder);
            AtomicFile.WriteAllText(Path.Combine(EvaluationFolder, name + ".json"), JsonSerializer.Serialize(evaluation, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
            var r = headline;
            host.Log($"  {name} ({ranking}): text→image R@1/5/10 {r.TextToImage.R1:F1}/{r.TextToImage.R5:F1}/{r.TextToImage.R10:F1}, image→text {r.ImageToText.R1:F1}/{r.ImageToText.R5:F1}/{r.ImageToText.R10:F1} ({r.Captions} captions x {r.Images} photos, K = {result.ImageCandidates})");
            return true;
        }
    }

    /// <summary>The search model's relevance cut-off measured on test (by its test evaluation, after the calibrate stage), when it ran.</summary>
    public string RelevancePath => Path.Combine(EvaluationFolder, "relevance-test.json");

    // The index's model gets its relevance calibration from the dev split (relevance.json in its folder); the test
    // evaluation that follows says what a minimum relevance keeps and what it returns for left-out photos.
    private bool Calibrate(string modelFolder, IProgress<WorkflowProgress> progress, CancellationToken cancel) =>
        !EvaluationJob.Run(new EvaluationJobOptions
        {
            Task = "retrieval", Dataset = Dataset, Split = "val", FitRelevance = true, Features = Features, Weights = ModelFolder.WeightsPath(modelFolder),
            Candidates = options.Candidates, AddSimilarity = options.AddSimilarity, Precision = options.Precision, CaptionsPerImage = options.CalibrationCaptionsPerImage,
        }, new StageHost(host, progress), cancel).Cancelled;

    private bool BuildIndex(string weights, IProgress<WorkflowProgress> progress, CancellationToken cancel) =>
        !IndexJob.Build(new IndexJobOptions { Weights = weights, Features = Features, Output = IndexFolder, Dataset = Dataset, Split = "test", Precision = options.Precision }, progress, cancel).Cancelled;
}
