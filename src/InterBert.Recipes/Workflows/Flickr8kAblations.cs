using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using InterBert.Modeling;
using InterBert.Tasks;
using InterBert.Training;
using static System.FormattableString;

namespace InterBert.Workflows;

/// <summary>
/// The paper's claims about its pretraining tasks and its architecture, measured on Flickr8k: the recipe itself (the
/// full row and, from its baseline, the row without pretraining), then every other <see cref="PretrainingVariant"/>
/// through the recipe's own stages (its features and initial weights reused, the same fine-tuning and two-stage test
/// evaluation), for one or more seeds each → <c>LANG/ablations/report.md</c>. Every run resumes stage by stage.
/// </summary>
public sealed class Flickr8kAblations
{
    private readonly Flickr8kRecipeOptions recipe;
    private readonly IReadOnlyList<PretrainingVariant> rows;
    private readonly int seeds;
    private readonly WorkflowHost host;

    /// <summary>One finished run of a row: its test results, final pretraining losses and minutes.</summary>
    public sealed record RowRun(string Row, int Seed, RetrievalMetrics? ZeroShot, RetrievalMetrics Finetuned, IReadOnlyDictionary<string, double> PretrainingLosses, double Minutes, string Folder);

    /// <summary>Prepares the benchmark: the recipe's settings, the rows to run and the seeds of each.</summary>
    public Flickr8kAblations(Flickr8kRecipeOptions recipe, IReadOnlyList<PretrainingVariant> rows, int seeds, WorkflowHost? host = null)
    {
        if (recipe.Language is not ("en" or "zh")) throw new InterBertException($"--lang {recipe.Language}: the ablations run on one language, en or zh");
        if (seeds < 1) throw new ArgumentException($"--seeds {seeds}: expected at least 1");
        if (rows.Count == 0) throw new ArgumentException("--rows: expected at least one row");
        // The recipe's fine-tuning without pretraining is the no-pretraining row's first seed: run it only when that row is asked for.
        this.recipe = recipe with { Variant = null, Baseline = rows.Any(r => !r.Pretrains) };
        this.rows = rows;
        this.seeds = seeds;
        this.host = host ?? new WorkflowHost();
        Folder = Path.Combine(recipe.OutputFolder, recipe.Language, "ablations");
    }

    /// <summary>The benchmark's folder (<c>LANG/ablations</c>): a run folder per row and seed, and the report.</summary>
    public string Folder { get; }

    /// <summary>The report's path.</summary>
    public string ReportPath => Path.Combine(Folder, "report.md");

    /// <summary>The seeds every row is run with: the recipe's, then the next ones.</summary>
    public IEnumerable<int> Seeds => Enumerable.Range(recipe.Seed, seeds);

    /// <summary>Runs (or reuses) the recipe and every row's runs, then writes the report; false when interrupted.</summary>
    public bool Run(CancellationToken cancel = default)
    {
        // The full row and the row without pretraining at the recipe's seed are the recipe's own stages.
        host.Log($"ablations: the recipe itself (full row and no-pretraining row, seed {recipe.Seed})");
        var main = new Flickr8kRecipe(recipe, host);
        if (!main.Run(cancel)) return false;
        foreach (var row in rows)
        foreach (var seed in Seeds)
        {
            if (RunOf(row, seed) is not { } options) continue;
            host.Log($"ablations: row {row.Name}, seed {seed}: {row.Title}");
            if (!new Flickr8kRecipe(options, host).Run(cancel)) return false;
        }
        Directory.CreateDirectory(Folder);
        AtomicFile.WriteAllText(ReportPath, Report(Results()));
        return true;
    }

    /// <summary>The recipe options of a row's run at a seed, or null where the recipe's own run is that row (full and no-pretraining at the recipe's seed).</summary>
    private Flickr8kRecipeOptions? RunOf(PretrainingVariant row, int seed) =>
        seed == recipe.Seed && (row == PretrainingVariant.Full || !row.Pretrains) ? null : recipe with { Variant = row, Seed = seed, Baseline = false };

