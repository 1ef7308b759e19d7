using System.CommandLine;
using System.Text.Json;
using InterBert.Workflows;
using InterBert.Data;
using InterBert.Distributed;
using InterBert.Modeling;
using InterBert.Tasks;
using InterBert.Training;
using InterBert.Weights;
using Spectre.Console;

namespace InterBert.Cli.Commands;

/// <summary>The <c>finetune</c> and <c>evaluate</c> verbs (retrieval, text classification).</summary>
public static class TaskCommands
{
    private static Option<string> TaskOption() => new("--task") { Description = "retrieval, multiple-choice or text-classification", Required = true };

    /// <summary>Creates <c>finetune</c>.</summary>
    public static Command Finetune()
    {
        var task = TaskOption();
        var dataset = new Option<string>("--dataset") { Description = "dataset with train (and val) splits", Required = true };
        var features = new Option<string?>("--features") { Description = "feature store of the dataset's images" };
        var init = new Option<string>("--init") { Description = "weights to start from (init or pretrain output)", Required = true };
        var output = new Option<string>("--out") { Description = "run folder: best.safetensors, last.safetensors, metrics.jsonl", Required = true };
        var epochs = new Option<double>("--epochs") { Description = "passes over the training captions", DefaultValueFactory = _ => 4 };
        var batch = new Option<int>("--batch-size") { Description = "examples per step (4 scored pairs each)", DefaultValueFactory = _ => 8 };
        var lr = new Option<double>("--lr") { Description = "peak learning rate", DefaultValueFactory = _ => 2e-4 };
        var pretrainedLr = new Option<double>("--pretrained-lr-multiplier") { Description = "learning-rate multiplier of weights loaded from pretrained BERT", DefaultValueFactory = _ => 1.0 };
        var seed = new Option<int>("--seed") { Description = "seed", DefaultValueFactory = _ => 42 };
        var trainSplit = new Option<string>("--train-split") { Description = "training split", DefaultValueFactory = _ => "train" };
        var valSplit = new Option<string>("--val-split") { Description = "validation split ('none' to skip)", DefaultValueFactory = _ => "val" };
        var mineEvery = new Option<int>("--mine-every") { Description = "steps between hard-negative mining (default: every epoch)" };
        var contrastive = new Option<double>("--contrastive-weight") { Description = "retrieval: weight of the image-text contrastive loss, for models that serve two-stage search (0: off)" };
        var ownNegatives = new Option<double>("--own-negative-rate") { Description = "retrieval: share of wrong-caption pairs taken from the image's own \"hard_negatives\" captions in the dataset (synth writes them)" };
        var stepsOption = new Option<int?>("--steps") { Description = "optimiser steps (instead of --epochs)" };
        var accumulate = new Option<int>("--accumulate") { Description = "micro-batches per step", DefaultValueFactory = _ => 1 };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "steps between checkpoints (and one at the end)", DefaultValueFactory = _ => 500 };
        var keep = new Option<int>("--keep-checkpoints") { Description = "checkpoints kept", DefaultValueFactory = _ => 2 };
        var resume = new Option<bool>("--resume") { Description = "continue the run in --out from its last checkpoint, exactly" };
        var precisionOption = CommandLine.PrecisionOption();
        var command = new Command("finetune", "Fine-tune for a downstream task (retrieval: 4-way ranking with mined hard negatives)")
        {
            task, dataset, features, init, output, epochs, batch, lr, pretrainedLr, seed, trainSplit, valSplit, mineEvery, contrastive, ownNegatives,
            stepsOption, accumulate, checkpointEvery, keep, resume, precisionOption,
        };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            var taskName = parse.GetValue(task)!;
            var precision = CommandLine.Precision(parse, precisionOption);
            var processes = ProcessGroup.Current;
            var batchSize = Math.Max(1, parse.GetValue(batch));
            var accumulation = Math.Max(1, parse.GetValue(accumulate));
            // --epochs counts examples: a step takes batch x accumulation x ranks of them.
            int StepsFor(double examples) => parse.GetValue(stepsOption) is { } fixedSteps
                ? (fixedSteps > 0 ? fixedSteps : throw new ArgumentException($"--steps {fixedSteps}: expected a positive number"))
                : Math.Max(1, (int)Math.Ceiling(parse.GetValue(epochs) * examples / (batchSize * accumulation * processes.Size)));
            TrainingOptions Options(int steps) => new()
            {
                Steps = steps, BatchSize = batchSize, GradientAccumulation = accumulation, LearningRate = parse.GetValue(lr),
                PretrainedLearningRateMultiplier = parse.GetValue(pretrainedLr), Seed = parse.GetValue(seed), LogEvery = 10,
                CheckpointEvery = Math.Max(1, parse.GetValue(checkpointEvery)), KeepCheckpoints = Math.Max(1, parse.GetValue(keep)),
            };
            var run = new FinetuneRun(parse.GetValue(dataset)!, parse.GetValue(init)!, parse.GetValue(output)!, precision, parse.GetValue(resume), processes);
            if (taskName == "multiple-choice") return FinetuneMultipleChoice(run, parse.GetValue(features), StepsFor, Options);
            if (taskName == "text-classification") return FinetuneTextClassification(run, StepsFor, Options);
            if (taskName != "retrieval") throw new InterBertException($"finetune --task {taskName}: not available yet; expected retrieval, multiple-choice or text-classification");
            using var store = FeatureStore.Open(parse.GetValue(features) ?? throw new ArgumentException("--features is required for retrieval"));
            TorchSharp.torch.manual_seed(parse.GetValue(seed));
            var (model, tokenizer, vocabulary, pretrained) = ModelLoading.Load(parse.GetValue(init)!, store, precision);
            using (model)
            {
                var maxTokens = Math.Min(model.Config.MaxSeqLength, model.Config.MaxPositionEmbeddings);
                var datasetPath = parse.GetValue(dataset)!;
                var trainCorpus = CaptionCorpus.Load(datasetPath, [parse.GetValue(trainSplit)!], store, tokenizer, maxTokens);
                var ownNegativeRate = Math.Clamp(parse.GetValue(ownNegatives), 0, 1);
                if (ownNegativeRate > 0) trainCorpus = Synthetic.SyntheticDataset.WithOwnNegatives(trainCorpus, datasetPath, [parse.GetValue(trainSplit)!], tokenizer, maxTokens, "--own-negative-rate");
                if (trainCorpus.ImageIds.Count < 3) throw new InterBertException($"{datasetPath}: retrieval fine-tuning needs at least 3 training images, found {trainCorpus.ImageIds.Count}");
                using var train = new PreparedPairs(trainCorpus, store, tokenizer.PadId, model.Config.VFeatureSize, model.Config.MaxRegionLength);
                var validationSplit = parse.GetValue(valSplit)!;
                using var validation = validationSplit == "none" ? null
                    : new PreparedPairs(CaptionCorpus.Load(datasetPath, [validationSplit], store, tokenizer, maxTokens), store, tokenizer.PadId, model.Config.VFeatureSize, model.Config.MaxRegionLength);
                var steps = StepsFor(train.CaptionCount);
                var options = Options(steps);
                if (processes.IsRoot)
                    Console.WriteLine($"finetune retrieval: {train.CaptionCount} captions of {train.ImageCount} images, {steps} steps of {batchSize * accumulation} examples (4 pairs each)" +
                        (processes.Size > 1 ? $" per rank x {processes.Size} ranks (MPI)" : "") + $"; validation on {(validation is null ? "nothing" : $"{validation.CaptionCount} captions x {validation.ImageCount} images")}; {precision.Name()}");
                var result = ProgressDisplay.Run("finetune", (progress, cancel) => RetrievalFineTuning.Run(model, train, validation, options, pretrained,
                    parse.GetValue(output)!, vocabulary, tokenizer.LowerCase, parse.GetValue(mineEvery),
                    new SynchronousProgress<RetrievalFineTuning.Progress>(p =>
                    {
                        if (processes.IsRoot) progress.Report(new ProgressDisplay.Update(p.Step, p.Steps, double.IsNaN(p.Loss) ? p.Status : $"step {p.Step}: loss {p.Loss:F3} lr {p.LearningRate:E1}"));
                    }), cancel,
                    Math.Max(0, parse.GetValue(contrastive)), ownNegativeRate, parse.GetValue(resume), processes));
                if (!processes.IsRoot) return result.Cancelled ? 130 : 0;
                if (result.Cancelled)
                {
                    Console.WriteLine($"finetune: interrupted at step {result.Step}; checkpoint written; continue with the same command and --resume");
                    return 130;
                }
                if (result.BestValidation is { } best) Console.WriteLine($"finetune: best validation mean recall {best.MeanRecall:F1} (text→image R@1/5/10 {best.TextToImage.R1:F1}/{best.TextToImage.R5:F1}/{best.TextToImage.R10:F1})");
                Console.WriteLine($"finetune: wrote {result.BestWeights} and {result.LastWeights}");
                return 0;
            }
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
        var pairsPerBatch = new Option<int>("--pairs-per-batch") { Description = "pairs scored per forward pass", DefaultValueFactory = _ => 64 };
        var candidates = new Option<string>("--candidates")
        {
            Description = "retrieval: 'all' scores every pair with the cross-modal model; K ranks all by the unimodal vectors and re-scores each caption's K nearest images (and each image's nearest K x captions/images captions)",
            DefaultValueFactory = _ => "all",
        };
        var addSimilarity = new Option<bool>("--add-similarity") { Description = "two-stage: rank re-scored pairs by the cross-modal score plus the unimodal cosine on the contrastive logit scale (BLIP-2's re-ranking) instead of the score alone" };
        var precisionOption = CommandLine.PrecisionOption();
        var command = new Command("evaluate", "Evaluate on a downstream task (retrieval: R@1/5/10 both ways, exhaustive or two-stage cross-modal scoring)")
        {
            task, dataset, split, features, weights, zeroShot, metricsOut, maxCaptions, pairsPerBatch, candidates, addSimilarity, precisionOption,
        };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            var taskName = parse.GetValue(task)!;
            var precision = CommandLine.Precision(parse, precisionOption);
            if (taskName == "multiple-choice") return EvaluateMultipleChoice(parse.GetValue(dataset)!, parse.GetValue(features), parse.GetValue(weights)!, parse.GetValue(metricsOut), precision);
            if (taskName == "text-classification") return EvaluateTextClassification(parse.GetValue(dataset)!, parse.GetValue(weights)!, parse.GetValue(metricsOut), precision);
            if (taskName != "retrieval") throw new InterBertException($"evaluate --task {taskName}: not available yet; expected retrieval, multiple-choice or text-classification");
            var candidateCount = ParseCandidates(parse.GetValue(candidates)!);
            using var store = FeatureStore.Open(parse.GetValue(features) ?? throw new ArgumentException("--features is required for retrieval"));
            var (model, tokenizer, _, _) = ModelLoading.Load(parse.GetValue(weights)!, store, precision);
            using (model)
            {
                var maxTokens = Math.Min(model.Config.MaxSeqLength, model.Config.MaxPositionEmbeddings);
                var datasetPath = parse.GetValue(dataset)!;
                var splitName = parse.GetValue(split)!;
                var wholeSplit = CaptionCorpus.Load(datasetPath, [splitName], store, tokenizer, maxTokens);
                var corpus = parse.GetValue(maxCaptions) is { } limit ? wholeSplit.FirstCaptions(limit) : wholeSplit;
                using var pairs = new PreparedPairs(corpus, store, tokenizer.PadId, model.Config.VFeatureSize, model.Config.MaxRegionLength);
                var total = (long)pairs.CaptionCount * pairs.ImageCount;
                var head = parse.GetValue(zeroShot) ? "zero-shot (matching head)" : "score head";
                var watch = System.Diagnostics.Stopwatch.StartNew();
                RetrievalMetrics metrics;
                long scored;
                System.Text.Json.Nodes.JsonObject json;
                if (candidateCount is { } k)
                {
                    Console.WriteLine($"evaluate retrieval: {pairs.CaptionCount} captions x {pairs.ImageCount} images, two-stage: unimodal ranking, then the {head} re-scores each caption's {Math.Min(k, pairs.ImageCount)} nearest images; {precision.Name()}");
                    var result = ProgressDisplay.Run("evaluate", (progress, cancel) => TwoStageRetrievalEvaluation.Evaluate(model, pairs, k, parse.GetValue(zeroShot), parse.GetValue(pairsPerBatch),
                        new Progress<TwoStageRetrievalEvaluation.Progress>(p => progress.Report(new ProgressDisplay.Update(p.Done, p.Total, p.Stage))), cancel, parse.GetValue(addSimilarity)));
                    metrics = result.Metrics;
                    scored = result.PairsScored;
                    json = JsonSerializer.SerializeToNode(metrics)!.AsObject();
                    json["candidates"] = result.ImageCandidates;
                    json["caption_candidates"] = result.CaptionCandidates;
                    json["rerank"] = parse.GetValue(addSimilarity) ? "score+similarity" : "score";
                    Console.WriteLine($"re-scored {scored:N0} of {total:N0} pairs: {result.ImageCandidates} images per caption, {result.CaptionCandidates} captions per image");
                    foreach (var (label, other) in new[] { ("unimodal first stage alone", result.Unimodal!), ("re-ranked by the score alone", result.ScoreOnly!), ("re-ranked by score + similarity", result.ScorePlusSimilarity!) })
                        Console.WriteLine($"  {label}: text→image R@1/5/10 {other.TextToImage.R1:F1}/{other.TextToImage.R5:F1}/{other.TextToImage.R10:F1}, image→text {other.ImageToText.R1:F1}/{other.ImageToText.R5:F1}/{other.ImageToText.R10:F1}");
                    json["unimodal"] = JsonSerializer.SerializeToNode(result.Unimodal);
                    json["score_only"] = JsonSerializer.SerializeToNode(result.ScoreOnly);
                    json["score_plus_similarity"] = JsonSerializer.SerializeToNode(result.ScorePlusSimilarity);
                }
                else
                {
                    if (parse.GetValue(addSimilarity)) throw new ArgumentException("--add-similarity belongs to the two-stage evaluation; give --candidates K");
                    Console.WriteLine($"evaluate retrieval: {pairs.CaptionCount} captions x {pairs.ImageCount} images = {total:N0} pairs, {head}; {precision.Name()}");
                    var scores = ProgressDisplay.Run("evaluate", (progress, cancel) => RetrievalScorer.ScoreAll(model, pairs, parse.GetValue(zeroShot), parse.GetValue(pairsPerBatch),
                        new Progress<long>(done => progress.Report(new ProgressDisplay.Update(done, total, "pairs"))), cancel));
                    metrics = RetrievalMetrics.FromScores(scores, corpus.ImageOf);
                    scored = total;
                    json = JsonSerializer.SerializeToNode(metrics)!.AsObject();
                    json["candidates"] = "all";
                }
                var table = new Table().AddColumn("direction").AddColumn("R@1").AddColumn("R@5").AddColumn("R@10");
                table.AddRow("text → image", $"{metrics.TextToImage.R1:F1}", $"{metrics.TextToImage.R5:F1}", $"{metrics.TextToImage.R10:F1}");
                table.AddRow("image → text", $"{metrics.ImageToText.R1:F1}", $"{metrics.ImageToText.R5:F1}", $"{metrics.ImageToText.R10:F1}");
                AnsiConsole.Write(table);
                Console.WriteLine($"mean recall {metrics.MeanRecall:F1}; {watch.Elapsed.TotalSeconds:F1} s ({scored / watch.Elapsed.TotalSeconds:F0} cross-modal pairs/s)");
                json["precision"] = precision.Name();
                // A dataset that lists hard negatives (captions one change away from the truth) is also asked about them,
                // over the whole split: two pairs per negative cost little next to the ranking.
                var hardNegatives = Synthetic.SyntheticDataset.ReadHardNegatives(datasetPath, splitName);
                if (hardNegatives.Count > 0)
                {
                    var result = Synthetic.HardNegativeEvaluation.Evaluate(model, wholeSplit, store, tokenizer, hardNegatives, parse.GetValue(zeroShot), parse.GetValue(pairsPerBatch));
                    Console.WriteLine($"hard negatives below the true caption: attribute {result.AttributeBelowTrue:F1}% of {result.AttributeComparisons}, relation {result.RelationBelowTrue:F1}% of {result.RelationComparisons}; all of an image's below: {result.ImagesAllBelowTrue:F1}% of {result.Images} images");
                    json["hard_negatives"] = JsonSerializer.SerializeToNode(result);
                }
                if (parse.GetValue(metricsOut) is { } path) AtomicFile.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                return 0;
            }
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

