using System.Globalization;
using System.Text;
using InterBert.Modeling;
using InterBert.Pretraining;
using InterBert.Tasks;

namespace InterBert.Workflows;

/// <summary>Writes the demo's Markdown report with its plots: pretraining losses, R@K before and after fine-tuning, and the top-5 images of a few test captions.</summary>
public static class DemoReport
{
    private static int ClassCount(string folder)
    {
        using var store = Data.FeatureStore.Open(Path.Combine(folder, "features"));
        return store.Manifest.ClassCount;
    }

    /// <summary>Writes <c>report.md</c> and <c>plots/*.png</c> into <paramref name="folder"/>.</summary>
    public static void Write(string folder, DemoRecipeOptions settings, IReadOnlyDictionary<string, DemoEvaluation> results, StageCache cache, TimeSpan thisRun)
    {
        var plots = Directory.CreateDirectory(Path.Combine(folder, "plots")).FullName;
        var losses = Path.Combine(folder, "pretrain", "plots", "losses.png");
        if (File.Exists(losses)) File.Copy(losses, Path.Combine(plots, "pretraining-losses.png"), overwrite: true);
        var rows = new (string Key, string Label)[]
        {
            ("zero-shot", "pretrained, zero-shot (matching head)"),
            ("finetuned-baseline", "fine-tuned without multimodal pretraining"),
            ("finetuned-pretrained", "fine-tuned after pretraining"),
        }.Where(r => results.ContainsKey(r.Key)).ToList();
        WriteRecallPlot(rows.Select(r => (r.Label, results[r.Key].Retrieval)).ToList(), Path.Combine(plots, "recall.png"));
        if (results.TryGetValue("finetuned-pretrained", out var best))
            RankedQueryPlot.Write(best.Top, id => Path.Combine(folder, "scenes", "images", id + ".png"), settings.Language == "en", 128, Path.Combine(plots, "top5.png"));

        var test = results.Values.FirstOrDefault()?.Retrieval;
        var text = new StringBuilder();
        text.AppendLine($"# InterBERT demo report ({(settings.Language == "en" ? "English" : "Chinese")} captions)");
        text.AppendLine();
        text.AppendLine($"Synthetic scenes: {settings.Images} images (seed {settings.Seed}), {settings.TestImages} in the test split, {settings.ValidationImages} in validation, the rest for training; 5 captions per image. " +
            (settings.Language == "en" ? "Text weights and vocabulary from MiniLM (`init --from minilm`)." : "A character vocabulary built from the training captions; " + (!settings.ChineseLayersFromMiniLm ? "the text path starts from random weights (no Chinese weights ship)."
                : settings.AlignedCharacters ? "the text path starts from MiniLM's layers with that vocabulary transplanted, each character that the training scenes' English captions align to an English token starting from that token's embedding (`--text-init minilm-aligned`)."
                : "the text path starts from MiniLM's layers with that vocabulary transplanted (`--text-init minilm`).")));
        text.AppendLine($"Model: preset `{settings.Preset}`{(settings.GeometryBias ? " with the attention bias from region pair geometry (`--geometry-bias`)" : "")}{(settings.LocationFrequencies > 0 ? $", boxes encoded with sines of {settings.LocationFrequencies} frequencies (`--location-frequencies {settings.LocationFrequencies}`)" : "")}{(settings.PretrainedLearningRateMultiplier != DemoRecipeOptions.DefaultPretrainedLearningRateMultiplier ? $", MiniLM's weights pretrained at {settings.PretrainedLearningRateMultiplier} times the learning rate (`--pretrained-lr-multiplier`)" : "")}; pretraining {settings.PretrainSteps} steps of {settings.PretrainBatch} pairs (MSM + MRM + ITM, loss weights {settings.LossWeights.Segment}:{settings.LossWeights.Region}:{settings.LossWeights.Matching}" +
            (settings.ContrastiveWeight > 0 ? $", plus the image-text contrastive loss with weight {settings.ContrastiveWeight}" : "") +
            (settings.OwnNegativeRate > 0 ? $"; {settings.OwnNegativeRate * 100:F0}% of ITM's wrong captions are the scene's own hard negatives" : "") +
            (settings.AllRegionsMaskedRate > 0 ? $"; {settings.AllRegionsMaskedRate * 100:F0}% of the true pairs with every region masked (`--mask-all-regions`){(settings.ConditionalMasking ? " and their caption whole (`--conditional-masking`)" : "")}" : "") +
            (settings.RelationCurriculumSteps > 0 ? $"; the first {settings.RelationCurriculumSteps} steps on the scenes with every relation stated one way, left or above (`--relation-curriculum`)" : "") +
            (settings.GroundingCurriculumSteps > 0 ? $"; after four grounding stages of {settings.GroundingCurriculumSteps} steps on the two-object scenes' relation captions, every region hidden, one way and then more of the scenes both ways (`--grounding-curriculum`)" +
                (settings.GroundingSceneCount > settings.Images ? $", drawn from {settings.GroundingSceneCount} scene layouts of which only the first {settings.Images} are rendered (`--grounding-scenes`)" : "") +
                (settings.GroundingBatch > 0 ? $", {settings.GroundingBatch} true pairs a step (`--grounding-batch`)" : "") : "") +
            (settings.RegionJudgeWeight > 0 ? $"; the pretrained model and the one fine-tuned from it add the region head's judgement of each caption to their scores at weight {settings.RegionJudgeWeight} (`--region-judge-weight`)" : "") +
            (settings.FinetunePretrainedLearningRateMultiplier != 1 ? $"; fine-tuning moves MiniLM's weights at {settings.FinetunePretrainedLearningRateMultiplier} times its rate (`--finetune-pretrained-lr-multiplier`)" : "") + "). " +
            $"Masked region modeling is the paper's KL task: each masked region's target is the class distribution of its object, one of {ClassCount(folder)} shape-colour-size classes read from the scenes' objects file (the whole image's is their mix); " +
            (settings.WholeImageRegion == WholeImageRegionMasking.Masked ? "the whole-image region is masked, and predicted, whenever a region inside it is, so the masked content does not leak through it. "
                : "the whole-image region stays visible unless it overlaps an anchor (`--whole-image-region visible`). ") +
            $"retrieval fine-tuning {settings.FinetuneSteps} steps of {settings.FinetuneBatch} examples x 4 pairs" + (settings.ContrastiveWeight > 0 ? " plus the contrastive loss" : "") +
            (settings.FinetuneOwnNegativeRate > 0 ? $" ({settings.FinetuneOwnNegativeRate * 100:F0}% of the wrong captions the scene's own hard negatives)" : "") +
            (settings.Baseline ? ", for both fine-tuned models; " : " (no model fine-tuned without pretraining: `--baseline` adds it); ") +
            (settings.Precision == Precision.Bf16
                ? $"training, evaluation and indexing in bf16 mixed precision, which leaves time for {DemoRecipeOptions.Bf16PretrainSteps} pretraining and {DemoRecipeOptions.Bf16FinetuneSteps} fine-tuning steps by default where fp32 (`--precision fp32`) fits {DemoRecipeOptions.Fp32PretrainSteps} and {DemoRecipeOptions.Fp32FinetuneSteps} (docs/benchmarks.md compares the two recipes' results)."
                : "everything in fp32 (`--precision fp32`)."));
        if (test is not null)
            text.AppendLine($"Evaluated: {test.Captions} test captions (one per test image, cycling through the phrasings) against all {test.Images} test images, {test.Captions * test.Images:N0} pairs scored by the full cross-modal model; chance R@1 is {100.0 / Math.Max(test.Images, 1):F1}%.");
        text.AppendLine();
        text.AppendLine("| model | text→image R@1 | R@5 | R@10 | image→text R@1 | R@5 | R@10 | attribute negatives below truth | relation negatives below truth |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var (key, label) in rows)
        {
            var r = results[key];
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {label} | {r.Retrieval.TextToImage.R1:F1} | {r.Retrieval.TextToImage.R5:F1} | {r.Retrieval.TextToImage.R10:F1} | {r.Retrieval.ImageToText.R1:F1} | {r.Retrieval.ImageToText.R5:F1} | {r.Retrieval.ImageToText.R10:F1} | {r.HardNegatives.AttributeBelowTrue:F1}% of {r.HardNegatives.AttributeComparisons} | {r.HardNegatives.RelationBelowTrue:F1}% of {r.HardNegatives.RelationComparisons} |"));
        }
        text.AppendLine();
        text.AppendLine("Hard negatives are captions one change away from a true caption of the test image: one object's colour changed, or the two objects of a spatial relation swapped. " +
            "A model that reads the caption against the image scores them below the true caption.");
        text.AppendLine();
        if (results.TryGetValue("zero-shot", out var zeroShot) && zeroShot.Grounding is { } grounding)
        {
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"Grounding probe (the pretrained model): with every region's features hidden and only the boxes left, the region head told the two objects a relation caption names apart, box by box, {grounding.NamedRight:F1}% of {grounding.Regions} times (50% without binding the words to the boxes' positions); " +
                $"it preferred each box's true size (small or large, which the box alone decides) {grounding.SizeRight:F1}% of {grounding.SizedRegions} times."));
            text.AppendLine();
        }
        if (best is not null)
        {
            var negatives = best.HardNegatives;
            var comparisons = negatives.AttributeComparisons + negatives.RelationComparisons;
            var below = (negatives.AttributeBelowTrue * negatives.AttributeComparisons + negatives.RelationBelowTrue * negatives.RelationComparisons) / Math.Max(comparisons, 1);
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"Fine-tuned after pretraining, all {comparisons} hard negatives together score below the true caption {below:F1}% of the time."));
            text.AppendLine();
        }
        text.AppendLine("## Pretraining losses");
        text.AppendLine();
        text.AppendLine("![pretraining losses](plots/pretraining-losses.png)");
        text.AppendLine();
        text.AppendLine("## Recall before and after fine-tuning");
        text.AppendLine();
        text.AppendLine("![recall](plots/recall.png)");
        if (best is not null)
        {
            text.AppendLine();
            text.AppendLine("## Top-5 images for a few test captions (fine-tuned after pretraining; the true image is framed green)");
            text.AppendLine();
            for (var q = 0; q < best.Top.Count; q++)
                text.AppendLine($"{q + 1}. \"{best.Top[q].Caption}\" (true image {best.Top[q].Truth}, rank {best.Top[q].TruthRank()})");
            text.AppendLine();
            text.AppendLine("![top-5 images](plots/top5.png)");
        }
        text.AppendLine();
        text.AppendLine("## Search");
        text.AppendLine();
        text.AppendLine("The test scenes are indexed (`index/`) with the model fine-tuned after pretraining. Search them in a browser:");
        text.AppendLine();
        text.AppendLine($"    ./interbert serve --index {Path.Combine(folder, "index")}");
        text.AppendLine();
        text.AppendLine("The index was built from the model folder `finetune-pretrained/`; a program searches it with that folder:");
        text.AppendLine();
        text.AppendLine($"    using var pipeline = InterBertPipeline.Load(\"{Path.Combine(folder, "finetune-pretrained")}\", new InterBertPipelineOptions {{ Index = \"{Path.Combine(folder, "index")}\" }});");
        text.AppendLine();
        text.AppendLine("## Stages");
        text.AppendLine();
        text.AppendLine("| stage | seconds when it ran |");
        text.AppendLine("|---|---|");
        string[] stages =
        [
            "scenes", "features", "init", .. settings.GroundingCurriculumSteps > 0 ? DemoRecipe.GroundingStageNames : [], .. settings.RelationCurriculumSteps > 0 ? ["pretrain-one-way"] : Array.Empty<string>(),
            "pretrain", "zero-shot", "finetune-pretrained", "evaluate-pretrained", "index", "calibrate", .. settings.Baseline ? ["finetune-baseline", "evaluate-baseline"] : Array.Empty<string>(),
        ];
        foreach (var stage in stages)
            text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {stage} | {cache.SecondsOf(stage):F0} |"));
        text.AppendLine();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"The stages together: {stages.Sum(cache.SecondsOf) / 60:F1} minutes, what a run from an empty folder takes."));
        text.AppendLine(string.Create(CultureInfo.InvariantCulture, $"This run took {thisRun.TotalMinutes:F1} minutes (stages reused from an earlier run take no time)."));
        AtomicFile.WriteAllText(Path.Combine(folder, "report.md"), text.ToString());
    }


    private static void WriteRecallPlot(IReadOnlyList<(string Label, RetrievalMetrics Metrics)> rows, string path)
    {
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        string[] ks = ["t→i R@1", "t→i R@5", "t→i R@10", "i→t R@1", "i→t R@5", "i→t R@10"];
        for (var m = 0; m < rows.Count; m++)
        {
            var r = rows[m].Metrics;
            double[] values = [r.TextToImage.R1, r.TextToImage.R5, r.TextToImage.R10, r.ImageToText.R1, r.ImageToText.R5, r.ImageToText.R10];
            var bars = values.Select((v, k) => new ScottPlot.Bar { Position = k * (rows.Count + 1) + m, Value = v, FillColor = palette.GetColor(m) }).ToList();
            plot.Add.Bars(bars);
            plot.Legend.ManualItems.Add(new ScottPlot.LegendItem { LabelText = rows[m].Label, FillColor = palette.GetColor(m) });
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            ks.Select((k, i) => (Position: i * (rows.Count + 1) + (rows.Count - 1) / 2.0, Label: k)).Select(t => new ScottPlot.Tick(t.Position, t.Label)).ToArray());
        plot.Axes.SetLimitsY(0, 100);
        plot.YLabel("recall (%)");
        plot.Title("retrieval on the synthetic test split");
        plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
        AtomicFile.Write(path, temporary =>
        {
            plot.SavePng(temporary + ".png", 900, 500);
            File.Move(temporary + ".png", temporary, overwrite: true);
        });
    }
}
