using System.CommandLine;
using InterBert.Cli;

namespace InterBert.Tests;

public sealed class DiskFullErrorTests
{
    // A full disk (ENOSPC, as .NET raises it on Linux) ends a command with one line naming the file and what to do;
    // any other I/O failure is a bug and keeps its stack trace.
    [Fact]
    public void AFullDiskIsOneLineNamingTheFileNotAStackTrace()
    {
        var command = new RootCommand { CommandLine.ThreadsOption };
        var parse = command.Parse([]);
        var full = new IOException("No space left on device : '/data/run/checkpoints/.step-100.tmp/model.safetensors'", 28);
        var (code, error) = RunGuarded(() => throw full, parse);
        Assert.Equal(1, code);
        // Console.Error is the process's: other tests may write to it meanwhile, so only this error's lines are counted.
        var line = Assert.Single(error.Split('\n'), l => l.StartsWith("error: "));
        Assert.StartsWith("error: No space left on device", line);
        Assert.DoesNotContain("   at ", error);
        Assert.Contains("/data/run/checkpoints/.step-100.tmp/model.safetensors", line);
        Assert.Contains("free some space and run the same command again", line);
        Assert.Throws<IOException>(() => RunGuarded(() => throw new IOException("Input/output error : '/data/x'", 5), parse));
    }

    private static (int Code, string Error) RunGuarded(Action body, ParseResult parse)
    {
        var previous = Console.Error;
        using var error = new StringWriter();
        Console.SetError(error);
        try
        {
            var code = CommandLine.Guarded(_ =>
            {
                body();
                return 0;
            })(parse);
            return (code, error.ToString());
        }
        finally
        {
            Console.SetError(previous);
        }
    }
}