    /// <summary>What every fine-tuning verb shares: data, initial weights, output folder, precision, resume and processes.</summary>
    private sealed record FinetuneRun(string Dataset, string Init, string Output, Precision Precision, bool Resume, ProcessGroup Processes);

    private static int FinetuneTextClassification(FinetuneRun run, Func<double, int> stepsFor, Func<int, TrainingOptions> optionsFor)
    {
        var examples = LabelledTextReader.Read(run.Dataset);
        var labels = examples.Select(e => e.Label).Distinct().Order(StringComparer.Ordinal).ToList();
        var options = optionsFor(stepsFor(examples.Count));
        TorchSharp.torch.manual_seed(options.Seed);
        var (model, tokenizer, vocabulary, pretrained) = ModelLoading.Load(run.Init, null, run.Precision);
        using var classifier = new TextClassifier(model, labels);
        var maxLength = Math.Min(128, model.Config.MaxPositionEmbeddings);
        if (run.Processes.IsRoot)
            Console.WriteLine($"finetune text-classification: {examples.Count} examples, {labels.Count} labels ({string.Join(", ", labels)}), {options.Steps} steps of {options.BatchSize * options.GradientAccumulation}; text-only path (no image parameter)");
        var result = ProgressDisplay.Run("finetune", (progress, cancel) => TextClassificationTraining.Run(classifier, tokenizer, examples, run.Dataset, options, pretrained, maxLength, run.Output,
            new SynchronousProgress<(int Step, int Steps, double Loss)>(p => { if (run.Processes.IsRoot) progress.Report(new ProgressDisplay.Update(p.Step, p.Steps, $"loss {p.Loss:F3}")); }),
            cancel, run.Resume, run.Processes));
        if (!run.Processes.IsRoot) return result.Cancelled ? 130 : 0;
        if (result.Cancelled) return Interrupted(result.Step);
        classifier.Save(run.Output, vocabulary, tokenizer.LowerCase, pretrained);
        Console.WriteLine($"finetune: training accuracy {100 * TextClassificationTraining.Accuracy(classifier, tokenizer, examples, run.Dataset, maxLength):F1}%; wrote {run.Output}");
        return 0;
    }

