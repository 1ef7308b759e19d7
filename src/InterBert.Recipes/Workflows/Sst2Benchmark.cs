using System.Text;
using System.Text.Json.Nodes;
using InterBert.Data;
using InterBert.Modeling;
using InterBert.Weights;
using static System.FormattableString;

namespace InterBert.Workflows;

/// <summary>
/// GLUE SST-2 sentence classification through the text-only path, to measure whether multimodal pretraining keeps the
/// text encoder's single-modal ability (the paper: "comparable to BERT in single-modal tasks"): MiniLM as it ships and an
/// InterBERT model's text path get the same fine-tuning, several seeds each, and are scored on the official dev set →
/// <c>report.md</c>. The data is checked and copied first (bad lines refused in one line, or skipped and counted); each
/// run is a stage, reused when its inputs did not change and continued from its checkpoint when interrupted.
/// </summary>
public sealed class Sst2Benchmark
{
    private static readonly string[] BinaryLabels = ["0", "1"];
    private readonly Sst2BenchmarkOptions options;
    private readonly WorkflowHost host;
    private readonly string folder;
    private readonly StagedRun stages;
    private readonly List<Variant> variants = [new("minilm", "MiniLM as it ships", null)];

    private sealed record Variant(string Name, string Title, string? Init);

    /// <summary>One run's dev accuracy.</summary>
    public sealed record RunAccuracy(string Variant, int Seed, double Accuracy, double Minutes);

    /// <summary>Prepares a run; checks the data folder, the files and the pretrained model before any work.</summary>
    public Sst2Benchmark(Sst2BenchmarkOptions options, WorkflowHost? host = null)
    {
        if (options.Seeds < 1) throw new ArgumentException($"--seeds {options.Seeds}: expected at least 1");
        if (options.Steps < 1) throw new ArgumentException($"--steps {options.Steps}: expected a positive number");
        if (!Directory.Exists(options.DataFolder)) throw new InterBertException($"{options.DataFolder}: SST-2 folder not found (GLUE's SST-2 folder holds train.tsv and dev.tsv)");
        foreach (var file in new[] { TrainFileIn(options.DataFolder), DevFileIn(options.DataFolder) })
            if (!File.Exists(file)) throw new InterBertException($"{file}: not found (GLUE's SST-2 folder holds train.tsv and dev.tsv)");
        foreach (var (model, option, name, title) in new[]
        {
            (options.Pretrained, "--pretrained", "interbert", "InterBERT's text path after multimodal pretraining"),
            (options.SingleStream, "--single-stream", "single-stream", "InterBERT, single-stream interaction only, after the same pretraining"),
        })
        {
            if (model is null) continue;
            if (!File.Exists(ModelFolder.WeightsPath(model))) throw new InterBertException($"{model}: model not found ({option} takes an InterBERT model folder or weights file)");
            variants.Add(new Variant(name, title, model));
        }
        this.options = options;
        this.host = host ?? new WorkflowHost();
        // The report shows each run's loss curve.
        Training.TrainingPlots.Enable();
        OutputFolder.Claim(options.OutputFolder, "the SST-2 benchmark's working folder", StageCache.FileName);
        folder = Directory.CreateDirectory(options.OutputFolder).FullName;
        stages = new StagedRun(folder, "sst2", 3 + variants.Count * options.Seeds, this.host);
    }

    /// <summary>The report's path.</summary>
    public string ReportPath => Path.Combine(folder, "report.md");

    private string DataFile(string split) => Path.Combine(folder, "data", split + ".tsv");
    private string InitWeights => Path.Combine(folder, "init", "model.safetensors");
    private string RunFolder(string variant, int seed) => Path.Combine(folder, "runs", $"{variant}-seed{seed}");
    private string EvaluationFile(string variant, int seed) => Path.Combine(folder, "eval", $"{variant}-seed{seed}.json");
    private static string TrainFileIn(string data) => Path.Combine(data, "train.tsv");
    private static string DevFileIn(string data) => Path.Combine(data, "dev.tsv");

