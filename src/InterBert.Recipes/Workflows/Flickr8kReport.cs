using System.Globalization;
using System.Text;
using InterBert.Modeling;

namespace InterBert.Workflows;

/// <summary>Writes the Flickr8k recipe's <c>report.md</c>: the R@K table beside published results, loss curves, top-5 photos of a few test captions, stage times, the serve command.</summary>
public static class Flickr8kReport
{
    /// <summary>The recipe's stages, in order.</summary>
    public static IReadOnlyList<string> Stages { get; } = ["features", "init", "pretrain", "zero-shot", "finetune-pretrained", "evaluate-pretrained", "index", "calibrate", "finetune-baseline", "evaluate-baseline"];

    /// <summary>Published results on the same 1,000 test photos x 5,000 English captions: text→image and image→text R@1/5/10 (null: not published).</summary>
    public static IReadOnlyList<(string Name, double[] TextToImage, double[]? ImageToText)> EnglishAnchors { get; } =
    [
        ("Karpathy & Fei-Fei 2015 (BRNN, CNN region features)", [11.8, 32.1, 44.7], [16.5, 40.6, 54.2]),
        ("DeViSE (Frome et al. 2013), as reported by Karpathy & Fei-Fei", [5.9, 20.1, 29.6], null),
    ];

    /// <summary>Writes <c>report.md</c> and <c>plots/*.png</c> into <paramref name="folder"/>.</summary>
    public static void Write(string folder, Flickr8kRecipeOptions options, IReadOnlyDictionary<string, Flickr8kEvaluation> results, StageCache cache, string dataset, TimeSpan thisRun)
    {
        var plots = Directory.CreateDirectory(Path.Combine(folder, "plots")).FullName;
        foreach (var (source, target) in new[] { ("pretrain/plots/losses.png", "pretraining-losses.png"), ("finetune-pretrained/plots/losses.png", "finetune-pretrained-loss.png"), ("finetune-baseline/plots/losses.png", "finetune-baseline-loss.png") })
            if (File.Exists(Path.Combine(folder, source))) File.Copy(Path.Combine(folder, source), Path.Combine(plots, target), overwrite: true);
        var photos = Directory.Exists(Path.Combine(options.DataFolder, "Flicker8k_Dataset")) ? Path.Combine(options.DataFolder, "Flicker8k_Dataset") : options.DataFolder;
        var english = options.Language == "en";
        var bilingual = options.Language == "en+zh";
        // One table row per model and, for the bilingual model, per language of the test captions.
        (string Suffix, string Label)[] languages = bilingual ? [("-en", ", English captions"), ("-zh", ", Chinese captions")] : [("", "")];
        results.TryGetValue("finetuned-pretrained" + languages[0].Suffix, out var best);
        if (best is not null) RankedQueryPlot.Write(best.Top, id => Path.Combine(photos, id + ".jpg"), options.Language != "zh", 160, Path.Combine(plots, "top5.png"));

        var text = new StringBuilder();
        var line = (string s) => text.AppendLine(s);
        line(bilingual ? $"# InterBERT on Flickr8k and Flickr8K-CN (one model, English and Chinese captions{(options.Quick ? ", quick recipe" : "")})"
            : $"# InterBERT on Flickr8k{(english ? "" : "-CN")} ({(english ? "English" : "Chinese")} captions{(options.Quick ? ", quick recipe" : "")})");
        line("");
        line(Invariant($"Photos: Flickr8k's 8,000 photos in the standard split, 6,000 for training, 1,000 for validation (`val`, the distribution's dev file), 1,000 for test; {(bilingual ? "each with Flickr8k's five English and Flickr8K-CN's five Chinese captions, ten in all, trained on together" : english ? "Flickr8k's five English captions each" : "Flickr8K-CN's five Chinese captions each, written by native speakers")}. ") +
            (options.GridAlways
                ? Invariant($"Regions: the whole photo, up to {options.MaxRegions - 10} YOLOX boxes and a 3x3 grid of cells (`--grid-always`), ResNet-18 features by RoI align{(options.InputSize != Data.RegionSource.DefaultInputSize ? $" on photos resized to {options.InputSize} pixels (`--input-size {options.InputSize}`)" : "")}; the boxes' class distributions are the masked-region-modeling targets (KL), the cells, no objects, have none. ")
                : Invariant($"Regions: the whole photo and up to {options.MaxRegions - 1} YOLOX boxes, ResNet-18 features by RoI align{(options.InputSize != Data.RegionSource.DefaultInputSize ? $" on photos resized to {options.InputSize} pixels (`--input-size {options.InputSize}`)" : "")}; the detector's class distributions are the masked-region-modeling targets (KL). ")) +
            (english ? "Text weights and vocabulary from MiniLM (`init --from minilm`)."
            : bilingual ? Invariant($"One vocabulary for both languages: MiniLM's {30522:N0} entries, every English token at its id, then the {VocabularySize(folder) - 30522:N0} Chinese characters of the training captions it lacks ({VocabularySize(folder):N0} in all); the text weights are MiniLM's, the added characters' embeddings start random.")
            : Invariant($"A vocabulary learned from the training captions ({VocabularySize(folder):N0} entries, at most {options.ChineseVocabularySize:N0}: BERT's tokenization splits Chinese into characters).") +
                (options.ChineseLayersFromMiniLm
                    ? " No Chinese weights ship: the transformer layers start from MiniLM's (`init --from minilm --vocab`), characters that MiniLM's vocabulary has keep its embeddings, the others start random."
                    : " The text path starts from random weights (no Chinese weights ship).")));
        line(Invariant($"Model: preset `{options.Preset}`{(options.GeometryBias ? " with the attention bias from region pair geometry (`--geometry-bias`)" : "")}{(options.UntieInteraction ? ", the joint pass on its own copy of the single-stream layers (`--untie-interaction`)" : "")}{(options.LocationFrequencies > 0 ? $", boxes encoded with sines of {options.LocationFrequencies} frequencies (`--location-frequencies {options.LocationFrequencies}`)" : "")}. Pretraining: {options.PretrainSteps:N0} steps of {options.PretrainBatch} pairs on the training photos, MSM + MRM + ITM (weights {options.LossWeights.Segment}:{options.LossWeights.Region}:{options.LossWeights.Matching}) plus the image-text contrastive loss (weight {options.ContrastiveWeight}){(options.PretrainSimilarityNegatives ? "; ITM's wrong captions drawn within the batch by contrastive similarity (`--pretrain-negatives similarity`)" : "")}. ") +
            Invariant($"Fine-tuning{(options.Baseline ? ", for both fine-tuned models" : "")}: {options.FinetuneSteps:N0} steps of {options.FinetuneBatch} examples (4-way ranking loss with mined hard negatives, plus the contrastive loss{(options.ContrastiveBatch > options.FinetuneBatch ? $" over {options.ContrastiveBatch} captions a step, the examples and random others (`--contrastive-batch-size {options.ContrastiveBatch}`)" : "")}{(options.SimilarityNegatives ? "; wrong images and captions drawn by contrastive similarity (`--negatives similarity`)" : "")}{(options.PairScore == InterBertConfig.JointCosineScore ? "; pairs scored by the cosine of the joint pass's own vectors (`--pair-score joint-cosine`)" : "")}), learning rate {options.FinetuneLearningRate}. ") +
            (bilingual && options.PretrainSteps == Flickr8kRecipeOptions.For("", "", "en+zh", options.Quick).PretrainSteps ? "Twice the steps of a single-language run, so that each language's captions are seen as often as in its own run. " : "") +
            $"Arithmetic: {options.Precision.Name()}.");
        if (results.Values.FirstOrDefault() is { } any)
            line(Invariant($"Test protocol: all {any.Retrieval.Captions:N0} test captions against all {any.Retrieval.Images:N0} test photos, two-stage (ALBEF's): every pair ranked by the unimodal vectors, then each caption's {any.Candidates} nearest photos and each photo's {any.CaptionCandidates} nearest captions re-scored by the cross-modal model ({any.PairsScored:N0} pairs) and ranked by {RankingText(any.Rerank)}{(any.Rerank is "score" or "score+similarity" ? "" : " (the ranking the calibrate stage measured best on dev, which search uses)")}. Chance R@1 is 0.1%."));
        line("");
        line("| model | text→image R@1 | R@5 | R@10 | image→text R@1 | R@5 | R@10 |");
        line("|---|---|---|---|---|---|---|");
        foreach (var (suffix, language) in languages)
        foreach (var (key, model) in new[] { ("zero-shot", "InterBERT pretrained, zero-shot (matching head)"), ("finetuned-baseline", "InterBERT fine-tuned without multimodal pretraining"), ("finetuned-pretrained", "InterBERT fine-tuned after pretraining") })
        {
            if (!results.TryGetValue(key + suffix, out var r)) continue;
            var label = model + language;
            line(Invariant($"| {label} | {r.Retrieval.TextToImage.R1:F1} | {r.Retrieval.TextToImage.R5:F1} | {r.Retrieval.TextToImage.R10:F1} | {r.Retrieval.ImageToText.R1:F1} | {r.Retrieval.ImageToText.R5:F1} | {r.Retrieval.ImageToText.R10:F1} |"));
        }
        if (english)
            foreach (var (name, t2i, i2t) in EnglishAnchors)
                line(Invariant($"| {name} | {t2i[0]:F1} | {t2i[1]:F1} | {t2i[2]:F1} | {(i2t is null ? "–" : i2t[0].ToString("F1", CultureInfo.InvariantCulture))} | {(i2t is null ? "–" : i2t[1].ToString("F1", CultureInfo.InvariantCulture))} | {(i2t is null ? "–" : i2t[2].ToString("F1", CultureInfo.InvariantCulture))} |"));
        else if (!bilingual)
            line("| (no published text-to-image retrieval results on Flickr8K-CN's human-written captions are known to us) | | | | | | |");
        if (bilingual) SingleLanguageComparison(folder, options, results, line);
        if (best is { Unimodal: { } unimodal, ScoreOnly: { } scoreOnly, ScorePlusSimilarity: { } both })
        {
            line("");
            line($"What each stage adds, for the model fine-tuned after pretraining (the same scored pairs, ranked {(best.WordRegionOnly is null ? "three" : "six")} ways):");
            line("");
            line("| ranking | text→image R@1 | R@5 | R@10 | image→text R@1 | R@5 | R@10 |");
            line("|---|---|---|---|---|---|---|");
            var rows = new List<(string Label, Tasks.RetrievalMetrics Metrics)>
            {
                ("unimodal cosine alone (first stage)", unimodal), ("re-ranked by the cross-modal score alone", scoreOnly),
                (best.SimilarityWeight == 1 ? "re-ranked by score + scaled cosine" : Invariant($"re-ranked by score + {best.SimilarityWeight} x scaled cosine (the weight fitted on dev)"), both),
            };
            if (best is { WordRegionOnly: { } alone, WordRegionPlusSimilarity: { } withCosine, ScorePlusWordRegionPlusSimilarity: { } all })
                rows.AddRange([("re-ranked by word-region matching alone", alone), ("re-ranked by word-region matching + scaled cosine", withCosine), ("re-ranked by score + word-region matching + scaled cosine", all)]);
            foreach (var (label, m) in rows)
                line(Invariant($"| {label} | {m.TextToImage.R1:F1} | {m.TextToImage.R5:F1} | {m.TextToImage.R10:F1} | {m.ImageToText.R1:F1} | {m.ImageToText.R5:F1} | {m.ImageToText.R10:F1} |"));
        }
        line("");
        line("## Losses");
        line("");
        line("![pretraining losses](plots/pretraining-losses.png)");
        line("");
        line("![fine-tuning after pretraining](plots/finetune-pretrained-loss.png) ![fine-tuning without pretraining](plots/finetune-baseline-loss.png)");
        if (best is not null)
        {
            line("");
            line("## Top-5 photos for a few test captions (fine-tuned after pretraining; the true photo is framed green)");
            line("");
            for (var q = 0; q < best.Top.Count; q++)
                line($"{q + 1}. \"{best.Top[q].Caption}\" (true photo {best.Top[q].Truth}, rank {best.Top[q].TruthRank()})");
            line("");
            line("![top-5 photos](plots/top5.png)");
        }
        line("");
        line("## Search");
        line("");
        line("The test photos are indexed (`index/`) with the model fine-tuned after pretraining. Search them in a browser" + (bilingual ? ", in English or in Chinese" : "") +
            " (ranked the way the calibrate stage measured best on dev, `relevance.json`; `--rank` chooses another):");
        line("");
        line($"    ./interbert serve --index {Path.Combine(folder, "index")}");
        line("");
        // The relevance cut-off, fitted on dev and measured on test by the calibrate stage.
        var relevancePath = Path.Combine(folder, "eval", "relevance-test.json");
        if (File.Exists(relevancePath) && System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(relevancePath))?["relevance_cut_off"] is System.Text.Json.Nodes.JsonObject cutOffs)
        {
            line("A minimum relevance (`search --min-relevance P`, `min_relevance=P`) returns only results the model's calibration, fitted on dev, puts at or above P, possibly none. On the test captions (the index's model, the candidates and ranking above):");
            line("");
            line("| minimum relevance | keeps the true photo (photo indexed) | returns nothing (photo left out) |");
            line("|---|---|---|");
            foreach (var (minimum, figures) in cutOffs)
                line($"| {minimum} | {figures!["kept_when_indexed"]}% | {figures["empty_when_left_out"]}% |");
            line("");
        }
        line("The index was built from the model folder `finetune-pretrained/`; a program searches it with that folder:");
        line("");
        line($"    using var pipeline = InterBertPipeline.Load(\"{Path.Combine(folder, "finetune-pretrained")}\", new InterBertPipelineOptions {{ Index = \"{Path.Combine(folder, "index")}\" }});");
        line("");
        // A picture of the page answering a query (for the bilingual model, one per language), when scripts/screenshot-search.sh has taken it.
        (string File, string Query)[] screenshots = bilingual ? [("search.png", "a dog runs through the snow"), ("search-zh.png", "一只狗在雪地里奔跑")]
            : [("search.png", english ? "a dog runs through the snow" : "一只狗在雪地里奔跑")];
        foreach (var (file, query) in screenshots)
        {
            if (File.Exists(Path.Combine(plots, file)))
                line($"![the search page answering \"{query}\"](plots/{file})");
            else
                line($"A picture of the page answering a query: `scripts/screenshot-search.sh {Path.Combine(folder, "index")} \"{query}\" {Path.Combine(plots, file)}`, then run the recipe again to add it here.");
            line("");
        }
        line("");
        line("## Stages");
        line("");
        line("| stage | minutes when it ran |");
        line("|---|---|");
        var ran = Stages.Where(stage => options.Baseline || !stage.EndsWith("-baseline", StringComparison.Ordinal)).ToList();
        foreach (var stage in ran) line(Invariant($"| {stage} | {cache.SecondsOf(stage) / 60:F1} |"));
        line("");
        line(Invariant($"All stages: {ran.Sum(cache.SecondsOf) / 60:F1} minutes; this run {thisRun.TotalMinutes:F1} minutes (stages reused from an earlier run take no time). Dataset read from `{dataset}`."));
        AtomicFile.WriteAllText(Path.Combine(folder, "report.md"), text.ToString());
    }

    // The bilingual model next to the single-language models of the same recipe (the en/ and zh/ runs beside it), when
    // those ran with the same settings: the question is what sharing one model and one vocabulary costs each language.
    private static void SingleLanguageComparison(string folder, Flickr8kRecipeOptions options, IReadOnlyDictionary<string, Flickr8kEvaluation> results, Func<string, StringBuilder> line)
    {
        line("");
        line("Against the single-language models of this recipe (fine-tuned after pretraining, the same steps; each language's 5,000 test captions):");
        line("");
        line("| test captions | model | text→image R@1 | R@5 | R@10 | image→text R@1 | R@5 | R@10 |");
        line("|---|---|---|---|---|---|---|---|");
        foreach (var (language, name) in new[] { ("en", "English"), ("zh", "Chinese") })
        {
            if (results.TryGetValue("finetuned-pretrained-" + language, out var own)) line(Row(name, "one model for both languages", own.Retrieval));
            var sibling = Path.Combine(Path.GetDirectoryName(folder)!, language);
            var evaluation = Path.Combine(sibling, "eval", "finetuned-pretrained.json");
            var siblingOptions = options with { Language = language };
            if (File.Exists(evaluation) && new StageCache(sibling).IsDone("evaluate-pretrained", Flickr8kRecipe.EvaluationFingerprint(siblingOptions)))
                line(Row(name, $"{name} only (`--lang {language}`)", System.Text.Json.JsonSerializer.Deserialize<Flickr8kEvaluation>(File.ReadAllText(evaluation))!.Retrieval));
            else
                line($"| {name} | {name} only: not run with these settings (`./interbert benchmark flickr8k --lang {language}{(options.Quick ? " --quick" : "")}` with the same --out) | | | | | | |");
        }
        static string Row(string captions, string model, Tasks.RetrievalMetrics m) => Invariant(
            $"| {captions} | {model} | {m.TextToImage.R1:F1} | {m.TextToImage.R5:F1} | {m.TextToImage.R10:F1} | {m.ImageToText.R1:F1} | {m.ImageToText.R5:F1} | {m.ImageToText.R10:F1} |");
    }

    private static int VocabularySize(string folder)
    {
        var path = Path.Combine(folder, "init", "vocab.txt");
        return File.Exists(path) ? File.ReadLines(path).Count(l => l.Length > 0) : 0;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);


    /// <summary>A ranking's name in words, for the report.</summary>
    private static string RankingText(string ranking) => ranking switch
    {
        "score" => "the cross-modal score (ALBEF's re-ranking)",
        "score+similarity" => "the cross-modal score plus the unimodal cosine on the contrastive logit scale (BLIP-2's re-ranking)",
        "first-stage" => "the unimodal cosine alone",
        "word-region+similarity" => "word-region matching (each word's attention over the photo's regions, and each region's over the words) plus the unimodal cosine, both on the contrastive logit scale",
        _ => "the cross-modal score plus word-region matching and the unimodal cosine on the contrastive logit scale",
    };
}
