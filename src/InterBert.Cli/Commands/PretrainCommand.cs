using System.CommandLine;
using InterBert.Data;
using InterBert.Distributed;
using InterBert.Modeling;
using InterBert.Pretraining;
using InterBert.Text;
using InterBert.Training;
using InterBert.Weights;

namespace InterBert.Cli.Commands;

/// <summary>The <c>pretrain</c> verb: masked segment modeling + masked region modeling + image-text matching.</summary>
public static class PretrainCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var dataset = new Option<string>("--dataset") { Description = "dataset (Karpathy JSON, COCO captions JSON, JSONL, MUGE)", Required = true };
        var features = new Option<string>("--features") { Description = "feature store of the dataset's images", Required = true };
        var init = new Option<string?>("--init") { Description = "weights to start from (from 'interbert init' or an earlier run)" };
        var preset = new Option<string?>("--preset") { Description = "start from random weights of a preset instead (tiny, small, base)" };
        var vocab = new Option<string?>("--vocab") { Description = "vocabulary for --preset (default: BERT-uncased, as MiniLM ships it)" };
        var output = new Option<string>("--out") { Description = "run folder (checkpoints, metrics.jsonl, plots, model.safetensors)", Required = true };
        var steps = new Option<int?>("--steps") { Description = "optimiser steps" };
        var epochs = new Option<double?>("--epochs") { Description = "passes over the training captions (instead of --steps)" };
        var batch = new Option<int>("--batch-size") { Description = "pairs per micro-batch", DefaultValueFactory = _ => 32 };
        var accumulate = new Option<int>("--accumulate") { Description = "micro-batches per step", DefaultValueFactory = _ => 1 };
        var lr = new Option<double>("--lr") { Description = "peak learning rate (10% warmup, then linear decay)", DefaultValueFactory = _ => 1e-4 };
        var pretrainedLr = new Option<double>("--pretrained-lr-multiplier") { Description = "learning-rate multiplier of weights loaded from --init", DefaultValueFactory = _ => 1.0 };
        var seed = new Option<int>("--seed") { Description = "seed of initialisation, order, masks and dropout", DefaultValueFactory = _ => 42 };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "steps between checkpoints", DefaultValueFactory = _ => 500 };
        var keep = new Option<int>("--keep-checkpoints") { Description = "checkpoints kept", DefaultValueFactory = _ => 3 };
        var evalEvery = new Option<int>("--eval-every") { Description = "steps between validations on held-out pairs", DefaultValueFactory = _ => 500 };
        var trainSplit = new Option<string[]>("--train-split") { Description = "splits to train on", DefaultValueFactory = _ => ["train"], AllowMultipleArgumentsPerToken = true };
        var valSplit = new Option<string?>("--val-split") { Description = "held-out split for validation ('none' to skip)", DefaultValueFactory = _ => "val" };
        var resume = new Option<bool>("--resume") { Description = "continue the run in --out from its last checkpoint, exactly" };
        var segmentMasking = new Option<string>("--segment-masking") { Description = "paper (10% word anchors + 0-2 words), reference (one span) or bert (15% tokens)", DefaultValueFactory = _ => "paper" };
        var referenceRegions = new Option<bool>("--reference-region-masking") { Description = "the reference code's region masking (10% anchors, IoU >= 0.4)" };
        var hardNegatives = new Option<double>("--hard-negative-rate") { Description = "share of ITM negatives drawn from the captions most similar to the true one (TF-IDF)", DefaultValueFactory = _ => 0.2 };
        var weights = new Option<string>("--loss-weights") { Description = "MSM:MRM:ITM loss weights", DefaultValueFactory = _ => "1:1:1" };
        var ownNegatives = new Option<double>("--own-negative-rate") { Description = "share of ITM negatives taken from the image's own \"hard_negatives\" captions in the dataset (synth writes them)" };
        var precision = CommandLine.PrecisionOption();
        var contrastive = new Option<double>("--contrastive-weight") { Description = "weight of the image-text contrastive loss that aligns text and image vectors for search (0: off, the paper's setting)" };
        var command = new Command("pretrain", "Pretrain with masked segment modeling, masked region modeling and image-text matching")
        {
            dataset, features, init, preset, vocab, output, steps, epochs, batch, accumulate, lr, pretrainedLr, seed,
            checkpointEvery, keep, evalEvery, trainSplit, valSplit, resume, segmentMasking, referenceRegions, weights, hardNegatives, contrastive, ownNegatives, precision,
        };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            var initPath = parse.GetValue(init);
            var presetName = parse.GetValue(preset);
            if ((initPath is null) == (presetName is null)) throw new ArgumentException("give --init WEIGHTS or --preset NAME");
            var precisionValue = CommandLine.Precision(parse, precision);
            var seedValue = parse.GetValue(seed);
            TorchSharp.torch.manual_seed(seedValue);
            using var store = FeatureStore.Open(parse.GetValue(features)!);
            var hasClasses = store.Manifest.ClassCount > 0 && store.Entries.All(e => e.HasClasses);

            WordPieceTokenizer tokenizer;
            byte[] vocabulary;
            InterBertModel model;
            HashSet<string> pretrained = [];
            if (initPath is not null)
            {
                tokenizer = ModelVocabulary.TokenizerFor(initPath);
                vocabulary = File.ReadAllBytes(tokenizer.Source);
                model = ModelCheckpoint.Load(initPath);
                pretrained = PretrainedKeys.Read(initPath);
            }
            else
            {
                vocabulary = parse.GetValue(vocab) is { } vocabPath
                    ? File.Exists(vocabPath) ? File.ReadAllBytes(vocabPath) : throw new InterBertException($"{vocabPath}: vocabulary file not found")
                    : MiniLmOnnxReader.ReadVocabularyBytes();
                tokenizer = WordPieceTokenizer.Load(new MemoryStream(vocabulary), parse.GetValue(vocab) ?? "BERT-uncased vocabulary");
                var config = InterBertConfig.FromPreset(presetName!) with
                {
                    VocabSize = tokenizer.VocabularySize, VFeatureSize = store.Manifest.FeatureSize,
                    VTargetSize = hasClasses ? store.Manifest.ClassCount : InterBertConfig.FromPreset(presetName!).VTargetSize,
                    PredictFeature = !hasClasses,
                };
                model = new InterBertModel(config);
            }
            model.Precision = precisionValue;
            using (model)
            {
                if (model.Config.VFeatureSize != store.Manifest.FeatureSize)
                    throw new InterBertException($"{store.Folder}: {store.Manifest.FeatureSize}-d region features, but the model expects v_feature_size {model.Config.VFeatureSize}");
                if (hasClasses && model.Config.VTargetSize != store.Manifest.ClassCount)
                    throw new InterBertException($"{store.Folder}: {store.Manifest.ClassCount} region classes, but the model predicts v_target_size {model.Config.VTargetSize}");
                var datasetPath = parse.GetValue(dataset)!;
                var maxTokens = Math.Min(model.Config.MaxSeqLength, model.Config.MaxPositionEmbeddings);
                var train = CaptionCorpus.Load(datasetPath, parse.GetValue(trainSplit)!, store, tokenizer, maxTokens);
                if (parse.GetValue(ownNegatives) > 0) train = Synthetic.SyntheticDataset.WithOwnNegatives(train, datasetPath, parse.GetValue(trainSplit)!, tokenizer, maxTokens, "--own-negative-rate");
                var validationSplit = parse.GetValue(valSplit);
                var validation = validationSplit is null or "none" ? null : CaptionCorpus.Load(datasetPath, [validationSplit], store, tokenizer, maxTokens);
                var batchSize = Math.Max(1, parse.GetValue(batch));
                var accumulation = Math.Max(1, parse.GetValue(accumulate));
                var stepCount = parse.GetValue(steps) ?? (parse.GetValue(epochs) is { } e
                    ? (int)Math.Ceiling(e * train.Captions.Count / (batchSize * accumulation))
                    : throw new ArgumentException("give --steps N or --epochs N"));
                var lossWeights = parse.GetValue(weights)!.Split(':').Select(double.Parse).ToArray();
                if (lossWeights.Length != 3) throw new ArgumentException("--loss-weights takes three numbers, MSM:MRM:ITM");
                var tasks = new PretrainingTaskOptions
                {
                    SegmentMasking = parse.GetValue(segmentMasking) switch
                    {
                        "paper" => SegmentMaskingMode.Paper, "reference" => SegmentMaskingMode.ReferenceSpan, "bert" => SegmentMaskingMode.BertTokens,
                        var other => throw new ArgumentException($"--segment-masking '{other}': expected paper, reference or bert"),
                    },
                    ReferenceRegionMasking = parse.GetValue(referenceRegions), HardNegativeRate = Math.Clamp(parse.GetValue(hardNegatives), 0, 1),
                    SegmentWeight = lossWeights[0], RegionWeight = lossWeights[1], MatchingWeight = lossWeights[2],
                    ContrastiveWeight = Math.Max(0, parse.GetValue(contrastive)), OwnNegativeRate = Math.Clamp(parse.GetValue(ownNegatives), 0, 1),
                    MaxRegions = model.Config.MaxRegionLength,
                };
                var training = new TrainingOptions
                {
                    Steps = stepCount, BatchSize = batchSize, GradientAccumulation = accumulation, LearningRate = parse.GetValue(lr),
                    PretrainedLearningRateMultiplier = parse.GetValue(pretrainedLr), Seed = seedValue,
                    CheckpointEvery = Math.Max(1, parse.GetValue(checkpointEvery)), KeepCheckpoints = parse.GetValue(keep), EvalEvery = parse.GetValue(evalEvery),
                };
                var processes = ProcessGroup.Current;
                var root = processes.IsRoot;
                if (root)
                    Console.WriteLine($"pretrain: {train.Captions.Count:N0} captions of {train.ImageIds.Count:N0} images; {stepCount} steps of {batchSize * accumulation} pairs" +
                        (processes.Size > 1 ? $" per rank x {processes.Size} ranks (MPI)" : "") + $"; {model.ParameterCounts()["total"]:N0} parameters; {precisionValue.Name()}");
                var neighbours = CaptionNeighbours.LoadOrBuild(train.Captions, train.ImageOf, CaptionNeighbours.DefaultCacheFolder);
                var setup = new PretrainingSetup(parse.GetValue(output)!, model, tokenizer, vocabulary, train, validation, store, training, tasks, pretrained, neighbours, parse.GetValue(resume), processes);
                // Only rank 0 reports progress and results; the other ranks work silently.
                var result = ProgressDisplay.Run("pretrain", (progress, cancel) => PretrainingRun.Run(setup,
                    new Progress<PretrainingRun.Progress>(p => { if (root) progress.Report(new ProgressDisplay.Update(p.Step, p.Steps,
                        $"step {p.Step}: loss {p.Loss:F3} (msm {p.Segment:F3}, mrm {p.Region:F3}, itm {p.Matching:F3}) lr {p.LearningRate:E1} {p.SamplesPerSecond:F0} pairs/s")); }), cancel));
                if (!root) return result.Cancelled ? 130 : 0;
                foreach (var (key, value) in result.Validation) Console.WriteLine($"  {key}: {value:F4}");
                Console.WriteLine(result.Cancelled
                    ? $"pretrain: interrupted at step {result.Step}; checkpoint written; continue with the same command and --resume"
                    : $"pretrain: {result.Step} steps ({result.SkippedNonFinite} skipped as non-finite) → {result.WeightsPath}");
                return result.Cancelled ? 130 : 0;
            }
        }));
        return command;
    }
}
