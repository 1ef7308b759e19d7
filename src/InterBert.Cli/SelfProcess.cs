using System.Diagnostics;

namespace InterBert.Cli;

/// <summary>Starts this command line again as a child process (benchmarks that need a separate server or launcher).</summary>
public static class SelfProcess
{
    /// <summary>
    /// The program and leading arguments that run this command line: the executable itself, or
    /// <c>dotnet InterBert.Cli.dll</c> when it was started that way.
    /// </summary>
    public static IReadOnlyList<string> Command()
    {
        var process = Environment.ProcessPath ?? "dotnet";
        return Path.GetFileNameWithoutExtension(process) == "dotnet" ? [process, Environment.GetCommandLineArgs()[0]] : [process];
    }

    /// <summary>A start description running this command line with <paramref name="arguments"/>.</summary>
    public static ProcessStartInfo StartInfo(IEnumerable<string> arguments)
    {
        var command = Command();
        var info = new ProcessStartInfo(command[0]) { UseShellExecute = false };
        foreach (var a in command.Skip(1).Concat(arguments)) info.ArgumentList.Add(a);
        return info;
    }
}
