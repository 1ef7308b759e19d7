using System.Text.Json;
using InterBert.Training;
using InterBert.Weights;

namespace InterBert.Tests.Pretraining;

/// <summary><c>--precision</c> on the command line: a bf16 run records its precision everywhere and still writes fp32 weights; a bad value is one line.</summary>
[Collection("coco features")]
public class PrecisionCommandTests(CocoFeatures features)
{
    [Fact]
    public void Bf16PretrainingRecordsItsPrecisionAndWritesFp32Weights()
    {
        using var run = new TempFolder();
        var (code, output, error) = CliProcess.Run("pretrain", "--dataset", SharedData.CocoDataset, "--features", features.StorePath, "--preset", "tiny",
            "--out", run.Path, "--steps", "10", "--batch-size", "8", "--val-split", "none", "--precision", "bf16", "--threads", "2");
        Assert.True(code == 0, $"exit {code}: {error}");
        Assert.Contains("bf16", output);
        using (var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(run.Path, "run.json"))))
            Assert.Equal("bf16", json.RootElement.GetProperty("precision").GetString());
        var rows = new MetricsLog(Path.Combine(run.Path, "metrics.jsonl")).ReadAll();
        Assert.NotEmpty(rows);
        Assert.All(rows, r => Assert.Equal("bf16", r["precision"]!.GetValue<string>()));
        var weights = Path.Combine(run.Path, "model.safetensors");
        var header = SafetensorsHeader.Read(weights);
        Assert.Equal("bf16", header.Metadata["precision"]);
        // Master weights stay fp32: every tensor of the file is F32.
        Assert.All(header.TensorNames, name => Assert.Equal("F32", header.Json[name]!["dtype"]!.GetValue<string>()));
        Assert.Equal("bf16", SafetensorsHeader.Read(Path.Combine(run.Path, "checkpoints", "step-10", "model.safetensors")).Metadata["precision"]);
    }

    [Fact]
    public void AnUnknownPrecisionIsRefusedInOneLine()
    {
        using var run = new TempFolder();
        var (code, _, error) = CliProcess.Run("pretrain", "--dataset", SharedData.CocoDataset, "--features", features.StorePath, "--preset", "tiny",
            "--out", run.Path, "--steps", "1", "--precision", "fp16");
        Assert.Equal(2, code); // a usage error
        Assert.Equal("error: --precision 'fp16': expected fp32, bf16 or auto", error.Trim());
    }
}