    /// <summary>Runs (or reuses) every stage and writes the report; false when interrupted.</summary>
    public bool Run(CancellationToken cancel = default)
    {
        var (train, dev) = (TrainFileIn(options.DataFolder), DevFileIn(options.DataFolder));
        var data = $"sst2-data v1 train={FileHash.Sha256(train)} dev={FileHash.Sha256(dev)} skip-bad={options.SkipBad}";
        if (!stages.Stage("data", "check and copy the training and dev sentences", data, Path.Combine(folder, "data"), (_, _) => CopyData(train, dev), cancel)) return false;
        if (!stages.Stage("init", "MiniLM's weights and vocabulary as they ship", "sst2-init v1", Path.Combine(folder, "init"), (_, _) =>
        {
            RecipeTraining.FromMiniLm(InterBertConfig.Small, "small", InitWeights);
            return true;
        }, cancel)) return false;
        foreach (var variant in variants)
        {
            var init = variant.Init ?? InitWeights;
            var initHash = FileHash.Sha256(ModelFolder.WeightsPath(init));
            for (var seed = 1; seed <= options.Seeds; seed++)
            {
                var (variantName, runSeed) = (variant.Name, seed);
                var fingerprint = options.RunFingerprint(variant.Name, initHash, seed) + " | " + data;
                if (!stages.Stage(StageName(variant.Name, seed), $"fine-tune and evaluate {variant.Title}, seed {seed} ({options.Steps:N0} steps)", fingerprint, RunFolder(variant.Name, seed),
                    (progress, stop) => FineTuneAndEvaluate(variantName, init, runSeed, progress, stop), cancel)) return false;
            }
        }
        stages.Last("write the report");
        WriteReport(Results());
        return true;
    }

    private static string StageName(string variant, int seed) => $"run-{variant}-seed{seed}";

    private bool CopyData(string train, string dev)
    {
        foreach (var (source, split) in new[] { (train, "train"), (dev, "dev") })
        {
            var read = new DatasetReadOptions { SkipBad = options.SkipBad, Labels = BinaryLabels };
            var examples = LabelledTextReader.Read(source, read);
            // Written as sentence<TAB>label under a header, the one form the fine-tuning and evaluation jobs read.
            var text = new StringBuilder("sentence\tlabel\n");
            foreach (var example in examples) text.Append(example.Text).Append('\t').Append(example.Label).Append('\n');
            Directory.CreateDirectory(Path.GetDirectoryName(DataFile(split))!);
            AtomicFile.WriteAllText(DataFile(split), text.ToString());
            var counts = examples.GroupBy(e => e.Label).OrderBy(g => g.Key).Select(g => $"{g.Count():N0} labelled {g.Key}");
            host.Log($"sst2: {source}: {examples.Count:N0} sentences ({string.Join(", ", counts)}){(read.Report.Skipped > 0 ? $"; {read.Report.Skipped:N0} bad lines skipped, the first: {read.Report.Reasons[0]}" : "")}");
        }
        return true;
    }

    private bool FineTuneAndEvaluate(string variant, string init, int seed, IProgress<WorkflowProgress> progress, CancellationToken cancel)
    {
        var run = RunFolder(variant, seed);
        var fineTuning = new FineTuningJobOptions
        {
            Task = "text-classification", Dataset = DataFile("train"), Init = init, Output = run, Steps = options.Steps, BatchSize = options.BatchSize,
            LearningRate = options.LearningRate, Seed = seed, Precision = options.Precision, CheckpointEvery = Math.Max(1, options.Steps / 4), KeepCheckpoints = 1, Resume = true,
        };
        if (!RecipeTraining.Run(fineTuning, host, progress, cancel)) return false;
        Directory.CreateDirectory(Path.GetDirectoryName(EvaluationFile(variant, seed))!);
        var evaluation = new EvaluationJobOptions
        {
            Task = "text-classification", Dataset = DataFile("dev"), Weights = run, Precision = options.Precision, MetricsOut = EvaluationFile(variant, seed),
        };
        return !EvaluationJob.Run(evaluation, new StageHost(host, progress), cancel).Cancelled;
    }

    /// <summary>The dev accuracy of every finished run.</summary>
    public IReadOnlyList<RunAccuracy> Results()
    {
        var results = new List<RunAccuracy>();
        foreach (var variant in variants)
        for (var seed = 1; seed <= options.Seeds; seed++)
        {
            var path = EvaluationFile(variant.Name, seed);
            if (!File.Exists(path)) continue;
            var accuracy = JsonNode.Parse(File.ReadAllText(path))!["accuracy"]!.GetValue<double>();
            results.Add(new RunAccuracy(variant.Name, seed, accuracy, stages.Cache.SecondsOf(StageName(variant.Name, seed)) / 60));
        }
        return results;
    }