    private static int Interrupted(int step)
    {
        Console.WriteLine($"finetune: interrupted at step {step}; checkpoint written; continue with the same command and --resume");
        return 130;
    }

    private static int EvaluateTextClassification(string dataset, string weightsFolder, string? metricsOut, Precision precision)
    {
        using var classifier = TextClassifier.Load(weightsFolder);
        classifier.Model.Precision = precision;
        var tokenizer = ModelVocabulary.TokenizerFor(Path.Combine(weightsFolder, "model.safetensors"));
        var examples = LabelledTextReader.Read(dataset);
        var accuracy = 100 * TextClassificationTraining.Accuracy(classifier, tokenizer, examples, dataset, Math.Min(128, classifier.Model.Config.MaxPositionEmbeddings));
        Console.WriteLine($"evaluate text-classification: {examples.Count} examples, accuracy {accuracy:F1}%");
        if (metricsOut is not null) AtomicFile.WriteAllText(metricsOut, JsonSerializer.Serialize(new Dictionary<string, object> { ["accuracy"] = accuracy, ["examples"] = examples.Count, ["precision"] = precision.Name() }, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    private static int FinetuneMultipleChoice(FinetuneRun run, string? featuresPath, Func<double, int> stepsFor, Func<int, TrainingOptions> optionsFor)
    {
        using var store = FeatureStore.Open(featuresPath ?? throw new ArgumentException("--features is required for multiple-choice"));
        var items = MultipleChoiceReader.Read(run.Dataset);
        foreach (var item in items) if (!store.Contains(item.ImageId)) throw new InterBertException($"{run.Dataset}: image {item.ImageId} has no features in {store.Folder}");
        // Each question gives two steps' worth of examples: Q→A and QA→R in turn.
        var options = optionsFor(stepsFor(2.0 * items.Count) is var steps && steps > 1 ? steps : 2);
        TorchSharp.torch.manual_seed(options.Seed);
        var (model, tokenizer, vocabulary, pretrained) = ModelLoading.Load(run.Init, store, run.Precision);
        using (model)
        {
            if (run.Processes.IsRoot) Console.WriteLine($"finetune multiple-choice: {items.Count} questions, {options.Steps} steps of {options.BatchSize * options.GradientAccumulation} (Q->A and QA->R in turn)");
            var result = ProgressDisplay.Run("finetune", (progress, cancel) => MultipleChoiceTask.Train(model, items, store, tokenizer, options, pretrained, run.Output,
                new SynchronousProgress<(int Step, int Steps, double Loss)>(p => { if (run.Processes.IsRoot) progress.Report(new ProgressDisplay.Update(p.Step, p.Steps, $"loss {p.Loss:F3}")); }),
                cancel, run.Resume, run.Processes));
            if (!run.Processes.IsRoot) return result.Cancelled ? 130 : 0;
            if (result.Cancelled) return Interrupted(result.Step);
            var weights = Path.Combine(run.Output, "last.safetensors");
            var metadata = ModelVocabulary.WriteBeside(weights, vocabulary, tokenizer.LowerCase);
            metadata["finetune_task"] = "multiple-choice";
            metadata[PrecisionNames.MetadataKey] = run.Precision.Name();
            PretrainedKeys.Record(metadata, pretrained);
            ModelCheckpoint.Save(model, weights, metadata);
            Console.WriteLine($"finetune: wrote {weights}");
            return 0;
        }
    }

    private static int EvaluateMultipleChoice(string dataset, string? featuresPath, string weights, string? metricsOut, Precision precision)
    {
        using var store = FeatureStore.Open(featuresPath ?? throw new ArgumentException("--features is required for multiple-choice"));
        var items = MultipleChoiceReader.Read(dataset);
        foreach (var item in items) if (!store.Contains(item.ImageId)) throw new InterBertException($"{dataset}: image {item.ImageId} has no features in {store.Folder}");
        var (model, tokenizer, _, _) = ModelLoading.Load(weights, store, precision);
        using (model)
        {
            var accuracy = MultipleChoiceTask.Evaluate(model, items, store, tokenizer);
            Console.WriteLine($"evaluate multiple-choice: {items.Count} questions; Q->A {accuracy.QuestionToAnswer:F1}%, QA->R {accuracy.AnswerToRationale:F1}%, Q->AR {accuracy.Joint:F1}%");
            if (metricsOut is not null)
                AtomicFile.WriteAllText(metricsOut, JsonSerializer.Serialize(new Dictionary<string, object> { ["accuracy"] = accuracy.Joint, ["q_a"] = accuracy.QuestionToAnswer, ["qa_r"] = accuracy.AnswerToRationale, ["questions"] = items.Count, ["precision"] = precision.Name() }, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
    }
}