    /// <summary>The seeds of a row to report: those asked for, and any other seed whose run an earlier command finished (<c>ROW-seedN</c>).</summary>
    private IEnumerable<int> SeedsOf(PretrainingVariant row)
    {
        var found = Directory.Exists(Folder)
            ? Directory.EnumerateDirectories(Folder, row.Name + "-seed*")
                .Select(path => Path.GetFileName(path)[(row.Name.Length + "-seed".Length)..])
                .Select(text => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var seed) ? seed : 0)
                .Where(seed => seed > 0)
            : [];
        return Seeds.Union(found).Order();
    }

    /// <summary>Every finished run of the chosen rows: the seeds asked for, and more seeds that earlier commands ran (so decisive rows can have three while the others have one).</summary>
    public IReadOnlyList<RowRun> Results()
    {
        var runs = new List<RowRun>();
        foreach (var row in rows)
        foreach (var seed in SeedsOf(row))
        {
            var variant = RunOf(row, seed);
            var fromRecipe = variant is null;
            var folder = variant is null ? Path.Combine(recipe.OutputFolder, recipe.Language) : Flickr8kRecipe.VariantFolder(variant)!;
            if (!File.Exists(Path.Combine(folder, StageCache.FileName))) continue;
            var cache = new StageCache(folder);
            var (finetuned, zeroShot, stageNames) = (fromRecipe, row.Pretrains) switch
            {
                (true, true) => ("finetuned-pretrained", "zero-shot", new[] { "pretrain", "zero-shot", "finetune-pretrained", "evaluate-pretrained" }),
                (true, false) => ("finetuned-baseline", null, ["finetune-baseline", "evaluate-baseline"]),
                (false, true) => ("finetuned", "zero-shot", ["pretrain", "zero-shot", "finetune", "evaluate"]),
                (false, false) => ("finetuned", (string?)null, ["finetune", "evaluate"]),
            };
            var finetunedPath = Path.Combine(folder, "eval", finetuned + ".json");
            if (!File.Exists(finetunedPath)) continue;
            RetrievalMetrics Read(string path) => System.Text.Json.JsonSerializer.Deserialize<Flickr8kEvaluation>(File.ReadAllText(path))!.Retrieval;
            var zeroShotPath = zeroShot is null ? null : Path.Combine(folder, "eval", zeroShot + ".json");
            runs.Add(new RowRun(row.Name, seed, zeroShotPath is not null && File.Exists(zeroShotPath) ? Read(zeroShotPath) : null, Read(finetunedPath),
                row.Pretrains ? FinalLosses(Path.Combine(folder, "pretrain", "metrics.jsonl")) : new Dictionary<string, double>(),
                stageNames.Sum(cache.SecondsOf) / 60, Path.GetRelativePath(Folder, folder)));
        }
        return runs;
    }

    /// <summary>The mean of each pretraining loss over the last tenth of the logged training steps (validation rows left out).</summary>
    public static IReadOnlyDictionary<string, double> FinalLosses(string metricsPath)
    {
        var rows = new MetricsLog(metricsPath).ReadAll().Where(r => r.ContainsKey("msm") && !r.ContainsKey("split")).ToList();
        var tail = rows.Skip(rows.Count - Math.Max(1, rows.Count / 10)).ToList();
        var losses = new Dictionary<string, double>();
        if (tail.Count == 0) return losses;
        foreach (var name in new[] { "msm", "mrm", "itm", "itc" })
            if (tail.All(r => r[name] is JsonValue)) losses[name] = tail.Average(r => r[name]!.GetValue<double>());
        return losses;
    }

    /// <summary>The sum of the six recalls (text-to-image and image-to-text R@1, R@5, R@10): one figure per run for comparing rows.</summary>
    public static double RecallSum(RetrievalMetrics m) =>
        m.TextToImage.R1 + m.TextToImage.R5 + m.TextToImage.R10 + m.ImageToText.R1 + m.ImageToText.R5 + m.ImageToText.R10;

    /// <summary>What a row's figures say about the paper's direction ("the full model better than this row"), against the seed-to-seed spread.</summary>
    public static string Verdict(IReadOnlyList<double> full, IReadOnlyList<double> row)
    {
        if (full.Count == 0 || row.Count == 0) return "not measured";
        var (fullMean, fullSpread) = Sst2Benchmark.MeanAndSpread(full);
        var (rowMean, rowSpread) = Sst2Benchmark.MeanAndSpread(row);
        var gap = fullMean - rowMean;
        var spread = Math.Max(fullSpread, rowSpread);
        var direction = gap > 0 ? "agrees" : gap < 0 ? "disagrees" : "no difference";
        if (full.Count < 2 && row.Count < 2) return Invariant($"{direction} on one seed ({gap:+0.0;-0.0} RSUM); the spread is not measured (add --seeds 3)");
        return Math.Abs(gap) <= spread
            ? Invariant($"undecided: {gap:+0.0;-0.0} RSUM, within the seed-to-seed spread ({spread:F1})")
            : Invariant($"{direction}: {gap:+0.0;-0.0} RSUM, beyond the seed-to-seed spread ({spread:F1})");
    }

    private string Report(IReadOnlyList<RowRun> runs)
    {
        var text = new StringBuilder();
        void Line(string line = "") => text.Append(line).Append('\n');
        string F(double v) => v.ToString("F1", CultureInfo.InvariantCulture);
        string MeanOf(IEnumerable<RowRun> rowRuns, Func<RowRun, double> value)
        {
            var values = rowRuns.Select(value).ToList();
            var (mean, spread) = Sst2Benchmark.MeanAndSpread(values);
            return values.Count > 1 ? $"{F(mean)} ± {F(spread)}" : F(mean);
        }
        Line($"# What the paper's pretraining tasks and architecture are worth: Flickr8k{(recipe.Language == "zh" ? "-CN" : "")} ablations");
        Line();
        Line(Invariant($"Each row changes one thing in the recipe's pretraining ({recipe.PretrainSteps:N0} steps of {recipe.PretrainBatch} pairs, MSM + MRM + ITM + the contrastive loss), then gets the recipe's ") +
            Invariant($"fine-tuning ({recipe.FinetuneSteps:N0} steps) and two-stage evaluation on the {runs.FirstOrDefault()?.Finetuned.Images ?? 0:N0} test photos x {runs.FirstOrDefault()?.Finetuned.Captions ?? 0:N0} captions (K = {recipe.Candidates}). Figures are on test; ") +
            "RSUM is the sum of the six recalls, the figure rows are compared by; a ± gives the sample standard deviation over seeds. The paper's direction is that each row does worse than the full model.");
        Line();
        Line("| row | paper's direction | seeds | zero-shot t→i R@1/5/10 | fine-tuned t→i R@1/5/10 | fine-tuned i→t R@1/5/10 | RSUM | pretraining losses (MSM / MRM / ITM, last tenth) | minutes (first seed) | this data |");
        Line("|---|---|---|---|---|---|---|---|---|---|");
        var full = runs.Where(r => r.Row == PretrainingVariant.Full.Name).Select(r => RecallSum(r.Finetuned)).ToList();
        foreach (var row in rows)
        {
            var rowRuns = runs.Where(r => r.Row == row.Name).ToList();
            if (rowRuns.Count == 0)
            {
                Line($"| {row.Title} | {row.PaperDirection} | 0 | not run | | | | | | |");
                continue;
            }
            var zeroShot = rowRuns.Where(r => r.ZeroShot is not null).ToList();
            var zeroShotText = zeroShot.Count == 0 ? "–" : $"{MeanOf(zeroShot, r => r.ZeroShot!.TextToImage.R1)} / {MeanOf(zeroShot, r => r.ZeroShot!.TextToImage.R5)} / {MeanOf(zeroShot, r => r.ZeroShot!.TextToImage.R10)}";
            // A task that is off has no loss to show (its unweighted value is logged all the same).
            var shown = new[] { ("msm", true), ("mrm", row.RegionModeling), ("itm", row.Matching) };
            var losses = string.Join(" / ", shown.Select(loss => loss.Item2 && rowRuns.All(r => r.PretrainingLosses.ContainsKey(loss.Item1))
                ? rowRuns.Average(r => r.PretrainingLosses[loss.Item1]).ToString("F3", CultureInfo.InvariantCulture) : "–"));
            var verdict = row == PretrainingVariant.Full ? "the reference" : Verdict(full, [.. rowRuns.Select(r => RecallSum(r.Finetuned))]);
            Line($"| {row.Title} | {(row.PaperDirection.Length == 0 ? "–" : row.PaperDirection)} | {rowRuns.Count} | {zeroShotText} | " +
                $"{MeanOf(rowRuns, r => r.Finetuned.TextToImage.R1)} / {MeanOf(rowRuns, r => r.Finetuned.TextToImage.R5)} / {MeanOf(rowRuns, r => r.Finetuned.TextToImage.R10)} | " +
                $"{MeanOf(rowRuns, r => r.Finetuned.ImageToText.R1)} / {MeanOf(rowRuns, r => r.Finetuned.ImageToText.R5)} / {MeanOf(rowRuns, r => r.Finetuned.ImageToText.R10)} | " +
                $"{MeanOf(rowRuns, r => RecallSum(r.Finetuned))} | {losses} | {F(rowRuns.MinBy(r => r.Seed)!.Minutes)} | {verdict} |");
        }
        Line();
        Line("MRM's loss is a KL divergence to the detector's class distributions except in the regression row (an MSE per feature), so the two are not comparable; " +
            "a task that is off shows –; without ITM every pair is a true one. The minutes are the first seed's run, the one a single-seed command pays for " +
            "(the stages the row runs, not those it reuses from the recipe; later seeds may have shared the machine). The full row and the row without pretraining at the first seed are the recipe's own runs (its report: `../report.md`).");
        Line();
        Line("## Pretraining losses");
        Line();
        foreach (var run in runs.Where(r => rows.First(v => v.Name == r.Row).Pretrains))
            Line($"![{run.Row}, seed {run.Seed}]({run.Folder.Replace('\\', '/')}/pretrain/plots/losses.png)");
        Line();
        Line("## Commands");
        Line();
        var quick = recipe.Quick ? " --quick" : "";
        // Step counts other than the recipe's are part of the command that reproduces the table.
        var defaults = Flickr8kRecipeOptions.For(recipe.DataFolder, recipe.OutputFolder, recipe.Language, recipe.Quick);
        if (recipe.PretrainSteps != defaults.PretrainSteps) quick += Invariant($" --pretrain-steps {recipe.PretrainSteps}");
        if (recipe.FinetuneSteps != defaults.FinetuneSteps) quick += Invariant($" --finetune-steps {recipe.FinetuneSteps}");
        var command = $"    ./interbert benchmark ablations --data {recipe.DataFolder} --lang {recipe.Language}{quick} --out {recipe.OutputFolder}";
        // Rows with more seeds than this command asked for had them from an earlier command: give it too.
        foreach (var group in runs.GroupBy(r => r.Row).Where(g => g.Count() > seeds).GroupBy(g => g.Count()).OrderByDescending(g => g.Key))
            Line(Invariant($"{command} --rows {string.Join(',', group.Select(g => g.Key))} --seeds {group.Key}"));
        Line(Invariant($"{command} --rows {string.Join(',', rows.Select(r => r.Name))} --seeds {seeds}"));
        Line();
        Line("One row alone (its runs are reused by the command above): `--rows NAME`, with `--seeds 3` for the mean and spread.");
        return text.ToString();
    }
}
