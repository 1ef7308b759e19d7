using System.Diagnostics;
using InterBert.Modeling;
using InterBert.Synthetic;
using InterBert.Weights;

namespace InterBert.Tests.Distributed;

/// <summary>A small synthetic dataset with features and dropout-free tiny weights, shared by the data-parallel tests.</summary>
public sealed class DistributedFixture : IDisposable
{
    private readonly TempFolder folder = new();

    public DistributedFixture()
    {
        SyntheticDataset.Write(folder.Path, new SyntheticDataset.Options(24, 9, 2, 2));
        var (code, output, error) = CliProcess.Run("features", "--dataset", Dataset, "--boxes", folder.File(SyntheticDataset.ObjectsFile), "--out", Features, "--threads", "1");
        if (code != 0) throw new InvalidOperationException(output + error);
        // Dropout off: its masks come from each process's own generator, so only a dropout-free model can match exactly.
        // The scenes' objects give the store its classes, which masked region modeling predicts.
        int classes;
        using (var store = InterBert.Data.FeatureStore.Open(Features)) classes = store.Manifest.ClassCount;
        var config = InterBertConfig.Tiny with
        {
            HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0, VHiddenDropoutProb = 0, VAttentionProbsDropoutProb = 0, VTargetSize = classes,
        };
        TorchSharp.torch.manual_seed(5);
        using var model = new InterBertModel(config);
        ModelCheckpoint.Save(model, Weights, ModelVocabulary.WriteBeside(Weights, MiniLmOnnxReader.ReadVocabularyBytes(), lowerCase: true));
    }

    public string Root => folder.Path;
    public string Dataset => folder.File(SyntheticDataset.DatasetFile);
    public string Features => folder.File("features");
    public string Weights => folder.File("init.safetensors");

    /// <summary>Runs a process to the end (or kills it after <paramref name="timeout"/>) and returns its exit code and output.</summary>
    public static (int ExitCode, string Output, TimeSpan Elapsed) Run(string file, IEnumerable<string> args, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(" ", args)} did not end within {timeout}");
        }
        return (process.ExitCode, output.Result + error.Result, watch.Elapsed);
    }

    public void Dispose() => folder.Dispose();
}
