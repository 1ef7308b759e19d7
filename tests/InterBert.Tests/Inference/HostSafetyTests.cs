using InterBert.Modeling;
using InterBert.Weights;

namespace InterBert.Tests.Inference;

/// <summary>
/// A library host with the runtime's default settings (server GC, concurrent GC, tiered JIT), unlike the command line:
/// several threads on one pipeline while another thread allocates and collects without pause, a fixed number of calls.
/// </summary>
public sealed class HostSafetyTests : IDisposable
{
    private readonly TempFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void APipelineUnderDefaultRuntimeSettingsAnswersEveryCallAsOneThreadDoes()
    {
        var model = folder.File("model");
        TorchSharp.torch.manual_seed(3);
        using (var tiny = new InterBertModel(InterBertConfig.Tiny))
            ModelFolder.Save(tiny, model, MiniLmOnnxReader.ReadVocabularyBytes(), lowerCase: true, new Dictionary<string, string> { ["finetune_task"] = "retrieval" });
        var photo = Directory.GetFiles(SharedData.Path("data", "coco-sample", "images")).Order(StringComparer.Ordinal).First();
        // The bench tool's own settings (no tiered JIT, non-concurrent GC) are overridden back to the runtime's defaults.
        var defaults = new Dictionary<string, string> { ["DOTNET_TieredCompilation"] = "1", ["DOTNET_gcServer"] = "1", ["DOTNET_gcConcurrent"] = "1" };
        var (code, output, error) = CliProcess.RunWith(defaults, "bench", "host", "--model", model, "--photo", photo, "--callers", "6", "--calls", "360", "--threads", "2");
        Assert.True(code == 0, output + error);
        Assert.Contains("server GC True, concurrent GC True", output);
        Assert.Matches(@"360 calls on 6 threads .* [1-9]\d* collections meanwhile, 0 failures", output);
    }
}
