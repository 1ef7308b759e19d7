using InterBert.Modeling;
using InterBert.Workflows;

namespace InterBert.Tests.Workflows;

/// <summary><c>benchmark ablations</c> on a miniature Flickr8k: rows through the recipe's own stages, seeds, the report.</summary>
public sealed class Flickr8kAblationsTests
{
    private static Flickr8kRecipeOptions Tiny(string data, string output) => new()
    {
        DataFolder = data, OutputFolder = output, Language = "zh", Preset = "tiny", ChineseLayersFromMiniLm = false,
        DetectorPath = SharedData.Path("models", "yolox-nano", "yolox_nano.onnx"), PretrainSteps = 3, FinetuneSteps = 2,
    };

    [Fact]
    public void RowsRunThroughTheRecipesStagesWithSeedsAndTheFullRowIsTheRecipe()
    {
        using var folder = new TempFolder();
        var data = Directory.CreateDirectory(folder.File("flickr8k")).FullName;
        Flickr8kRecipeTests.WriteMiniature(data);
        var output = folder.File("out");
        var recipe = Tiny(data, output);
        string[] rowNames = ["full", "two-stream", "no-pretraining"];
        var ablations = new Flickr8kAblations(recipe, [.. rowNames.Select(PretrainingVariant.Named)], seeds: 2);
        Assert.True(ablations.Run());

        // Seed 1 of the full and no-pretraining rows is the recipe itself; every other run has its folder.
        var runs = ablations.Results();
        Assert.Equal(rowNames.SelectMany(r => new[] { (r, 1), (r, 2) }), runs.Select(r => (r.Row, r.Seed)));
        Assert.Equal("..", runs[0].Folder);
        Assert.False(Directory.Exists(Path.Combine(ablations.Folder, "full-seed1")));
        Assert.True(Directory.Exists(Path.Combine(ablations.Folder, "full-seed2", "pretrain")));
        Assert.False(Directory.Exists(Path.Combine(ablations.Folder, "no-pretraining-seed2", "pretrain")));
        Assert.All(runs, r => Assert.Equal(4, r.Finetuned.Captions));
        Assert.All(runs.Where(r => r.Row != "no-pretraining"), r => Assert.NotNull(r.ZeroShot));
        Assert.All(runs.Where(r => r.Row == "no-pretraining"), r => Assert.Empty(r.PretrainingLosses));
        Assert.All(runs.Where(r => r.Row != "no-pretraining"), r => Assert.True(r.PretrainingLosses["mrm"] > 0));
        // The two-stream row trained a model without interaction layers.
        var dual = InterBertConfig.Load(Path.Combine(ablations.Folder, "two-stream-seed1", "pretrain", "config.json"));
        Assert.Equal((0, 3, 3), (dual.NumHiddenLayers, dual.TNumHiddenLayers, dual.VNumHiddenLayers));

        var report = File.ReadAllText(ablations.ReportPath);
        Assert.Contains("| no multimodal pretraining (fine-tuning from the initial weights) | multimodal pretraining helps retrieval | 2 | – |", report);
        Assert.Contains(" ± ", report);
        Assert.Contains("--rows full,two-stream,no-pretraining --seeds 2", report);
        Assert.Contains("two-stream-seed2/pretrain/plots/losses.png", report);

        // A later command with fewer seeds reports every finished seed, and names the command that ran the extra ones.
        var oneSeed = new Flickr8kAblations(recipe, [.. new[] { "full", "mlm", "no-pretraining" }.Select(PretrainingVariant.Named)], seeds: 1);
        Assert.Equal([("full", 1), ("full", 2), ("no-pretraining", 1), ("no-pretraining", 2)], oneSeed.Results().Select(r => (r.Row, r.Seed)));
        Assert.True(oneSeed.Run());
        Assert.Equal([("full", 1), ("full", 2), ("mlm", 1), ("no-pretraining", 1), ("no-pretraining", 2)], oneSeed.Results().Select(r => (r.Row, r.Seed)));
        var mixed = File.ReadAllText(oneSeed.ReportPath);
        Assert.Contains("--rows full,no-pretraining --seeds 2\n", mixed);
        Assert.Contains("--rows full,mlm,no-pretraining --seeds 1\n", mixed);
        Assert.Contains($"| {PretrainingVariant.Full.Title} | – | 2 |", mixed);

        // The full row run through the ablation path (as its other seeds are) is bit-identical to the recipe's pretraining.
        var throughVariant = new Flickr8kRecipe(recipe with { Variant = PretrainingVariant.Full, Baseline = false });
        Assert.True(throughVariant.Run());
        Assert.Equal(File.ReadAllBytes(Path.Combine(output, "zh", "pretrain", "model.safetensors")),
            File.ReadAllBytes(Path.Combine(ablations.Folder, "full-seed1", "pretrain", "model.safetensors")));
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(output, "zh", "pretrain", "model.safetensors")),
            File.ReadAllBytes(Path.Combine(ablations.Folder, "full-seed2", "pretrain", "model.safetensors")));
    }

    [Fact]
    public void VerdictWeighsTheGapAgainstTheSeedSpread()
    {
        Assert.StartsWith("agrees on one seed (+2.0 RSUM)", Flickr8kAblations.Verdict([10], [8]));
        Assert.StartsWith("disagrees: -3.0 RSUM, beyond", Flickr8kAblations.Verdict([10, 10.2, 9.8], [13, 13.2, 12.8]));
        Assert.StartsWith("undecided: +0.5 RSUM, within the seed-to-seed spread (1.0)", Flickr8kAblations.Verdict([9, 10, 11], [9.5, 9.5, 9.5]));
    }

    [Fact]
    public void AnUnknownRowIsAOneLineError()
    {
        using var folder = new TempFolder();
        var (code, _, stderr) = CliProcess.Run(["benchmark", "ablations", "--data", folder.File("nowhere"), "--rows", "full,no-msm", "--out", folder.File("out")]);
        Assert.Equal(1, code);
        Assert.Equal("error: --rows: unknown row 'no-msm'; expected some of full, mlm, no-mrm, mrm-no-grouping, mrm-regression, no-itm, single-stream, two-stream, no-pretraining", stderr.Trim());
        Assert.False(Directory.Exists(folder.File("out")));
    }
}
