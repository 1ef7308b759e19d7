using System.CommandLine;
using InterBert.Synthetic;

namespace InterBert.Cli.Commands;

/// <summary>The <c>synth</c> verb: renders a synthetic scene dataset with English and Chinese captions.</summary>
public static class SynthCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var images = new Option<int>("--images") { Description = "number of scenes", DefaultValueFactory = _ => 1000 };
        var seed = new Option<int>("--seed") { Description = "seed (the same seed gives the same bytes)", DefaultValueFactory = _ => 1 };
        var output = new Option<string>("--out") { Description = "folder: images/, dataset.json (en), dataset.zh.json, objects.jsonl", Required = true };
        var test = new Option<int?>("--test-images") { Description = "scenes in the test split (default: 10%)" };
        var validation = new Option<int?>("--val-images") { Description = "scenes in the validation split (default: 5%)" };
        var command = new Command("synth", "Render compositional scenes with boxes and English and Chinese captions (Karpathy-split dataset)")
        {
            images, seed, output, test, validation,
        };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            var count = parse.GetValue(images);
            var options = new SyntheticDataset.Options(count, parse.GetValue(seed), parse.GetValue(test) ?? count / 10, parse.GetValue(validation) ?? count / 20);
            var folder = parse.GetValue(output)!;
            var scenes = ProgressDisplay.Run("synth", (progress, cancel) =>
            {
                try
                {
                    return SyntheticDataset.Write(folder, options,
                        new Progress<SyntheticDataset.Progress>(p => progress.Report(new ProgressDisplay.Update(p.Done, p.Total, "scenes"))), cancel);
                }
                catch (OperationCanceledException)
                {
                    return null; // images written so far are complete files (atomic); a rerun rewrites only what differs
                }
            });
            if (scenes is null)
            {
                Console.WriteLine("synth: interrupted; run the same command again to finish");
                return 130;
            }
            Console.WriteLine($"synth: {scenes.Count} scenes ({options.TestImages} test, {options.ValidationImages} val, {scenes.Count - options.TestImages - options.ValidationImages} train), " +
                $"{scenes.Sum(s => s.Objects.Count)} objects → {Path.Combine(folder, SyntheticDataset.DatasetFile)}, {SyntheticDataset.DatasetFileFor("zh")}, {SyntheticDataset.ObjectsFile}");
            return 0;
        }));
        return command;
    }
}
