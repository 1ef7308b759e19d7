using System.CommandLine;
using InterBert.Modeling;
using InterBert.Weights;
using Spectre.Console;

namespace InterBert.Cli.Commands;

/// <summary>The <c>model</c> verb: inspect model configurations and weights.</summary>
public static class ModelCommand
{
    /// <summary>Creates <c>model</c> and its sub-verbs.</summary>
    public static Command Create()
    {
        var model = new Command("model", "Inspect model configurations and weights files");
        var preset = new Option<string?>("--preset") { Description = $"a built-in configuration: {string.Join(", ", InterBertConfig.PresetNames)}" };
        var config = new Option<string?>("--config") { Description = "a configuration JSON file (reference field names)" };
        var weights = new Option<string?>("--weights") { Description = "a weights file or model folder written by interbert (its configuration is read from it)" };
        var info = new Command("info", "Print a configuration and its parameter counts per part") { preset, config, weights };
        info.SetAction(CommandLine.Guarded(parse =>
        {
            var (configuration, source) = ResolveConfig(parse.GetValue(preset), parse.GetValue(config), parse.GetValue(weights));
            using var built = new InterBertModel(configuration);
            Console.WriteLine($"configuration ({source}):");
            Console.WriteLine(configuration.ToJson());
            var counts = built.ParameterCounts();
            var table = new Table().AddColumn("part").AddColumn(new TableColumn("parameters").RightAligned());
            table.AddRow("text path (embeddings, single-stream + text stream)", counts["text"].ToString("N0"));
            table.AddRow("image path (image embeddings, image stream)", counts["image"].ToString("N0"));
            table.AddRow("heads (poolers, matching, score, segment, region)", counts["heads"].ToString("N0"));
            table.AddRow("total", counts["total"].ToString("N0"));
            AnsiConsole.Write(table);
            var weightsPath = parse.GetValue(weights);
            if (weightsPath is not null)
            {
                foreach (var (key, value) in ModelCheckpoint.ReadMetadata(weightsPath))
                    if (key != ModelCheckpoint.ConfigKey) Console.WriteLine($"metadata {key}: {(value.Length > 160 ? value[..160] + $"... ({value.Length} characters)" : value)}");
            }
            return 0;
        }));
        model.Subcommands.Add(info);
        var from = new Option<string>("--weights") { Description = "a weights file written by interbert", Required = true };
        var output = new Option<string>("--out") { Description = "the model folder to write (config.json, model.safetensors, vocab.txt, tokenizer_config.json)", Required = true };
        var features = new Option<string?>("--features") { Description = "the feature store the model was trained on: the folder then says how photos become regions (preprocessor_config.json) and carries the detector" };
        var export = new Command("export", "Write weights as a model folder laid out as Hugging Face does (readable with safetensors and json alone)") { from, output, features };
        export.SetAction(CommandLine.Guarded(parse =>
        {
            var source = parse.GetValue(from)!;
            ModelFolder.Export(source, parse.GetValue(output)!, parse.GetValue(features) is { } storePath ? InterBert.Data.ImagePreprocessing.OfStore(storePath) : null);
            Console.WriteLine($"model export: {source} → {Path.GetFullPath(parse.GetValue(output)!)} (config.json, model.safetensors, vocab.txt, tokenizer_config.json" +
                (File.Exists(Path.Combine(parse.GetValue(output)!, InterBert.Data.ImagePreprocessing.FileName)) ? ", preprocessor_config.json" : "") +
                (File.Exists(Path.Combine(parse.GetValue(output)!, "detector.onnx")) ? ", detector.onnx" : "") + ")");
            return 0;
        }));
        model.Subcommands.Add(export);
        return model;
    }

    /// <summary>Picks the configuration from exactly one of a preset, a JSON file or a weights file.</summary>
    public static (InterBertConfig Config, string Source) ResolveConfig(string? preset, string? configPath, string? weightsPath)
    {
        var given = new[] { preset, configPath, weightsPath }.Count(v => v is not null);
        if (given != 1) throw new ArgumentException("give exactly one of --preset, --config or --weights");
        if (preset is not null) return (InterBertConfig.FromPreset(preset), $"preset {preset}");
        if (configPath is not null) return (InterBertConfig.Load(configPath), configPath);
        return (ModelCheckpoint.ReadConfig(weightsPath!), weightsPath!);
    }
}
