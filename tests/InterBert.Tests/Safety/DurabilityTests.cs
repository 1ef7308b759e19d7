using System.Diagnostics;
using InterBert.Tests.Search;

namespace InterBert.Tests.Safety;

/// <summary>
/// Replacing is durable: the system calls of a command (strace) show that what replaces an index or a checkpoint is
/// renamed into place and its folder flushed to disk (fsync) before anything it replaces is deleted, so that a
/// machine that loses power in between finds one or the other whole.
/// </summary>
[Collection("Search")]
public sealed class DurabilityTests(SearchFixture fixture) : IDisposable
{
    private readonly TempFolder folder = new();

    public void Dispose() => folder.Dispose();

    /// <summary>Runs the command line under strace; returns the renames, fsyncs and deletions in order.</summary>
    private List<string> Trace(params string[] args)
    {
        var log = folder.File($"trace-{Guid.NewGuid():N}.txt");
        var info = new ProcessStartInfo("strace") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-f", "-y", "-qq", "-e", "trace=rename,renameat,renameat2,fsync,fdatasync,unlink,unlinkat,rmdir", "-o", log, "dotnet", CliProcess.DllPath }.Concat(args))
            info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("strace did not start (scripts/setup-strace.sh installs it)");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(5)), "timed out");
        Assert.True(process.ExitCode == 0, $"{string.Join(' ', args)}: {output.Result}{error.Result}");
        return File.ReadAllLines(log).Where(l => !l.Contains("resumed>") || l.Contains(" = ")).ToList();
    }

    private static bool IsDeletion(string line) => line.Contains("unlink") || line.Contains("rmdir(");

    /// <summary>Asserts that after the rename into <paramref name="target"/>, <paramref name="parent"/> is flushed before the first deletion under <paramref name="replaced"/>.</summary>
    private static void AssertFlushedBeforeDeleting(List<string> calls, string target, string parent, Func<string, bool> replaced)
    {
        var renamed = calls.FindIndex(l => l.Contains("rename") && l.Contains($"\"{target}\""));
        Assert.True(renamed >= 0, $"no rename into {target}:\n{string.Join('\n', calls.Take(60))}");
        var deleted = calls.FindIndex(renamed, l => IsDeletion(l) && replaced(l));
        Assert.True(deleted > renamed, $"nothing replaced by {target} was deleted");
        Assert.True(calls.Skip(renamed).Take(deleted - renamed).Any(l => l.Contains("fsync(") && l.Contains($"<{parent}>")),
            $"{parent} was not flushed between the rename into {target} and the deletion:\n{string.Join('\n', calls.Skip(renamed).Take(deleted - renamed + 1))}");
    }

    [Fact]
    public void AnIndexIsOnDiskUnderItsNameBeforeTheOldOneIsDeleted()
    {
        var index = Path.Combine(Directory.CreateDirectory(folder.File("indexes")).FullName, "index");
        Directory.CreateDirectory(index);
        foreach (var file in Directory.GetFiles(fixture.IndexFolder)) File.Copy(file, Path.Combine(index, Path.GetFileName(file)));
        var calls = Trace("index", "--weights", fixture.SearchWeights, "--features", fixture.Features, "--dataset", fixture.Dataset, "--split", "test", "--out", index, "--threads", "1");
        AssertFlushedBeforeDeleting(calls, index, Path.GetDirectoryName(index)!, l => l.Contains("/.index.old-"));
        // The vectors were on disk before they were renamed into place.
        var vectorsFlushed = calls.FindIndex(l => l.Contains("fsync(") && l.Contains("index.partial/vectors.f32>"));
        var swapped = calls.FindIndex(l => l.Contains("rename") && l.Contains($"\"{index}\""));
        Assert.InRange(vectorsFlushed, 0, swapped);
    }

    [Fact]
    public void ACheckpointIsOnDiskUnderItsNameBeforeOlderOnesArePruned()
    {
        var run = folder.File("run");
        var calls = Trace("pretrain", "--preset", "tiny", "--features", fixture.Features, "--dataset", fixture.Dataset, "--steps", "3", "--batch-size", "4",
            "--checkpoint-every", "1", "--keep-checkpoints", "1", "--eval-every", "0", "--out", run, "--threads", "1");
        var checkpoints = Path.Combine(run, "checkpoints");
        AssertFlushedBeforeDeleting(calls, Path.Combine(checkpoints, "step-2"), checkpoints, l => l.Contains("/checkpoints/step-1"));
        AssertFlushedBeforeDeleting(calls, Path.Combine(checkpoints, "step-3"), checkpoints, l => l.Contains("/checkpoints/step-2"));
    }
}
