using InterBert.Training;
using TorchSharp.PyBridge;

namespace InterBert.Tests.Pretraining;

[Collection("coco features")]
public class ExactResumeTests(CocoFeatures features)
{
    private string[] Arguments(string run) =>
    [
        "pretrain", "--dataset", SharedData.CocoDataset, "--features", features.StorePath, "--preset", "tiny", "--out", run,
        "--steps", "40", "--batch-size", "32", "--checkpoint-every", "20", "--eval-every", "0", "--val-split", "none",
        "--seed", "11", "--lr", "1e-3", "--threads", "2",
    ];

    [Fact]
    public void RunKilledAfterItsCheckpointResumesToBitIdenticalParametersAndMetrics()
    {
        using var folder = new TempFolder();
        var whole = folder.File("whole");
        var killed = folder.File("killed");

        var reference = CliProcess.Run(Arguments(whole));
        Assert.True(reference.ExitCode == 0, reference.Error);

        CliProcess.KillOnceWritten(Arguments(killed), Path.Combine(killed, "checkpoints", "step-20", "trainer.json"));
        Assert.True(Directory.Exists(Path.Combine(killed, "checkpoints", "step-20")));
        Assert.False(Directory.Exists(Path.Combine(killed, "checkpoints", "step-40")), "the run finished before it could be killed");

        var resumed = CliProcess.Run([.. Arguments(killed), "--resume"]);
        Assert.True(resumed.ExitCode == 0, resumed.Error);

        var expected = Safetensors.LoadStateDict(Path.Combine(whole, "model.safetensors"));
        var actual = Safetensors.LoadStateDict(Path.Combine(killed, "model.safetensors"));
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (key, tensor) in expected)
            Assert.True(tensor.bytes.SequenceEqual(actual[key].bytes), $"{key} differs after resume");

        static List<string> From21(string run) => new MetricsLog(Path.Combine(run, "metrics.jsonl")).ReadAll()
            .Where(r => r["step"]!.GetValue<int>() >= 21)
            .Select(r => { r.Remove("samples_per_second"); return r.ToJsonString(); }).ToList();
        var expectedMetrics = From21(whole);
        Assert.Equal(2, expectedMetrics.Count); // steps 30, 40
        Assert.Equal(expectedMetrics, From21(killed));
    }

    [Fact]
    public void ExistingRunIsNotOverwrittenWithoutResume()
    {
        using var folder = new TempFolder();
        var run = folder.File("run");
        var args = Arguments(run);
        args[Array.IndexOf(args, "--steps") + 1] = "2";
        args[Array.IndexOf(args, "--checkpoint-every") + 1] = "1";
        Assert.Equal(0, CliProcess.Run(args).ExitCode);
        var again = CliProcess.Run(args);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("--resume", again.Error);
        Assert.StartsWith("error: ", again.Error);
        Assert.Single(again.Error.Trim().Split('\n'));
    }
}
