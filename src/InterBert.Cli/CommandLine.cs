using System.CommandLine;
using InterBert.Cli.Commands;

namespace InterBert.Cli;

/// <summary>Builds the <c>interbert</c> command tree and runs it, turning user errors into one-line messages.</summary>
public static class CommandLine
{
    /// <summary>Option shared by every verb: the number of CPU threads TorchSharp may use.</summary>
    public static Option<int> ThreadsOption { get; } = new("--threads")
    {
        Description = "CPU threads for tensor work (default: all cores)",
        Recursive = true,
        DefaultValueFactory = _ => Environment.ProcessorCount,
    };

    /// <summary>Parses <paramref name="args"/> and runs the chosen verb; returns the exit code.</summary>
    public static int Run(string[] args)
    {
        var root = new RootCommand("InterBERT for .NET: vision-and-language pretraining, fine-tuning, evaluation and text-to-image search.");
        root.Options.Add(ThreadsOption);
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(ModelCommand.Create());
        root.Subcommands.Add(InitCommand.Create());
        root.Subcommands.Add(SynthCommand.Create());
        root.Subcommands.Add(FeaturesCommand.Create());
        root.Subcommands.Add(VocabCommand.Create());
        root.Subcommands.Add(PretrainCommand.Create());
        root.Subcommands.Add(TaskCommands.Finetune());
        root.Subcommands.Add(TaskCommands.Evaluate());
        root.Subcommands.Add(BenchCommand.Create());
        var parse = root.Parse(args);
        return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
    }

    /// <summary>Wraps a verb's body: sets the thread count, prints user errors as one line on stderr with exit code 1.</summary>
    public static Func<ParseResult, int> Guarded(Func<ParseResult, int> body) => parse =>
    {
        try
        {
            TorchSharp.torch.set_num_threads(Math.Max(1, parse.GetValue(ThreadsOption)));
            return body(parse);
        }
        catch (Exception e) when (IsUserError(e))
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    };

    private static bool IsUserError(Exception e) =>
        e is InterBertException or FileNotFoundException or DirectoryNotFoundException or FormatException
            or ArgumentException or UnauthorizedAccessException or InvalidDataException;
}
