using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using InterBert.Data;
using InterBert.Modeling;
using InterBert.Tasks;
using InterBert.Weights;

namespace InterBert.Workflows;

/// <summary>
/// The <c>evaluate</c> job for every task: retrieval R@1/5/10 both ways (every pair scored, or two-stage), with the
/// dataset's hard negatives when it lists them; multiple-choice and text-classification accuracy. Logs what it measured,
/// writes the results as JSON when asked, and returns them.
/// </summary>
public static class EvaluationJob
{
    /// <summary>What was measured: the JSON written to <see cref="EvaluationJobOptions.MetricsOut"/>, and retrieval's metrics.</summary>
    public sealed record Result(JsonObject Json, RetrievalMetrics? Retrieval, bool Cancelled = false);

    /// <summary>Runs the job.</summary>
    public static Result Run(EvaluationJobOptions options, WorkflowHost host, CancellationToken cancel = default)
    {
        // Both files replace only an earlier evaluation's, checked before the work.
        if (options.MetricsOut is { } metricsPath)
            OutputFolder.ClaimFile(metricsPath, "an evaluation's metrics (JSON with \"precision\")", p => JsonNode.Parse(File.ReadAllText(p)) is JsonObject o && o.ContainsKey("precision"));
        if (options.ScoresOut is { } scoresFile) OutputFolder.ClaimFile(scoresFile, "an evaluation's scores (TSV)", p => OutputFolder.StartsWithLine(p, ScoresHeader));
        var result = options.Task switch
        {
            "retrieval" => Retrieval(options, host, cancel),
            "multiple-choice" => MultipleChoice(options, host),
            "text-classification" => TextClassification(options, host),
            "grounding" => Grounding(options, host),
            _ => throw new InterBertException($"evaluate --task {options.Task}: not available yet; expected retrieval, multiple-choice, text-classification or grounding"),
        };
        result.Json["precision"] = options.Precision.Name();
        if (options.MetricsOut is { } path && !result.Cancelled) AtomicFile.WriteAllText(path, result.Json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return result;
    }

    private static Result Retrieval(EvaluationJobOptions options, WorkflowHost host, CancellationToken cancel)
    {
        using var store = FeatureStore.Open(options.Features ?? throw new ArgumentException("--features is required for retrieval"));
        var (model, tokenizer, _, _) = ModelLoading.Load(options.Weights, store, options.Precision, visualStage: true);
        if (options.PairScore is { } pairScore)
        {
            // Scoring the weights another way is a measurement: the relevance fit and the matching head belong to the model as trained.
            if (options.ZeroShot || options.FitRelevance || model.HasLateInteraction)
            {
                var message = model.HasLateInteraction ? $"--pair-score: {options.Weights} scores pairs by its late interaction, not the joint pass" : "--pair-score scores the joint pass another way: not with --zero-shot or --fit-relevance";
                model.Dispose();
                throw new ArgumentException(message);
            }
            model = ModelLoading.WithPairScore(model, pairScore);
        }
        using (model)
        {
            var maxTokens = model.Config.TextLength;
            var wholeSplit = CaptionCorpus.Load(options.Dataset, [options.Split], store, tokenizer, maxTokens);
            var corpus = options.MaxCaptions is { } limit ? wholeSplit.FirstCaptions(limit) : wholeSplit;
            if (options.CaptionsPerImage is { } perImage) corpus = corpus.FirstCaptionsOfEachImage(perImage);
            using var pairs = new PreparedPairs(corpus, store, tokenizer.PadId, model.Config.VFeatureSize, model.Config.MaxRegionLength);
            // A model with its own stage takes features from the maps unless the store was computed by that very stage.
            var stageFromMaps = model.HasVisualStage && store.Manifest.VisualStage != model.VisualStageFingerprint();
            if (stageFromMaps)
            {
                using var maps = VisualStageInputs.OpenMaps(options.VisualMaps
                    ?? throw new InterBertException($"{options.Weights}: the model computes its region features with its own CNN stage; give --visual-maps (a store written by features --layer3-maps) or a feature store written by features --model"));
                host.Log($"evaluate retrieval: region features of {pairs.ImageCount} images by the model's own {ResNetStage.Name} from {maps.Folder}");
                pairs.ComputeFeaturesWith(model, maps, store, snapshot: true);
            }
            var total = (long)pairs.CaptionCount * pairs.ImageCount;
            var head = options.ZeroShot ? "zero-shot (matching head)" : model.HasLateInteraction ? "late interaction" : model.Config.PairScore == InterBertConfig.JointCosineScore ? "joint pass's cosine" : "score head";
            var watch = Stopwatch.StartNew();
            RetrievalMetrics metrics;
            long scored;
            JsonObject json;
            if (options.Candidates is { } k)
            {
                if (options.ScoresOut is not null) throw new ArgumentException("--scores-out writes every pair's score; it needs --candidates all");
                host.Log($"evaluate retrieval: {pairs.CaptionCount} captions x {pairs.ImageCount} images, two-stage: unimodal ranking, then the {head} re-scores each caption's {Math.Min(k, pairs.ImageCount)} nearest images; {options.Precision.Name()}");
                // Score + similarity weighs the cosine as the model's calibration says (a new fit tries every weight itself).
                var known = options.FitRelevance ? null : RelevanceCalibration.ReadFor(options.Weights, out _);
                var similarityWeight = known?.SimilarityWeight ?? 1;
                if (similarityWeight != 1 && options.AddSimilarity) host.Log($"score + similarity: the cosine at {similarityWeight} times the model's scale (its {RelevanceCalibration.FileName})");
                var result = host.RunStage("evaluate", (progress, stop) => TwoStageRetrievalEvaluation.Evaluate(model, pairs, k, options.ZeroShot, options.PairsPerBatch,
                    new Progress<TwoStageRetrievalEvaluation.Progress>(p => progress.Report(new WorkflowProgress(p.Done, p.Total, p.Stage))), stop, options.AddSimilarity, similarityWeight, options.WordRegion || options.FitRelevance), cancel);
                metrics = result.Metrics;
                scored = result.PairsScored;
                json = JsonSerializer.SerializeToNode(metrics)!.AsObject();
                json["candidates"] = result.ImageCandidates;
                json["caption_candidates"] = result.CaptionCandidates;
                json["rerank"] = options.AddSimilarity ? "score+similarity" : "score";
                json["similarity_weight"] = similarityWeight;
                host.Log($"re-scored {scored:N0} of {total:N0} pairs: {result.ImageCandidates} images per caption, {result.CaptionCandidates} captions per image");
                foreach (var (label, other) in new[] { ("unimodal first stage alone", result.Unimodal!), ("re-ranked by the score alone", result.ScoreOnly!), ("re-ranked by score + similarity", result.ScorePlusSimilarity!) })
                    host.Log($"  {label}: text→image R@1/5/10 {other.TextToImage.R1:F1}/{other.TextToImage.R5:F1}/{other.TextToImage.R10:F1}, image→text {other.ImageToText.R1:F1}/{other.ImageToText.R5:F1}/{other.ImageToText.R10:F1}");
                json["unimodal"] = JsonSerializer.SerializeToNode(result.Unimodal);
                json["score_only"] = JsonSerializer.SerializeToNode(result.ScoreOnly);
                json["score_plus_similarity"] = JsonSerializer.SerializeToNode(result.ScorePlusSimilarity);
                if (result.WordRegionOnly is not null)
                {
                    foreach (var (label, other) in new[] { ("re-ranked by word-region matching alone", result.WordRegionOnly!), ("re-ranked by word-region + similarity", result.WordRegionPlusSimilarity!), ("re-ranked by score + word-region + similarity", result.ScorePlusWordRegionPlusSimilarity!) })
                        host.Log($"  {label}: text→image R@1/5/10 {other.TextToImage.R1:F1}/{other.TextToImage.R5:F1}/{other.TextToImage.R10:F1}, image→text {other.ImageToText.R1:F1}/{other.ImageToText.R5:F1}/{other.ImageToText.R10:F1}");
                    json["word_region_only"] = JsonSerializer.SerializeToNode(result.WordRegionOnly);
                    json["word_region_plus_similarity"] = JsonSerializer.SerializeToNode(result.WordRegionPlusSimilarity);
                    json["score_plus_word_region_plus_similarity"] = JsonSerializer.SerializeToNode(result.ScorePlusWordRegionPlusSimilarity);
                }
                var calibration = known;
                if (options.FitRelevance)
                {
                    var fitted = calibration = RelevanceCalibration.Fit(result, options.Weights, $"{options.Dataset} (split {options.Split})");
                    host.Log($"score + similarity by the cosine's weight (text→image R@1/5/10): {string.Join(", ", fitted.TextToImageBySimilarityWeight!.Select(p => $"{p.Key}: {p.Value[0]:F1}/{p.Value[1]:F1}/{p.Value[2]:F1}"))}; fitted {fitted.SimilarityWeight}");
                    json["fitted_similarity_weight"] = fitted.SimilarityWeight;
                    json["text_to_image_by_similarity_weight"] = JsonSerializer.SerializeToNode(fitted.TextToImageBySimilarityWeight);
                    host.Log($"relevance calibration fitted on {pairs.CaptionCount} captions x {result.ImageCandidates} candidates → {fitted.WriteBeside(options.Weights)}");
                }
                // With a calibration for these weights (read above, or just fitted: no second hash of the weights), what a
                // minimum relevance does on this split.
                if (calibration is not null)
                    json["relevance_cut_off"] = calibration.CutOffs(result, options.AddSimilarity ? SearchRanking.ScoreAndSimilarity : SearchRanking.Score, host.Log);
            }
            else
            {
                if (options.AddSimilarity) throw new ArgumentException("--add-similarity belongs to the two-stage evaluation; give --candidates K");
                if (options.FitRelevance) throw new ArgumentException("--fit-relevance fits on the two-stage candidates; give --candidates K");
                if (options.WordRegion) throw new ArgumentException("--word-region ranks the two-stage candidates; give --candidates K");
                if (options.ScoresOut is { } scoresPath && Path.GetDirectoryName(Path.GetFullPath(scoresPath)) is { } scoresFolder && !Directory.Exists(scoresFolder))
                    throw new InterBertException($"{scoresPath}: its folder does not exist");
                host.Log($"evaluate retrieval: {pairs.CaptionCount} captions x {pairs.ImageCount} images = {total:N0} pairs, {head}; {options.Precision.Name()}");
                var scores = host.RunStage("evaluate", (progress, stop) => RetrievalScorer.ScoreAll(model, pairs, options.ZeroShot, options.PairsPerBatch,
                    new Progress<long>(done => progress.Report(new WorkflowProgress(done, total, "pairs"))), stop), cancel);
                metrics = RetrievalMetrics.FromScores(scores, corpus.ImageOf);
                scored = total;
                if (options.ScoresOut is { } scoresOut) WriteScores(scoresOut, corpus, scores);
                json = JsonSerializer.SerializeToNode(metrics)!.AsObject();
                json["candidates"] = "all";
            }
            host.Log($"mean recall {metrics.MeanRecall:F1}; {watch.Elapsed.TotalSeconds:F1} s ({scored / watch.Elapsed.TotalSeconds:F0} cross-modal pairs/s)");
            // A dataset that lists hard negatives (captions one change away from the truth) is also asked about them,
            // over the whole split: two pairs per negative cost little next to the ranking.
            var hardNegatives = HardNegativeReader.ReadHardNegatives(options.Dataset, options.Split);
            if (hardNegatives.Count > 0 && stageFromMaps)
            {
                // Its pairs take the store's frozen features; a model with its own stage would be asked about other regions than its own.
                host.Log($"hard negatives: not evaluated for a model with its own CNN stage ({hardNegatives.Count} listed)");
            }
            else if (hardNegatives.Count > 0)
            {
                var result = HardNegativeEvaluation.Evaluate(model, wholeSplit, store, tokenizer, hardNegatives, options.ZeroShot, options.PairsPerBatch);
                host.Log($"hard negatives below the true caption: attribute {result.AttributeBelowTrue:F1}% of {result.AttributeComparisons}, relation {result.RelationBelowTrue:F1}% of {result.RelationComparisons}; all of an image's below: {result.ImagesAllBelowTrue:F1}% of {result.Images} images");
                json["hard_negatives"] = JsonSerializer.SerializeToNode(result);
            }
            return new Result(json, metrics);
        }
    }

    private const string ScoresHeader = "image_id\tcaption\tscore";

    /// <summary>Every pair's score as TSV, one line per caption and image (captions' tabs and line breaks become spaces); written atomically.</summary>
    private static void WriteScores(string path, CaptionCorpus corpus, float[,] scores) => AtomicFile.Write(path, temporary =>
    {
        using var writer = new StreamWriter(temporary, append: false, new System.Text.UTF8Encoding(false));
        writer.WriteLine(ScoresHeader);
        for (var c = 0; c < corpus.Captions.Count; c++)
        {
            var caption = string.Join(' ', corpus.Captions[c].Split(['\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries));
            for (var i = 0; i < corpus.ImageIds.Count; i++)
                writer.WriteLine($"{corpus.ImageIds[i]}\t{caption}\t{scores[c, i].ToString("R", System.Globalization.CultureInfo.InvariantCulture)}");
        }
    });

    private static Result TextClassification(EvaluationJobOptions options, WorkflowHost host)
    {
        using var classifier = TextClassifier.Load(options.Weights);
        classifier.Backbone.Precision = options.Precision;
        var tokenizer = ModelVocabulary.TokenizerFor(Path.Combine(options.Weights, "model.safetensors"));
        var examples = LabelledTextReader.Read(options.Dataset);
        var accuracy = 100 * TextClassificationTraining.Accuracy(classifier, tokenizer, examples, options.Dataset, Math.Min(128, classifier.Backbone.Config.MaxPositionEmbeddings));
        host.Log($"evaluate text-classification: {examples.Count} examples, accuracy {accuracy:F1}%");
        return new Result(new JsonObject { ["accuracy"] = accuracy, ["examples"] = examples.Count }, null);
    }

    private static Result Grounding(EvaluationJobOptions options, WorkflowHost host)
    {
        using var store = FeatureStore.Open(options.Features ?? throw new ArgumentException("--features is required for grounding"));
        if (store.Manifest.ClassNames is not { Count: > 0 })
            throw new InterBertException($"{store.Folder}: the store names no classes, so no caption's objects can be matched to its boxes (grounding needs a store of given, labelled boxes, as the demo's)");
        var (model, tokenizer, _, _) = ModelLoading.Load(options.Weights, store, options.Precision);
        using (model)
        {
            var corpus = CaptionCorpus.Load(options.Dataset, [options.Split], store, tokenizer, model.Config.TextLength);
            var negatives = HardNegativeReader.ReadHardNegatives(options.Dataset, options.Split);
            var result = GroundingProbe.Evaluate(model, corpus, store, tokenizer, negatives, objectPhrase: options.ObjectPhrase)
                ?? throw new InterBertException($"{options.Dataset}: no image of split '{options.Split}' has a relation caption (a hard negative whose \"changed\" is relation) naming exactly two objects with one box each " +
                    $"(matched to the store's class names{(options.ObjectPhrase is null ? " in English; --scene-language zh reads Chinese captions" : " in the scene language")})");
            host.Log($"evaluate grounding: {result.Regions} named boxes of relation captions, every region's features hidden; the two named objects told apart {result.NamedRight:F1}% (chance 50), " +
                $"the true size preferred {result.SizeRight:F1}% of {result.SizedRegions}");
            // The same region head as a judge of whole captions: does the true caption explain the hidden regions' classes better than its hard negatives?
            var judged = HardNegativeEvaluation.Evaluate(model, corpus, store, tokenizer, negatives, zeroShot: true, grounded: true);
            host.Log($"evaluate grounding: hard negatives below the true caption by the region head's likelihood of the hidden regions' classes: attribute {judged.AttributeBelowTrue:F1}% of {judged.AttributeComparisons}, " +
                $"relation {judged.RelationBelowTrue:F1}% of {judged.RelationComparisons}");
            var json = JsonSerializer.SerializeToNode(result)!.AsObject();
            json["region_head_hard_negatives"] = JsonSerializer.SerializeToNode(judged);
            return new Result(json, null);
        }
    }

    private static Result MultipleChoice(EvaluationJobOptions options, WorkflowHost host)
    {
        using var store = FeatureStore.Open(options.Features ?? throw new ArgumentException("--features is required for multiple-choice"));
        var items = MultipleChoiceReader.Read(options.Dataset);
        foreach (var item in items) if (!store.Contains(item.ImageId)) throw new InterBertException($"{options.Dataset}: image {item.ImageId} has no features in {store.Folder}");
        var (model, tokenizer, _, _) = ModelLoading.Load(options.Weights, store, options.Precision);
        using (model)
        {
            var accuracy = MultipleChoiceTask.Evaluate(model, items, store, tokenizer);
            host.Log($"evaluate multiple-choice: {items.Count} questions; Q->A {accuracy.QuestionToAnswer:F1}%, QA->R {accuracy.AnswerToRationale:F1}%, Q->AR {accuracy.Joint:F1}%");
            return new Result(new JsonObject { ["accuracy"] = accuracy.Joint, ["q_a"] = accuracy.QuestionToAnswer, ["qa_r"] = accuracy.AnswerToRationale, ["questions"] = items.Count }, null);
        }
    }
}
