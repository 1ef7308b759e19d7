using System.CommandLine;
using System.Text.RegularExpressions;
using InterBert.Modeling;
using InterBert.Weights;

namespace InterBert.Cli.Commands;

/// <summary>The <c>init</c> verb: start a model from pretrained text weights (MiniLM, or a BERT checkpoint on disk).</summary>
public static partial class InitCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var from = new Option<string>("--from") { Description = "'minilm' (embedded all-MiniLM-L6-v2) or a Hugging Face BERT checkpoint (folder or weights file, vocab.txt beside it)", Required = true };
        var preset = new Option<string?>("--preset") { Description = "configuration preset deciding the stack split (default: small for minilm, base otherwise)" };
        var config = new Option<string?>("--config") { Description = "configuration JSON instead of a preset" };
        var output = new Option<string>("--out") { Description = "weights file to write (.safetensors); the vocabulary is written beside it", Required = true };
        var vocab = new Option<string?>("--vocab")
        {
            Description = "a different vocabulary (e.g. Chinese characters from 'vocab'): the encoder's layers are kept, tokens in both vocabularies keep their embeddings, the rest start random",
        };
        var cased = new Option<bool>("--cased") { Description = "with --vocab: the vocabulary is cased (default: lower-case, as 'vocab' builds it)" };
        var seed = new Option<int>("--seed") { Description = "seed for the randomly initialised image path and heads", DefaultValueFactory = _ => 42 };
        var locationFrequencies = CommandLine.LocationFrequenciesOption();
        var command = new Command("init", "Create a model whose text path starts from pretrained BERT weights") { from, preset, config, output, vocab, cased, seed, locationFrequencies };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            var source = parse.GetValue(from)!;
            var isMiniLm = source.Equals("minilm", StringComparison.OrdinalIgnoreCase);
            var presetName = parse.GetValue(preset);
            var configPath = parse.GetValue(config);
            if (presetName is not null && configPath is not null) throw new ArgumentException("give --preset or --config, not both");
            presetName ??= configPath is null ? (isMiniLm ? "small" : "base") : null;
            var (configuration, configName) = presetName is not null
                ? (InterBertConfig.FromPreset(presetName), $"preset {presetName}")
                : (InterBertConfig.Load(configPath!), configPath!);
            if (parse.GetResult(locationFrequencies) is not null) configuration = configuration with { VLocationFrequencies = parse.GetValue(locationFrequencies) };
            var outputPath = parse.GetValue(output)!;

            TorchSharp.torch.manual_seed(parse.GetValue(seed));
            Console.WriteLine($"init: reading {(isMiniLm ? "the embedded MiniLM" : source)}...");
            using var pretrained = isMiniLm ? MiniLmOnnxReader.Read() : BertCheckpointReader.Read(source);
            using var transplanted = parse.GetValue(vocab) is { } vocabularyPath ? Transplant(pretrained, vocabularyPath, !parse.GetValue(cased)) : null;
            var encoder = transplanted ?? pretrained;
            var report = PretrainedInitializer.CreateAndSave(configuration, encoder, configName, outputPath);
            Console.WriteLine($"init: {encoder.Source}: {encoder.LayerCount} layers into {configName} ({configuration.NumHiddenLayers} single-stream + {configuration.TNumHiddenLayers} text-stream)");
            PrintGrouped("used", report.Used);
            PrintGrouped("missing (left at their random initialisation)", report.Missing);
            PrintGrouped("unexpected (not used)", report.Unexpected);
            PrintGrouped("ignored (derived by the model)", report.Ignored);
            Console.WriteLine($"init: wrote {outputPath} and {ModelVocabulary.PathBeside(outputPath)}");
            return 0;
        }));
        return command;
    }

    private static PretrainedTextEncoder Transplant(PretrainedTextEncoder encoder, string vocabularyPath, bool lowerCase)
    {
        if (!File.Exists(vocabularyPath)) throw new InterBertException($"{vocabularyPath}: vocabulary file not found");
        var result = VocabularyTransplant.Apply(encoder, File.ReadAllBytes(vocabularyPath), lowerCase, vocabularyPath);
        Console.WriteLine($"init: {vocabularyPath}: {result.SharedTokens} of {result.SharedTokens + result.NewTokens} tokens keep the encoder's embeddings, {result.NewTokens} start random");
        return result.Encoder;
    }

    /// <summary>Prints keys grouped by their pattern with layer numbers folded, e.g. <c>encoder.layer.{0-5}.output.dense.weight</c>.</summary>
    private static void PrintGrouped(string title, IReadOnlyList<string> keys)
    {
        Console.WriteLine($"  {title}: {keys.Count} keys");
        var groups = keys.GroupBy(k => LayerNumber().Replace(k, ".#."))
            .Select(g => (Pattern: g.Key, Numbers: g.Select(k => LayerNumber().Match(k)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value)).Distinct().Order().ToList()))
            .ToList();
        foreach (var (pattern, numbers) in groups)
        {
            var shown = numbers.Count == 0 ? pattern : pattern.Replace(".#.", $".{{{(numbers.Count == 1 ? numbers[0].ToString() : $"{numbers[0]}-{numbers[^1]}")}}}.");
            Console.WriteLine($"    {shown}");
        }
    }

    [GeneratedRegex(@"\.(\d+)\.")]
    private static partial Regex LayerNumber();
}
