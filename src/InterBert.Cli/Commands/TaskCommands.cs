using System.CommandLine;
using InterBert.Modeling;
using InterBert.Workflows;
using Spectre.Console;

namespace InterBert.Cli.Commands;

/// <summary>The <c>finetune</c> and <c>evaluate</c> verbs (retrieval, text classification).</summary>
public static class TaskCommands
{
    private static Option<string> TaskOption() => new("--task") { Description = "retrieval, multiple-choice or text-classification (evaluate also: grounding, a pretrained model's region head on relation captions with every region hidden)", Required = true };

    /// <summary>Creates <c>finetune</c>.</summary>
    public static Command Finetune()
    {
        var task = TaskOption();
        var dataset = new Option<string>("--dataset") { Description = "dataset with train (and val) splits", Required = true };
        var features = new Option<string?>("--features") { Description = "feature store of the dataset's images" };
        var init = new Option<string>("--init") { Description = "weights to start from (init or pretrain output)", Required = true };
        var output = new Option<string>("--out") { Description = "run folder: best.safetensors, last.safetensors, metrics.jsonl", Required = true };
        var epochs = new Option<double>("--epochs") { Description = "passes over the training captions", DefaultValueFactory = _ => 4 };
        var batch = new Option<int>("--batch-size") { Description = "examples per step (4 scored pairs each)", DefaultValueFactory = _ => 8 }.AtLeast(1);
        var lr = new Option<double>("--lr") { Description = "peak learning rate", DefaultValueFactory = _ => 2e-4 };
        var pretrainedLr = new Option<double>("--pretrained-lr-multiplier") { Description = "learning-rate multiplier of weights loaded from pretrained BERT", DefaultValueFactory = _ => 1.0 };
        var seed = new Option<int>("--seed") { Description = "seed", DefaultValueFactory = _ => 42 };
        var trainSplit = new Option<string>("--train-split") { Description = "training split", DefaultValueFactory = _ => "train" };
        var valSplit = new Option<string>("--val-split") { Description = "validation split ('none' to skip)", DefaultValueFactory = _ => "val" };
        var mineEvery = new Option<int>("--mine-every") { Description = "steps between hard-negative mining (default: every epoch)" };
        var contrastive = new Option<double>("--contrastive-weight") { Description = "retrieval: weight of the image-text contrastive loss, for models that serve two-stage search (0: off)" };
        var ownKind = CommandLine.OwnNegativeKindOption();
        var ownNegatives = new Option<double>("--own-negative-rate") { Description = "retrieval: share of wrong-caption pairs taken from the image's own \"hard_negatives\" captions in the dataset (synth writes them)" };
        var negatives = new Option<string>("--negatives")
        {
            Description = "retrieval: how each example's wrong image and caption are drawn: random, or similarity (within the batch in proportion to the contrastive similarity, ALBEF's; needs --contrastive-weight)",
            DefaultValueFactory = _ => "random",
        };
        negatives.AcceptOnlyFromAmong("random", "similarity");
        var mineBy = new Option<string>("--mine-by")
        {
            Description = "retrieval: hard images of a caption are its image's nearest images (image) or its own text vector's nearest images, the first stage's confusions (text)",
            DefaultValueFactory = _ => "image",
        };
        mineBy.AcceptOnlyFromAmong("image", "text");
        var extraNegatives = new Option<int>("--extra-negatives")
        {
            Description = "retrieval: wrong images per example beyond the 4-way loss's own, so each caption is ranked against 4 + N pairs (drawn by similarity with --negatives similarity)",
            DefaultValueFactory = _ => 0,
        }.AtLeast(0);
        var contrastiveBatch = new Option<int>("--contrastive-batch-size")
        {
            Description = "retrieval: captions in the contrastive loss per step, the step's examples plus random other training captions (default: the examples alone)",
        }.AtLeast(0);
        var fixedOthers = new Option<bool>("--fixed-contrastive-others")
        {
            Description = "retrieval, with --contrastive-batch-size: the other captions' and photos' vectors are computed without gradient, as negatives only (a forward pass instead of a forward and backward one)",
        };
        var untie = new Option<bool>("--untie-interaction")
        {
            Description = "retrieval: the joint pass over [image ; text] gets its own copy of the single-stream layers, so that the ranking loss trains the interaction and the contrastive loss the search vectors, each on layers of its own (default: one set of layers for both, the paper's)",
        };
        var untieExtraction = new Option<bool>("--untie-extraction")
        {
            Description = "retrieval: as --untie-interaction, and the joint pass's extraction layers and poolers get their own copies too, so that only the embeddings are shared with the search vectors (a score read from the joint pass's pooled vectors, --pair-score joint-cosine, otherwise trains the search vectors' upper layers)",
        };
        var wordRegionWeight = new Option<double>("--word-region-weight")
        {
            Description = "retrieval: weight of a second contrastive loss over the same batch on word-region matching (each word's attention over the regions, from the text-only and image-only passes; evaluate --word-region ranks by it) (0: off)",
        };
        var residualScore = new Option<bool>("--residual-score")
        {
            Description = "retrieval: train the cross-modal score as a correction to the first stage: the ranking loss over score + the scaled unimodal cosine (held fixed), the sum that evaluate --add-similarity and search rank by (needs --contrastive-weight)",
        };
        var rerankerLists = new Option<int>("--reranker-lists")
        {
            Description = "retrieval: train the re-ranker alone over a search model's fixed first stage (--init): each training caption against its photo and its K-1 nearest training photos by the first stage, cross-entropy over the lists whose photo the first stage puts among its K nearest (those a search re-ranks); only the joint pass's own layers (the interaction is untied) and the score head train (0: off)",
        }.AtLeast(0);
        var lateInteraction = new Option<int>("--late-interaction")
        {
            Description = "retrieval, with --reranker-lists: the re-ranker is a late interaction of N layers added to the search model, over every word and region of the text-only and image-only passes (started from the text stream's top N layers), instead of the joint pass; evaluate, index and search then score pairs with it (0: off)",
        }.AtLeast(0);
        var pairScore = new Option<string?>("--pair-score")
        {
            Description = "retrieval: how the joint pass scores a pair: head (a linear head over the fused pooled vectors, the paper's) or joint-cosine (the cosine of the joint pass's own pooled text and image vectors on the contrastive scale: the first stage's similarity with every word attending to every region) (default: the init's, else head)",
        };
        pairScore.AcceptOnlyFromAmong("head", InterBertConfig.JointCosineScore);
        var visualMaps = new Option<string?>("--visual-maps")
        {
            Description = "retrieval: a store of the same images' layer3 maps (features --layer3-maps): the model computes its region features with its own copy of ResNet-18's last stage and fine-tunes it (default: the feature store's frozen features)",
        };
        var stepsOption = new Option<int?>("--steps") { Description = "optimiser steps (instead of --epochs)" };
        var accumulate = new Option<int>("--accumulate") { Description = "micro-batches per step", DefaultValueFactory = _ => 1 }.AtLeast(1);
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "steps between checkpoints (and one at the end)", DefaultValueFactory = _ => 500 }.AtLeast(1);
        var keep = new Option<int>("--keep-checkpoints") { Description = "checkpoints kept", DefaultValueFactory = _ => 2 }.AtLeast(1);
        var resume = new Option<bool>("--resume") { Description = "continue the run in --out from its last checkpoint, exactly" };
        var precisionOption = CommandLine.PrecisionOption();
        var judge = CommandLine.RegionJudgeWeightOption();
        var command = new Command("finetune", "Fine-tune for a downstream task (retrieval: 4-way ranking with mined hard negatives)")
        {
            task, dataset, features, init, output, epochs, batch, lr, pretrainedLr, seed, trainSplit, valSplit, mineEvery, contrastive, ownNegatives, ownKind, negatives, mineBy, extraNegatives,
            contrastiveBatch, fixedOthers, wordRegionWeight, residualScore, untie, untieExtraction, rerankerLists, lateInteraction, pairScore, visualMaps, stepsOption, accumulate, checkpointEvery, keep, resume, precisionOption, judge,
        };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            var options = new FineTuningJobOptions
            {
                Task = parse.GetValue(task)!, Dataset = parse.GetValue(dataset)!, Features = parse.GetValue(features), Init = parse.GetValue(init)!, Output = parse.GetValue(output)!,
                Epochs = parse.GetValue(epochs), Steps = parse.GetValue(stepsOption), BatchSize = parse.GetValue(batch), GradientAccumulation = parse.GetValue(accumulate),
                LearningRate = parse.GetValue(lr), PretrainedLearningRateMultiplier = parse.GetValue(pretrainedLr), Seed = parse.GetValue(seed),
                TrainSplit = parse.GetValue(trainSplit)!, ValidationSplit = parse.GetValue(valSplit)!, MineEvery = parse.GetValue(mineEvery),
                ContrastiveWeight = parse.GetValue(contrastive), OwnNegativeRate = parse.GetValue(ownNegatives), OwnNegativeKind = CommandLine.OwnNegativeKind(parse, ownKind),
                SimilarityNegatives = parse.GetValue(negatives) == "similarity", MineByText = parse.GetValue(mineBy) == "text", ExtraNegatives = parse.GetValue(extraNegatives), ContrastiveBatchSize = parse.GetValue(contrastiveBatch), ResidualScore = parse.GetValue(residualScore), UntieInteraction = parse.GetValue(untie), UntieExtraction = parse.GetValue(untieExtraction), RerankerLists = parse.GetValue(rerankerLists), LateInteraction = parse.GetValue(lateInteraction), PairScore = parse.GetValue(pairScore), FixedContrastiveOthers = parse.GetValue(fixedOthers), WordRegionWeight = parse.GetValue(wordRegionWeight), VisualMaps = parse.GetValue(visualMaps), CheckpointEvery = parse.GetValue(checkpointEvery), KeepCheckpoints = parse.GetValue(keep), Resume = parse.GetValue(resume),
                Precision = CommandLine.Precision(parse, precisionOption), RegionJudgeWeight = parse.GetValue(judge),
            };
            return FineTuningJob.Run(options, new ConsoleWorkflowHost()).Cancelled ? 130 : 0;
        }));
        return command;
    }

    /// <summary>Creates <c>evaluate</c>.</summary>
    public static Command Evaluate()
    {
        var task = TaskOption();
        var dataset = new Option<string>("--dataset") { Description = "dataset", Required = true };
        var split = new Option<string>("--split") { Description = "split to evaluate", DefaultValueFactory = _ => "test" };
        var features = new Option<string?>("--features") { Description = "feature store of the dataset's images" };
        var weights = new Option<string>("--weights") { Description = "weights to evaluate", Required = true };
        var zeroShot = new Option<bool>("--zero-shot") { Description = "score with the pretrained matching head instead of the fine-tuned score head" };
        var metricsOut = new Option<string?>("--metrics-out") { Description = "write the results as JSON" };
        var maxCaptions = new Option<int?>("--max-captions") { Description = "rank only the first N captions (and their images); hard negatives are all scored" };
        var captionsPerImage = new Option<int?>("--captions-per-image") { Description = "rank only the first N captions of each image, every image still a candidate (e.g. 1: a fifth of Flickr8k's captions)" };
        var pairsPerBatch = new Option<int>("--pairs-per-batch") { Description = "pairs scored per forward pass", DefaultValueFactory = _ => 64 };
        var candidates = new Option<string>("--candidates")
        {
            Description = "retrieval: 'all' scores every pair with the cross-modal model; K ranks all by the unimodal vectors and re-scores each caption's K nearest images (and each image's nearest K x captions/images captions)",
            DefaultValueFactory = _ => "all",
        };
        var addSimilarity = new Option<bool>("--add-similarity") { Description = "two-stage: rank re-scored pairs by the cross-modal score plus the unimodal cosine on the contrastive logit scale (BLIP-2's re-ranking) instead of the score alone" };
        var evaluatePairScore = new Option<string?>("--pair-score")
        {
            Description = "retrieval: score the joint pass as if the weights had been fine-tuned with this --pair-score (head or joint-cosine), to measure the other score on the same weights (default: their own)",
        };
        evaluatePairScore.AcceptOnlyFromAmong("head", InterBertConfig.JointCosineScore);
        var wordRegion = new Option<bool>("--word-region") { Description = "two-stage: also rank the re-scored pairs by word-region matching (each word's attention over the regions, from the text-only and image-only passes), alone, plus the cosine, and plus score and cosine" };
        var fitRelevance = new Option<bool>("--fit-relevance") { Description = "two-stage: fit the model's relevance calibration on this split (a dev split) and write relevance.json beside the weights, for search --min-relevance" };
        var scoresOut = new Option<string?>("--scores-out") { Description = "retrieval with --candidates all: write every caption-image pair's score as TSV (image_id, caption, score)" };
        var visualMaps = new Option<string?>("--visual-maps") { Description = "retrieval: the store of layer3 maps (features --layer3-maps) that a model fine-tuned with --visual-maps computes its region features from" };
        var sceneLanguage = new Option<string?>("--scene-language") { Description = "grounding: the language of the demo scenes' captions, en (the default) or zh" };
        sceneLanguage.AcceptOnlyFromAmong("en", "zh");
        var precisionOption = CommandLine.PrecisionOption();
        var command = new Command("evaluate", "Evaluate on a downstream task (retrieval: R@1/5/10 both ways, exhaustive or two-stage cross-modal scoring)")
        {
            task, dataset, split, features, weights, zeroShot, metricsOut, scoresOut, maxCaptions, captionsPerImage, pairsPerBatch, candidates, addSimilarity, wordRegion, evaluatePairScore, fitRelevance, visualMaps, sceneLanguage, precisionOption,
        };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            var options = new EvaluationJobOptions
            {
                Task = parse.GetValue(task)!, Dataset = parse.GetValue(dataset)!, Split = parse.GetValue(split)!, Features = parse.GetValue(features), Weights = parse.GetValue(weights)!,
                ZeroShot = parse.GetValue(zeroShot), MetricsOut = parse.GetValue(metricsOut), ScoresOut = parse.GetValue(scoresOut), MaxCaptions = parse.GetValue(maxCaptions),
                CaptionsPerImage = parse.GetValue(captionsPerImage) is { } n ? (n > 0 ? n : throw new ArgumentException($"--captions-per-image {n}: expected a positive number")) : null, PairsPerBatch = parse.GetValue(pairsPerBatch),
                Candidates = ParseCandidates(parse.GetValue(candidates)!), AddSimilarity = parse.GetValue(addSimilarity), WordRegion = parse.GetValue(wordRegion), PairScore = parse.GetValue(evaluatePairScore), FitRelevance = parse.GetValue(fitRelevance), VisualMaps = parse.GetValue(visualMaps), Precision = CommandLine.Precision(parse, precisionOption),
                ObjectPhrase = parse.GetValue(sceneLanguage) is { } language and not "en" ? InterBert.Synthetic.SceneLanguage.For(language).ObjectPhrase : null,
            };
            if (EvaluationJob.Run(options, new ConsoleWorkflowHost()).Retrieval is { } metrics)
            {
                var table = new Table().AddColumn("direction").AddColumn("R@1").AddColumn("R@5").AddColumn("R@10");
                table.AddRow("text → image", $"{metrics.TextToImage.R1:F1}", $"{metrics.TextToImage.R5:F1}", $"{metrics.TextToImage.R10:F1}");
                table.AddRow("image → text", $"{metrics.ImageToText.R1:F1}", $"{metrics.ImageToText.R5:F1}", $"{metrics.ImageToText.R10:F1}");
                AnsiConsole.Write(table);
            }
            return 0;
        }));
        return command;
    }

    /// <summary>Reads <c>--candidates</c>: null for 'all' (exhaustive), else a positive count.</summary>
    public static int? ParseCandidates(string text)
    {
        if (text.Equals("all", StringComparison.OrdinalIgnoreCase)) return null;
        if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var k) && k > 0) return k;
        throw new ArgumentException($"--candidates {text}: expected 'all' or a positive number of images");
    }
}
