using System.CommandLine;
using System.Runtime.InteropServices;
using InterBert.Cli.Commands;
using InterBert.Distributed;

namespace InterBert.Cli;

/// <summary>Builds the <c>interbert</c> command tree and runs it, turning user errors into one-line messages.</summary>
public static class CommandLine
{
    /// <summary>Option shared by every verb: the number of CPU threads TorchSharp may use.</summary>
    public static Option<int> ThreadsOption { get; } = new Option<int>("--threads")
    {
        Description = "CPU threads for tensor work (default: all cores, shared among the MPI ranks on this machine)",
        Recursive = true,
        DefaultValueFactory = _ => Math.Max(1, Environment.ProcessorCount / LocalRanks),
    }.AtLeast(1);

    /// <summary>Exit code of a usage error: an unknown verb or option, a missing or malformed value.</summary>
    public const int UsageError = 2;

    /// <summary>Refuses, at parse time and naming the option, a value below <paramref name="minimum"/>.</summary>
    public static Option<int> AtLeast(this Option<int> option, int minimum)
    {
        option.Validators.Add(result =>
        {
            // A default is in range; a value that is not a number is the parser's own error.
            if (result.Tokens.Count == 0) return;
            if (!int.TryParse(result.Tokens[^1].Value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var value)) return;
            if (value < minimum) result.AddError($"{option.Name} {value}: expected at least {minimum}");
        });
        return option;
    }

    /// <summary>A verb's <c>--precision</c> option: fp32 (default) or bf16 mixed precision.</summary>
    public static Option<string> PrecisionOption() => new("--precision")
    {
        Description = "arithmetic of the model's matrix products: fp32, or bf16 (mixed precision: bf16 products, fp32 weights, LayerNorm, softmax and losses)",
        DefaultValueFactory = _ => "fp32",
    };

    /// <summary>The value of a <see cref="PrecisionOption"/>.</summary>
    public static Modeling.Precision Precision(ParseResult parse, Option<string> option) => Precision(parse.GetValue(option)!);

    /// <summary>
    /// A <c>--precision</c> value: <c>auto</c> (a recipe's default) says on stdout, the recipe's log, what it chose on
    /// this CPU; bf16 asked for where the CPU does not multiply it natively comes with a one-line warning on stderr (it
    /// runs, many times slower than fp32).
    /// </summary>
    public static Modeling.Precision Precision(string name)
    {
        var precision = Modeling.PrecisionNames.Parse(name);
        if (string.Equals(name.Trim(), Modeling.PrecisionNames.AutoName, StringComparison.OrdinalIgnoreCase))
            Console.WriteLine($"precision auto: {Modeling.PrecisionNames.Name(precision)} ({(Modeling.Bf16Support.IsNative ? "this CPU multiplies bf16 natively" : "this CPU has no native bf16 arithmetic")})");
        else if (precision == Modeling.Precision.Bf16 && !Modeling.Bf16Support.IsNative)
            Console.Error.WriteLine($"warning: {Modeling.Bf16Support.SlowWarning}; --precision auto or fp32 is faster here");
        return precision;
    }

    /// <summary>A recipe's <c>--precision</c> option, whose default is <c>auto</c> (bf16 where the CPU does it natively, fp32 otherwise).</summary>
    public static Option<string> RecipePrecisionOption(string what) => new("--precision")
    {
        Description = $"arithmetic of {what}: auto (bf16 where the CPU multiplies it natively, AVX-512 BF16, AMX or Arm BF16; fp32 otherwise), bf16 or fp32",
        DefaultValueFactory = _ => Modeling.PrecisionNames.AutoName,
    };

    /// <summary>A verb's <c>--whole-image-region</c> option (masked region modeling's treatment of region 0); null keeps the verb's default.</summary>
    public static Option<string?> WholeImageRegionOption() => new("--whole-image-region")
    {
        Description = "masked region modeling: 'masked' hides and predicts the whole-image region whenever a region inside it is masked (default); 'visible' shows it unless it overlaps an anchor",
    };

