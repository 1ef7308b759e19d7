using System.Diagnostics;
using System.Text.RegularExpressions;
using InterBert.Modeling;
using InterBert.Weights;

namespace InterBert.Tests.Inference;

/// <summary>The C# samples of the README and docs/library.md, and the example program they come from (examples/QuickStart, built with the solution).</summary>
public sealed partial class ExampleTests
{
    private static string ProgramPath => Path.Combine(SharedData.RepositoryRoot, "examples", "QuickStart", "Program.cs");

    [Fact]
    public void EverySampleOfTheReadmeAndTheLibraryPageIsInTheExampleProgram()
    {
        var program = Lines(File.ReadAllText(ProgramPath));
        foreach (var (page, least) in new[] { ("README.md", 1), (Path.Combine("docs", "library.md"), 2) })
        {
            var samples = CSharpBlock().Matches(File.ReadAllText(Path.Combine(SharedData.RepositoryRoot, page))).Select(m => Lines(m.Groups[1].Value)).ToList();
            Assert.True(samples.Count >= least, $"{page} shows its samples in csharp blocks");
            foreach (var sample in samples)
            {
                var found = Enumerable.Range(0, program.Count - sample.Count + 1).Any(start => program.Skip(start).Take(sample.Count).SequenceEqual(sample));
                Assert.True(found, $"this sample of {page} is not in {ProgramPath}, so no build checks it:\n{string.Join('\n', sample)}");
            }
        }
    }

    [Fact]
    public void TheExampleProgramEmbedsScoresAndSearches()
    {
        using var folder = new TempFolder();
        var photos = Directory.CreateDirectory(folder.File("photos")).FullName;
        foreach (var file in Directory.GetFiles(SharedData.Path("data", "coco-sample", "images")).Order(StringComparer.Ordinal).Take(6))
            File.Copy(file, Path.Combine(photos, Path.GetFileName(file)));
        var model = folder.File("model");
        TorchSharp.torch.manual_seed(23);
        using (var tiny = new InterBertModel(InterBertConfig.Tiny))
            ModelFolder.Save(tiny, model, MiniLmOnnxReader.ReadVocabularyBytes(), lowerCase: true);
        foreach (var args in new[]
        {
            new[] { "features", "--images", photos, "--out", folder.File("store") },
            ["index", "--weights", model, "--features", folder.File("store"), "--images", photos, "--out", folder.File("index")],
        })
        {
            var (code, output, error) = CliProcess.Run(args);
            Assert.True(code == 0, output + error);
        }
        var photo = Directory.GetFiles(photos).Order(StringComparer.Ordinal).First();

        var (exit, stdout, stderr) = RunExample(model, folder.File("index"), photo, "a man riding a wave");
        Assert.True(exit == 0, stdout + stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(6, lines.Length);
        var hitIds = lines.Take(5).Select(l => l.Split("  ")[0]).ToList();
        Assert.Equal(5, hitIds.Distinct().Count());
        Assert.All(hitIds, id => Assert.True(File.Exists(Path.Combine(photos, id + ".jpg")), id));
        Assert.Matches(@"^64-d vectors; cosine -?[01]\.\d{3}, score -?\d+\.\d{3} for ""a man riding a wave"" and .+; 2 embeddings generated; 5 photos like ", lines[5].Trim());
        // The photo, indexed itself, is its own nearest photo; "more like it" are the other five.
        Assert.EndsWith($"5 photos like {Path.GetFileNameWithoutExtension(photo)}", lines[5].Trim());

        var corrupt = folder.File("corrupt.jpg");
        File.WriteAllBytes(corrupt, [1, 2, 3]);
        (exit, stdout, stderr) = RunExample(model, folder.File("index"), corrupt, "a dog");
        Assert.Equal(1, exit);
        Assert.StartsWith($"error: {corrupt}: ", stderr.Trim());
        Assert.Single(stderr.Trim().Split('\n'));
    }

    private static (int ExitCode, string Output, string Error) RunExample(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "QuickStart.dll"));
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3))) { process.Kill(true); throw new TimeoutException("QuickStart"); }
        return (process.ExitCode, output.Result, error.Result);
    }

    /// <summary>Non-empty lines without their indentation: a sample may sit deeper in the program than in the README.</summary>
    private static List<string> Lines(string text) => text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();

    [GeneratedRegex("```csharp\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();
}