    /// <summary>Mean and sample standard deviation (0 for a single run).</summary>
    public static (double Mean, double Spread) MeanAndSpread(IReadOnlyList<double> values)
    {
        var mean = values.Average();
        var spread = values.Count > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1)) : 0;
        return (mean, spread);
    }

    private void WriteReport(IReadOnlyList<RunAccuracy> results)
    {
        var report = new StringBuilder();
        void Line(string text) => report.Append(text).Append('\n');
        var trainCount = LabelledTextReader.Read(DataFile("train")).Count;
        var devCount = LabelledTextReader.Read(DataFile("dev")).Count;
        Line("# GLUE SST-2 through the text-only path");
        Line("");
        Line(Invariant($"Sentences: {trainCount:N0} for fine-tuning (`{TrainFileIn(options.DataFolder)}`), accuracy on the {devCount:N0} of the dev set (`{DevFileIn(options.DataFolder)}`). ") +
            Invariant($"Every variant and seed gets the same fine-tuning: {options.Steps:N0} steps of {options.BatchSize} sentences ({(double)options.Steps * options.BatchSize / trainCount:F2} epochs), ") +
            Invariant($"learning rate {options.LearningRate:0.######} with warm-up and linear decay, {options.Precision.Name()}; a linear layer on the pooled text vector of the text-only path (no image parameter). Seeds 1 to {options.Seeds}; the spread is the sample standard deviation over seeds."));
        Line("");
        Line("| text encoder | dev accuracy, mean ± spread | each seed | minutes per run |");
        Line("|---|---|---|---|");
        var means = new Dictionary<string, (double Mean, double Spread, int Runs)>();
        foreach (var variant in variants)
        {
            var runs = results.Where(r => r.Variant == variant.Name).ToList();
            var title = variant.Init is null ? variant.Title : $"{variant.Title} (`{variant.Init}`)";
            if (runs.Count == 0)
            {
                Line($"| {title} | not run | | |");
                continue;
            }
            var (mean, spread) = MeanAndSpread([.. runs.Select(r => r.Accuracy)]);
            means[variant.Name] = (mean, spread, runs.Count);
            Line(Invariant($"| {title} | {mean:F1} ± {spread:F1} | {string.Join(", ", runs.Select(r => r.Accuracy.ToString("F1", System.Globalization.CultureInfo.InvariantCulture)))} | {runs.Average(r => r.Minutes):F1} |"));
        }
        if (options.Pretrained is null) Line("| InterBERT's text path after multimodal pretraining | not run: give `--pretrained` (the Flickr8k recipe's `flickr8k-output/en/pretrain`) | | |");
        if (options.SingleStream is null) Line("| InterBERT, single-stream interaction only | not run: give `--single-stream` (`benchmark ablations --rows single-stream` pretrains it: `flickr8k-output/en/ablations/single-stream-seed1/pretrain`) | | |");
        Line("");
        if (means.TryGetValue("minilm", out var minilm) && means.TryGetValue("interbert", out var interbert))
        {
            var gap = interbert.Mean - minilm.Mean;
            var within = gap >= -1;
            var noise = Math.Abs(gap) <= Math.Max(minilm.Spread, interbert.Spread);
            Line(Invariant($"The paper says the model keeps single-modal ability \"comparable to BERT\". Here InterBERT's text path after multimodal pretraining is {Math.Abs(gap):F1} points {(gap >= 0 ? "above" : "below")} MiniLM's accuracy (mean of {interbert.Runs} and {minilm.Runs} seeds): ") +
                (gap >= 0 ? "at least as good, as the paper says" : within ? "within 1 point, as the paper says" : "more than 1 point below: on this data, at this budget, the claim does not hold") +
                (noise ? "; the difference is within the seed-to-seed spread." : "; the difference is larger than the seed-to-seed spread."));
            Line("");
        }
        Line("## Losses");
        Line("");
        foreach (var run in results) Line($"![{run.Variant}, seed {run.Seed}](runs/{run.Variant}-seed{run.Seed}/plots/losses.png)");
        Line("");
        Line("## Command");
        Line("");
        Line(Invariant($"    ./interbert benchmark sst2 --data {options.DataFolder}{(options.Pretrained is { } p ? $" --pretrained {p}" : "")}{(options.SingleStream is { } single ? $" --single-stream {single}" : "")} --seeds {options.Seeds} --steps {options.Steps} --batch-size {options.BatchSize} --lr {options.LearningRate:0.######} --out {options.OutputFolder}"));
        AtomicFile.WriteAllText(ReportPath, report.ToString());
    }
}
