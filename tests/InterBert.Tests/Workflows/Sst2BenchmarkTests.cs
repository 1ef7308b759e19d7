using System.Text.Json.Nodes;

namespace InterBert.Tests.Workflows;

/// <summary><c>benchmark sst2</c> on a miniature of SST-2: the same fine-tuning for each text encoder, reuse, and bad data.</summary>
public sealed class Sst2BenchmarkTests
{
    private static void WriteMiniature(string folder, string devLabelOfLine3 = "1")
    {
        string[] positive = ["a moving and funny film", "wonderful acting", "a delight from start to end"];
        string[] negative = ["a dull and tedious mess", "badly acted", "a waste of two hours"];
        File.WriteAllLines(Path.Combine(folder, "train.tsv"), ["sentence\tlabel", .. Enumerable.Range(0, 24).Select(k => k % 2 == 0 ? $"{positive[k % 3]} {k}\t1" : $"{negative[k % 3]} {k}\t0")]);
        File.WriteAllLines(Path.Combine(folder, "dev.tsv"), ["sentence\tlabel", "a delight\t1", $"wonderful\t{devLabelOfLine3}", "badly acted\t0", "tedious\t0"]);
    }

    [Fact]
    public void EveryTextEncoderGetsTheSameFineTuningAndFinishedRunsAreReused()
    {
        using var folder = new TempFolder();
        var data = Directory.CreateDirectory(folder.File("sst2")).FullName;
        WriteMiniature(data);
        var output = folder.File("out");
        string[] common = ["benchmark", "sst2", "--data", data, "--out", output, "--seeds", "1", "--steps", "2", "--batch-size", "4"];
        var (code, stdout, stderr) = CliProcess.Run(common);
        Assert.True(code == 0, stdout + stderr);
        var minilm = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "eval", "minilm-seed1.json")))!;
        Assert.Equal(4, minilm["examples"]!.GetValue<int>());
        Assert.Contains("not run: give `--pretrained`", File.ReadAllText(Path.Combine(output, "report.md")));

        // The InterBERT row fine-tunes the model it is given exactly as MiniLM's row does: given MiniLM's own initial
        // weights, the same seed must give the same accuracy; MiniLM's finished run is reused, not repeated.
        var init = Path.Combine(output, "init", "model.safetensors");
        (code, stdout, stderr) = CliProcess.Run([.. common, "--pretrained", init]);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains(stdout.Split('\n'), line => line.Contains("MiniLM as it ships, seed 1") && line.Contains(": reused"));
        var interbert = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "eval", "interbert-seed1.json")))!;
        Assert.Equal(minilm["accuracy"]!.GetValue<double>(), interbert["accuracy"]!.GetValue<double>());
        var report = File.ReadAllText(Path.Combine(output, "report.md"));
        Assert.Contains("0.0 points above MiniLM's accuracy", report);
        Assert.Contains("runs/interbert-seed1/plots/losses.png", report);
        Assert.True(File.Exists(Path.Combine(output, "runs", "interbert-seed1", "plots", "losses.png")));
    }

    [Fact]
    public void BadDataIsOneLineNamingTheFileAndLineBeforeAnyTraining()
    {
        using var folder = new TempFolder();
        var data = Directory.CreateDirectory(folder.File("sst2")).FullName;
        WriteMiniature(data, devLabelOfLine3: "2");
        var output = folder.File("out");
        var (code, _, stderr) = CliProcess.Run("benchmark", "sst2", "--data", data, "--out", output, "--steps", "2");
        Assert.Equal(1, code);
        var line = Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains(Path.Combine(data, "dev.tsv") + ": line 3: label '2'; expected 0 or 1", line);
        Assert.False(Directory.Exists(Path.Combine(output, "init")), "no stage after the data check ran");

        File.WriteAllText(Path.Combine(data, "dev.tsv"), "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 43210\n");
        (code, _, stderr) = CliProcess.Run("benchmark", "sst2", "--data", data, "--out", output, "--steps", "2");
        Assert.Equal(1, code);
        Assert.Contains("dev.tsv: a Git LFS pointer, not the data", Assert.Single(stderr.Trim().Split('\n')));
        (code, _, stderr) = CliProcess.Run("benchmark", "sst2", "--data", folder.File("nowhere"), "--out", output);
        Assert.Equal(1, code);
        Assert.Contains("SST-2 folder not found", Assert.Single(stderr.Trim().Split('\n')));
    }
}
