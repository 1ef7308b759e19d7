using System.CommandLine;
using InterBert.Pretraining;
using InterBert.Workflows;

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
        var batch = new Option<int>("--batch-size") { Description = "pairs per micro-batch", DefaultValueFactory = _ => 32 }.AtLeast(1);
        var accumulate = new Option<int>("--accumulate") { Description = "micro-batches per step", DefaultValueFactory = _ => 1 }.AtLeast(1);
        var lr = new Option<double>("--lr") { Description = "peak learning rate (10% warmup, then linear decay)", DefaultValueFactory = _ => 1e-4 };
        var pretrainedLr = new Option<double>("--pretrained-lr-multiplier") { Description = "learning-rate multiplier of weights loaded from --init", DefaultValueFactory = _ => 1.0 };
        var seed = new Option<int>("--seed") { Description = "seed of initialisation, order, masks and dropout", DefaultValueFactory = _ => 42 };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "steps between checkpoints", DefaultValueFactory = _ => 500 }.AtLeast(1);
        var keep = new Option<int>("--keep-checkpoints") { Description = "checkpoints kept", DefaultValueFactory = _ => 3 }.AtLeast(1);
        var evalEvery = new Option<int>("--eval-every") { Description = "steps between validations on held-out pairs", DefaultValueFactory = _ => 500 };
        var trainSplit = new Option<string[]>("--train-split") { Description = "splits to train on", DefaultValueFactory = _ => ["train"], AllowMultipleArgumentsPerToken = true };
        var valSplit = new Option<string?>("--val-split") { Description = "held-out split for validation ('none' to skip)", DefaultValueFactory = _ => "val" };
        var resume = new Option<bool>("--resume") { Description = "continue the run in --out from its last checkpoint, exactly" };
        var segmentMasking = new Option<string>("--segment-masking") { Description = "paper (10% word anchors + 0-2 words), reference (one span) or bert (15% tokens)", DefaultValueFactory = _ => "paper" };
        var wholeImage = CommandLine.WholeImageRegionOption();
        var referenceRegions = new Option<bool>("--reference-region-masking") { Description = "the reference code's region masking (10% anchors, IoU >= 0.4)" };
        var hardNegatives = new Option<double>("--hard-negative-rate") { Description = "share of ITM negatives drawn from the captions most similar to the true one (TF-IDF)", DefaultValueFactory = _ => 0.2 };
        var weights = new Option<string>("--loss-weights") { Description = "MSM:MRM:ITM loss weights", DefaultValueFactory = _ => "1:1:1" };
        var ownKind = CommandLine.OwnNegativeKindOption();
        var allRegionsMasked = CommandLine.AllRegionsMaskedOption();
        var conditionalMasking = new Option<bool>("--conditional-masking") { Description = "the pairs whose every region is masked (--mask-all-regions) keep their caption whole, so that naming the regions can read every word (UNITER's conditional masking)" };
        var maskMismatched = new Option<bool>("--mask-mismatched-regions") { Description = "hide the regions of the pairs with a wrong caption the same way as a matched pair's (no region target), so that matching cannot answer from a hidden region alone (off: the paper's, regions hidden on matched pairs only)" };
        var ownNegatives = new Option<double>("--own-negative-rate") { Description = "share of ITM negatives taken from the image's own \"hard_negatives\" captions in the dataset (synth writes them)" };
        var precision = CommandLine.PrecisionOption();
        var judge = CommandLine.RegionJudgeWeightOption();
        var negatives = new Option<string>("--negatives")
        {
            Description = "ITM's wrong captions (other than the image's own): random (with --hard-negative-rate from the TF-IDF pool), or similarity (drawn within the batch in proportion to the contrastive similarity, ALBEF's; needs --contrastive-weight)",
            DefaultValueFactory = _ => "random",
        };
        negatives.AcceptOnlyFromAmong("random", "similarity");
        var contrastive = new Option<double>("--contrastive-weight") { Description = "weight of the image-text contrastive loss that aligns text and image vectors for search (0: off, the paper's setting)" };
        var contrastiveBatch = new Option<int>("--contrastive-batch-size") { Description = "captions in the contrastive loss per step: the examples plus random other training captions, with their photos (0: the examples alone; needs --contrastive-weight)" };
        var command = new Command("pretrain", "Pretrain with masked segment modeling, masked region modeling and image-text matching")
        {
            dataset, features, init, preset, vocab, output, steps, epochs, batch, accumulate, lr, pretrainedLr, seed,
            checkpointEvery, keep, evalEvery, trainSplit, valSplit, resume, segmentMasking, referenceRegions, wholeImage, weights, hardNegatives, contrastive, contrastiveBatch, ownNegatives, ownKind, allRegionsMasked, conditionalMasking, maskMismatched, negatives, precision, judge,
        };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            var lossWeights = parse.GetValue(weights)!.Split(':').Select(w => double.TryParse(w, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v
                : throw new ArgumentException($"--loss-weights {parse.GetValue(weights)}: expected three numbers, MSM:MRM:ITM")).ToArray();
            if (lossWeights.Length != 3) throw new ArgumentException("--loss-weights takes three numbers, MSM:MRM:ITM");
            var tasks = new PretrainingTaskOptions
            {
                SegmentMasking = parse.GetValue(segmentMasking) switch
                {
                    "paper" => SegmentMaskingMode.Paper, "reference" => SegmentMaskingMode.ReferenceSpan, "bert" => SegmentMaskingMode.BertTokens,
                    var other => throw new ArgumentException($"--segment-masking '{other}': expected paper, reference or bert"),
                },
                ReferenceRegionMasking = parse.GetValue(referenceRegions), WholeImageRegion = CommandLine.WholeImageRegion(parse, wholeImage) ?? new PretrainingTaskOptions().WholeImageRegion,
                HardNegativeRate = Math.Clamp(parse.GetValue(hardNegatives), 0, 1),
                SegmentWeight = lossWeights[0], RegionWeight = lossWeights[1], MatchingWeight = lossWeights[2],
                ContrastiveWeight = Math.Max(0, parse.GetValue(contrastive)), OwnNegativeRate = Math.Clamp(parse.GetValue(ownNegatives), 0, 1), OwnNegativeKind = CommandLine.OwnNegativeKind(parse, ownKind),
                SimilarityNegatives = parse.GetValue(negatives) == "similarity", AllRegionsMaskedRate = parse.GetValue(allRegionsMasked), ConditionalMasking = parse.GetValue(conditionalMasking),
                MaskMismatchedRegions = parse.GetValue(maskMismatched), ContrastiveBatchSize = Math.Max(0, parse.GetValue(contrastiveBatch)),
            };
            if (tasks.ConditionalMasking && tasks.AllRegionsMaskedRate <= 0)
                throw new ArgumentException("--conditional-masking keeps the caption whole on the pairs whose every region is masked: add --mask-all-regions (for example 0.5)");
            if (tasks.SimilarityNegatives && tasks.ContrastiveWeight <= 0)
                throw new ArgumentException("--negatives similarity draws by the contrastive vectors' similarity: add --contrastive-weight (for example 1)");
            if (tasks.ContrastiveBatchSize > 0 && tasks.ContrastiveWeight <= 0)
                throw new ArgumentException("--contrastive-batch-size widens the contrastive loss: add --contrastive-weight (for example 1)");
            var options = new PretrainingJobOptions
            {
                Dataset = parse.GetValue(dataset)!, Features = parse.GetValue(features)!, Output = parse.GetValue(output)!,
                Init = parse.GetValue(init), Preset = parse.GetValue(preset), Vocabulary = parse.GetValue(vocab),
                DefaultVocabulary = parse.GetValue(preset) is not null && parse.GetValue(vocab) is null ? InterBert.Weights.MiniLmOnnxReader.ReadVocabularyBytes() : null,
                Steps = parse.GetValue(steps), Epochs = parse.GetValue(epochs), BatchSize = parse.GetValue(batch), GradientAccumulation = parse.GetValue(accumulate),
                LearningRate = parse.GetValue(lr), PretrainedLearningRateMultiplier = parse.GetValue(pretrainedLr), Seed = parse.GetValue(seed),
                CheckpointEvery = parse.GetValue(checkpointEvery), KeepCheckpoints = parse.GetValue(keep), EvalEvery = parse.GetValue(evalEvery),
                TrainSplits = parse.GetValue(trainSplit)!, ValidationSplit = parse.GetValue(valSplit), Resume = parse.GetValue(resume),
                Tasks = tasks, Precision = CommandLine.Precision(parse, precision), RegionJudgeWeight = parse.GetValue(judge),
            };
            return PretrainingJob.Run(options, new ConsoleWorkflowHost()).Cancelled ? 130 : 0;
        }));
        return command;
    }
}
