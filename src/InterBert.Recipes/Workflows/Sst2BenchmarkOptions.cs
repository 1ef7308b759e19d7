using InterBert.Modeling;

namespace InterBert.Workflows;

/// <summary>
/// The settings of the SST-2 benchmark (<see cref="Sst2Benchmark"/>): where GLUE's SST-2 files are, which InterBERT model's
/// text path to set beside MiniLM's, and the one fine-tuning recipe every variant and seed gets.
/// </summary>
public sealed record Sst2BenchmarkOptions
{
    /// <summary>The folder with GLUE's <c>train.tsv</c> and <c>dev.tsv</c> (sentence, tab, label 0 or 1; a header line).</summary>
    public required string DataFolder { get; init; }
    /// <summary>The working folder: the cleaned data, one run folder per variant and seed, <c>report.md</c>.</summary>
    public string OutputFolder { get; init; } = "sst2-output";
    /// <summary>
    /// An InterBERT model (folder or weights) whose text path is fine-tuned as MiniLM's is, typically the Flickr8k recipe's
    /// pretrained model (<c>flickr8k-output/en/pretrain</c>); null: only MiniLM is run.
    /// </summary>
    public string? Pretrained { get; init; }
    /// <summary>
    /// The single-stream-only ablation's pretrained model (<c>benchmark ablations --rows single-stream</c>:
    /// <c>flickr8k-output/en/ablations/single-stream-seed1/pretrain</c>), whose text path is fine-tuned the same way; null: not run.
    /// </summary>
    public string? SingleStream { get; init; }
    /// <summary>Seeds per variant (the report gives mean and spread).</summary>
    public int Seeds { get; init; } = 3;
    /// <summary>Fine-tuning steps of each run.</summary>
    public int Steps { get; init; } = 1000;
    /// <summary>Sentences per step.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Peak learning rate (linear warm-up and decay).</summary>
    public double LearningRate { get; init; } = 5e-5;
    /// <summary>Arithmetic of fine-tuning and evaluation (default: bf16 where the CPU multiplies it natively, fp32 otherwise).</summary>
    public Precision Precision { get; init; } = Bf16Support.Auto;
    /// <summary>Skip (and count) bad lines of the TSV files instead of stopping at the first.</summary>
    public bool SkipBad { get; init; }

    /// <summary>A stable text of the settings a run depends on, for deciding whether its results can be reused.</summary>
    public string RunFingerprint(string variant, string init, int seed) => FormattableString.Invariant(
        $"sst2-run v1 variant={variant} init={init} steps={Steps} batch={BatchSize} lr={LearningRate} precision={Precision.Name()} seed={seed}");
}