    /// <summary>The recipes' switch for the attention bias from region pair geometry (a new model's configuration).</summary>
    public static Option<bool> GeometryBiasOption() => new("--geometry-bias")
    {
        Description = "the new model's attention among regions gets a learned bias from each pair's relative geometry (left of, above, larger than); off by default",
    };

    /// <summary>The <c>--location-frequencies</c> option: sine frequencies of a new model's box encoding (<see cref="InterBert.Modeling.InterBertConfig.VLocationFrequencies"/>).</summary>
    public static Option<int> LocationFrequenciesOption()
    {
        var option = new Option<int>("--location-frequencies")
        {
            Description = "the new model encodes each box number also as sines and cosines of this many frequencies (2^k·π), so that nearby boxes embed apart; 0: the paper's five numbers",
        };
        option.Validators.Add(result =>
        {
            if (result.GetValue(option) is < 0 or > InterBert.Modeling.InterBertConfig.MaxLocationFrequencies)
                result.AddError($"--location-frequencies {result.GetValue(option)}: from 0 to {InterBert.Modeling.InterBertConfig.MaxLocationFrequencies}");
        });
        return option;
    }

    /// <summary>The <c>--mask-all-regions</c> option: the share of matched pretraining pairs whose every region is masked.</summary>
    public static Option<double> AllRegionsMaskedOption()
    {
        var option = new Option<double>("--mask-all-regions")
        {
            Description = "share of matched pretraining pairs whose every region is masked at once (the boxes stay), so that masked region modeling names each region from the caption and the boxes alone (grounding); 0: the paper's masking",
        };
        option.Validators.Add(result =>
        {
            if (result.GetValue(option) is < 0 or > 1) result.AddError($"--mask-all-regions {result.GetValue(option)}: a share from 0 to 1");
        });
        return option;
    }

    /// <summary>The <c>--region-judge-weight</c> option of the jobs that write a model.</summary>
    public static Option<double?> RegionJudgeWeightOption()
    {
        var option = new Option<double?>("--region-judge-weight")
        {
            Description = "the written model's pair scores add its region head's judgement at this weight: how much better the caption lets the head name the regions, every region's features hidden, than no caption does (0: off; default: as the initial weights)",
        };
        option.Validators.Add(result =>
        {
            if (result.GetValue(option) is { } weight && !(weight >= 0 && double.IsFinite(weight))) result.AddError($"--region-judge-weight {weight}: a number, 0 or more");
        });
        return option;
    }

    /// <summary>The <c>--own-negatives</c> option: which kind of an image's own hard negatives serve as wrong captions.</summary>
    public static Option<string> OwnNegativeKindOption()
    {
        var option = new Option<string>("--own-negatives")
        {
            Description = "which of an image's own \"hard_negatives\" serve as its wrong captions: all (the default), or only those whose \"changed\" is relation or attribute",
            DefaultValueFactory = _ => "all",
        };
        option.AcceptOnlyFromAmong("all", "relation", "attribute");
        return option;
    }

    /// <summary>The kind an <see cref="OwnNegativeKindOption"/> names, or null for all.</summary>
    public static string? OwnNegativeKind(ParseResult parse, Option<string> option) => parse.GetValue(option) is { } kind && kind != "all" ? kind : null;

    /// <summary>The value of a <see cref="WholeImageRegionOption"/>, or null when not given.</summary>
    public static Pretraining.WholeImageRegionMasking? WholeImageRegion(ParseResult parse, Option<string?> option) => parse.GetValue(option) switch
    {
        null => null,
        "masked" => Pretraining.WholeImageRegionMasking.Masked,
        "visible" => Pretraining.WholeImageRegionMasking.Visible,
        var other => throw new ArgumentException($"--whole-image-region {other}: expected masked or visible"),
    };

