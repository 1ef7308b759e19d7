namespace InterBert.Tests;

public sealed class CommandLineErrorTests
{
    public static TheoryData<string[], string> UsageErrors => new()
    {
        { ["bogus"], "bogus" },
        { ["search", "--index", "idx", "--mode", "Fast", "a dog"], "Fast" },
        { ["index", "--weights", "w", "--features", "f", "--out", "o", "--exact-below", "abc"], "--exact-below" },
        { ["finetune", "--task", "retrieval"], "--dataset" },
        { ["finetune", "--task", "retrieval", "--dataset", "d.json", "--init", "w", "--out", "o", "--negatives", "hardest"], "hardest" },
        { ["finetune", "--task", "retrieval", "--dataset", "d.json", "--features", "f", "--init", "w", "--out", "o", "--negatives", "similarity"], "--contrastive-weight" },
        { ["finetune", "--task", "retrieval", "--dataset", "d.json", "--features", "f", "--init", "w", "--out", "o", "--contrastive-batch-size", "64"], "--contrastive-weight" },
        { ["finetune", "--task", "retrieval", "--dataset", "d.json", "--features", "f", "--init", "w", "--out", "o", "--residual-score"], "--residual-score" },
        { ["finetune", "--task", "retrieval", "--dataset", "d.json", "--features", "f", "--init", "w", "--out", "o", "--own-negatives", "relation"], "--own-negative-rate" },
        { ["finetune", "--task", "retrieval", "--dataset", "d.json", "--features", "f", "--init", "w", "--out", "o", "--own-negative-rate", "1", "--own-negatives", "colour"], "colour" },
        { ["pretrain", "--dataset", "d.json", "--features", "f", "--preset", "tiny", "--out", "o", "--steps", "1", "--own-negatives", "relation"], "--own-negative-rate" },
        { ["demo", "--own-negative-rate", "2", "--out", "o"], "--own-negative-rate 2" },
        { ["demo", "--own-negative-rate", "0", "--own-negatives", "relation", "--out", "o"], "--own-negative-rate" },
        { ["pretrain", "--dataset", "d.json", "--features", "f", "--preset", "tiny", "--out", "o", "--steps", "1", "--mask-all-regions", "1.5"], "--mask-all-regions 1.5" },
        { ["demo", "--mask-all-regions", "-0.5", "--out", "o"], "--mask-all-regions -0.5" },
        { ["demo", "--conditional-masking", "--out", "o"], "--conditional-masking" },
        { ["pretrain", "--dataset", "d.json", "--features", "f", "--preset", "tiny", "--out", "o", "--steps", "1", "--conditional-masking"], "--conditional-masking" },
        { ["demo", "--location-frequencies", "17", "--out", "o"], "--location-frequencies 17" },
        { ["demo", "--pretrained-lr-multiplier", "0", "--out", "o"], "--pretrained-lr-multiplier 0" },
        { ["demo", "--grounded", "--precision", "fp32", "--out", "o"], "--grounded" },
        { ["demo", "--grounded", "--grounding-lr", "-1", "--out", "o"], "--grounding-lr -1" },
        { ["demo", "--grounded", "--grounding-batch", "-2", "--out", "o"], "--grounding-batch -2" },
        { ["demo", "--grounded", "--grounding-warmup", "1", "--out", "o"], "--grounding-warmup 1" },
        { ["evaluate", "--task", "grounding", "--dataset", "d.json", "--weights", "w", "--scene-language", "fr"], "fr" },
        { ["init", "--from", "minilm", "--out", "o.safetensors", "--location-frequencies", "-1"], "--location-frequencies -1" },
        { ["finetune", "--task", "retrieval", "--dataset", "d.json", "--features", "f", "--init", "w", "--out", "o", "--contrastive-weight", "1", "--fixed-contrastive-others"], "--contrastive-batch-size" },
        { ["search", "--index", "idx", "--top", "1", "--top", "2", "a dog"], "--top" },
        { ["search", "--index", "idx", "--top", "0", "a dog"], "--top 0" },
        { ["search", "--index", "idx", "--candidates", "0", "a dog"], "--candidates 0" },
        { ["model", "info", "--preset", "tiny", "--threads", "0"], "--threads 0" },
        { ["model", "info", "--preset", "tiny", "--threads", "-1"], "--threads -1" },
        { ["features", "--dataset", "d.json", "--out", "store", "--max-regions", "0"], "--max-regions 0" },
        { ["serve", "--index", "idx", "--max-queue", "-1"], "--max-queue -1" },
        { ["features", "--dataset", "d.json", "--out", "store", "--layer3-maps", "--detector", "yolox.onnx"], "--layer3-maps" },
        { ["pretrain", "--dataset", "d.json", "--features", "f", "--preset", "tiny", "--out", "o", "--steps", "1", "--loss-weights", "1:x:1"], "--loss-weights" },
        { ["demo", "--lang", "zh", "--preset", "tiny", "--text-init", "minilm", "--out", "o"], "--text-init minilm" },
        { ["demo", "--lang", "en", "--text-init", "random", "--out", "o"], "--text-init random" },
    };

    [Theory]
    [MemberData(nameof(UsageErrors))]
    public void AUsageErrorIsOneLineNamingItWithExitCodeTwo(string[] args, string named)
    {
        var (code, output, error) = CliProcess.Run(args);
        Assert.True(code == 2, $"exit {code}: {output}{error}");
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, error);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(named, lines[0]);
        // No help dump and no stack trace.
        Assert.DoesNotContain("Usage:", output + error);
        Assert.DoesNotContain("   at ", output + error);
    }

    [Fact]
    public void HelpNamesTheToolInterbert()
    {
        var (code, output, error) = CliProcess.Run("model", "info", "--help");
        Assert.True(code == 0, output + error);
        Assert.Contains("interbert model info [options]", output);
        Assert.DoesNotContain("InterBert.Cli", output);
    }
}
