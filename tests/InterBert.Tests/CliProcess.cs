using System.Diagnostics;

namespace InterBert.Tests;

/// <summary>Runs the interbert command line (built beside the tests) as a child process.</summary>
internal static class CliProcess
{
    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "InterBert.Cli.dll");

    /// <summary>The command line with the benchmarks' <c>bench</c> verb (benchmarks/InterBert.Benchmarks).</summary>
    public static string BenchmarksDllPath => Path.Combine(AppContext.BaseDirectory, "InterBert.Benchmarks.dll");

    private static string DllFor(IReadOnlyList<string> args) => args.Count > 0 && args[0] == "bench" ? BenchmarksDllPath : DllPath;

    public static Process Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(DllFor(args));
        foreach (var a in args) info.ArgumentList.Add(a);
        var process = Process.Start(info) ?? throw new InvalidOperationException("cannot start dotnet");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Starts <c>serve</c> with <paramref name="args"/> (after the verb) and returns it with the address it listens on, once it does.</summary>
    public static (Process Process, string Address) StartServer(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { DllPath, "serve" }.Concat(args)) info.ArgumentList.Add(a);
        var process = Process.Start(info)!;
        process.ErrorDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (DateTime.UtcNow < deadline && process.StandardOutput.ReadLine() is { } line)
        {
            var at = line.IndexOf("listening on ", StringComparison.Ordinal);
            if (at < 0) continue;
            _ = Task.Run(() => { while (process.StandardOutput.ReadLine() is not null) { } });
            return (process, line[(at + "listening on ".Length)..].Split(' ')[0]);
        }
        process.Kill(true);
        throw new InvalidOperationException("serve did not start");
    }

    /// <summary>Starts a run and kills it (SIGKILL, no chance to clean up) as soon as <paramref name="file"/> exists, or after 3 minutes.</summary>
    public static void KillOnceWritten(string[] args, string file)
    {
        using var process = Start(args);
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (!File.Exists(file) && !process.HasExited && DateTime.UtcNow < deadline) Thread.Sleep(5);
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
    }

    /// <summary>Runs to the end and returns the exit code and both outputs.</summary>
    public static (int ExitCode, string Output, string Error) Run(params string[] args) => RunWith(new Dictionary<string, string>(), args);

    /// <summary>Runs to the end with <paramref name="environment"/> added to this process's, and returns the exit code and both outputs.</summary>
    public static (int ExitCode, string Output, string Error) RunWith(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (name, value) in environment) info.Environment[name] = value;
        info.ArgumentList.Add(DllFor(args));
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5))) { process.Kill(true); throw new TimeoutException(string.Join(" ", args)); }
        return (process.ExitCode, output.Result, error.Result);
    }
}