    /// <summary>Parses <paramref name="args"/> and runs the chosen verb (of the tool's and <paramref name="moreVerbs"/>); returns the exit code.</summary>
    public static int Run(string[] args, params Command[] moreVerbs)
    {
        // Named as the tool is installed (`interbert`), not after the assembly, in every help text.
        var root = new Command("interbert", "InterBERT for .NET: vision-and-language pretraining, fine-tuning, evaluation and text-to-image search.")
        {
            new System.CommandLine.Help.HelpOption(),
        };
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
        root.Subcommands.Add(IndexCommand.Create());
        root.Subcommands.Add(SearchCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(BenchmarkCommand.Create());
        foreach (var verb in moreVerbs) root.Subcommands.Add(verb);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // One line naming what is wrong, and where the options are described: never the whole help text.
            var first = parse.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? parse.Errors[0];
            var message = string.Join(", ", first.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Replace("?,", "?", StringComparison.Ordinal).TrimEnd('.');
            Console.Error.WriteLine($"error: {message} (see: interbert {VerbPath(parse.CommandResult)}--help)");
            return UsageError;
        }
        // Under MPI, the launcher ends every rank when one fails; say why instead of vanishing silently.
        using var terminated = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ =>
        {
            if (ProcessGroup.IsDistributed)
                Console.Error.WriteLine($"error: rank {ProcessGroup.Current.Rank}: stopped by the MPI launcher (another rank failed or the job was cancelled); continue from the last checkpoint with --resume");
        });
        try
        {
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        finally
        {
            ProcessGroup.Shutdown();
        }
    }

    /// <summary>The verbs leading to a parsed command, each followed by a space ("" for the root).</summary>
    private static string VerbPath(System.CommandLine.Parsing.CommandResult result)
    {
        var names = new List<string>();
        for (var current = result; current.Parent is System.CommandLine.Parsing.CommandResult parent; current = parent) names.Insert(0, current.Command.Name + " ");
        return string.Concat(names);
    }

    /// <summary>MPI ranks on this machine (MPICH's Hydra and Slurm say how many), 1 otherwise.</summary>
    public static int LocalRanks =>
        int.TryParse(Environment.GetEnvironmentVariable("MPI_LOCALNRANKS") ?? Environment.GetEnvironmentVariable("SLURM_NTASKS_PER_NODE"), out var n) && n > 0 ? n : 1;

    /// <summary>
    /// Wraps a verb's body: sets the thread count, prints user errors as one line on stderr, with exit code 2 for a
    /// usage error found by the verb (<see cref="ArgumentException"/>) and 1 for bad input or data.
    /// </summary>
    public static Func<ParseResult, int> Guarded(Func<ParseResult, int> body) => parse =>
    {
        try
        {
            TorchSharp.torch.set_num_threads(Math.Max(1, parse.GetValue(ThreadsOption)));
            return body(parse);
        }
        catch (Exception e) when (IsUserError(e))
        {
            var code = e is ArgumentException ? UsageError : 1;
            if (!ProcessGroup.IsDistributed)
            {
                Console.Error.WriteLine($"error: {Describe(e)}");
                return code;
            }
            // One rank's error must end the whole job: the other ranks would otherwise wait for it in the next all-reduce.
            Console.Error.WriteLine($"error: rank {ProcessGroup.Current.Rank}: {Describe(e)}");
            Console.Error.Flush();
            ProcessGroup.Current.Abort(code);
            return code;
        }
    };

    // A full disk is the machine's state, not a bug: one line, and what to do. Files are written to a temporary name
    // and renamed, so what was finished before is intact and the command continues from it.
    private static bool IsUserError(Exception e) =>
        e is InterBertException or FileNotFoundException or DirectoryNotFoundException or FormatException
            or ArgumentException or UnauthorizedAccessException or InvalidDataException
        || e is IOException io && IsDiskFull(io);

    private static bool IsDiskFull(IOException e) =>
        (e.HResult & 0xFFFF) is 28 or 112 || e.Message.Contains("No space left on device", StringComparison.OrdinalIgnoreCase);

    private static string Describe(Exception e) => e is IOException io && IsDiskFull(io)
        ? $"{e.Message.Trim()}: the disk is full; free some space and run the same command again (what it finished is kept)"
        : e.Message;
}
