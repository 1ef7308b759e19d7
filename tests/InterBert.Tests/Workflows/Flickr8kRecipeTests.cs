using System.Text.Json.Nodes;

namespace InterBert.Tests.Workflows;

public sealed class Flickr8kRecipeTests
{
    /// <summary>A Flickr8k folder of 10 COCO photos (6 train, 2 dev, 2 test), two English and two Chinese captions each.</summary>
    internal static void WriteMiniature(string folder)
    {
        var photos = Directory.CreateDirectory(Path.Combine(folder, "Flicker8k_Dataset")).FullName;
        var sample = Directory.GetFiles(SharedData.Path("data", "coco-sample", "images"), "*.jpg").Order(StringComparer.Ordinal).Take(10).ToList();
        string[] english = ["a dog runs on the grass", "two children play in a park", "a man rides a bike", "a girl in a pink dress", "a cat sleeps on a sofa"];
        string[] chinese = ["一只狗在草地上奔跑。", "两个孩子在公园里玩。", "一个男人骑自行车。", "一个穿粉色裙子的女孩。", "一只猫在沙发上睡觉。"];
        var tokens = new List<string>();
        var zh = new List<string>();
        for (var k = 0; k < sample.Count; k++)
        {
            var name = $"{1000 + k}_photo.jpg";
            File.Copy(sample[k], Path.Combine(photos, name));
            for (var n = 0; n < 2; n++)
            {
                tokens.Add($"{name}#{n}\t{english[(k + n) % english.Length]} number {k}");
                zh.Add($"{name}#zhc#{n} {chinese[(k + n) % chinese.Length]}第{k}张");
            }
        }
        File.WriteAllLines(Path.Combine(folder, "Flickr8k.token.txt"), tokens);
        File.WriteAllLines(Path.Combine(folder, "flickr8kzhc.caption.txt"), zh);
        File.WriteAllLines(Path.Combine(folder, "Flickr_8k.trainImages.txt"), Enumerable.Range(0, 6).Select(k => $"{1000 + k}_photo.jpg"));
        File.WriteAllLines(Path.Combine(folder, "Flickr_8k.devImages.txt"), Enumerable.Range(6, 2).Select(k => $"{1000 + k}_photo.jpg"));
        File.WriteAllLines(Path.Combine(folder, "Flickr_8k.testImages.txt"), Enumerable.Range(8, 2).Select(k => $"{1000 + k}_photo.jpg"));
    }

    private static string[] Args(string data, string output, string finetuneSteps) =>
    [
        "benchmark", "flickr8k", "--data", data, "--lang", "zh", "--preset", "tiny", "--text-init", "random", "--out", output,
        "--detector", SharedData.Path("models", "yolox-nano", "yolox_nano.onnx"), "--pretrain-steps", "3", "--finetune-steps", finetuneSteps, "--baseline",
    ];

    [Fact]
    public void ChineseRecipeRunsEveryStageOnTheTestSplitAndReusesWhatDidNotChange()
    {
        using var folder = new TempFolder();
        var data = Directory.CreateDirectory(folder.File("flickr8k")).FullName;
        WriteMiniature(data);
        var output = folder.File("out");
        var (code, stdout, stderr) = CliProcess.Run(Args(data, output, "3"));
        Assert.True(code == 0, stdout + stderr);
        // The features of the 10 photos of the three splits are shared by both languages; the runs are under zh/.
        // By default every photo has the grid's cells after its boxes, and the full recipe's photos are extracted at 448
        // pixels, in a store of its own.
        using (var store = InterBert.Data.FeatureStore.Open(Path.Combine(output, "features-grid-448")))
        {
            Assert.True(store.Manifest.Regions!.GridAlways);
            Assert.Equal(448, store.Manifest.Regions.InputSize);
            Assert.All(store.Ids, id => Assert.True(store.Read(id).RegionCount >= 10));
        }
        Assert.False(Directory.Exists(Path.Combine(output, "features")));
        Assert.False(Directory.Exists(Path.Combine(output, "features-grid")));
        var report = File.ReadAllText(Path.Combine(output, "zh", "report.md"));
        Assert.Contains("a 3x3 grid of cells", report);
        Assert.Contains("photos resized to 448 pixels (`--input-size 448`)", report);
        // And pretraining hides wrong pairs' regions as of matched ones.
        Assert.Contains("mask-mismatched-regions", File.ReadAllText(Path.Combine(output, "zh", "stages.json")));
        Assert.Contains("Flickr8K-CN's five Chinese captions", report);
        Assert.Contains("fine-tuned after pretraining", report);
        foreach (var name in new[] { "zero-shot", "finetuned-pretrained", "finetuned-baseline" })
        {
            // Two-stage on the test split: its 2 photos x 4 Chinese captions, every pair re-scored (K is capped at the photos).
            var result = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "zh", "eval", name + ".json")))!;
            Assert.Equal(4, result["retrieval"]!["captions"]!.GetValue<int>());
            Assert.Equal(2, result["retrieval"]!["images"]!.GetValue<int>());
            Assert.Equal(2, result["candidates"]!.GetValue<int>());
            Assert.Equal(8, result["pairs_scored"]!.GetValue<long>());
            Assert.Contains("第", result["top5"]![0]!["caption"]!.GetValue<string>());
        }
        Assert.True(File.Exists(Path.Combine(output, "zh", "index", "index.json")));
        Assert.Contains("./interbert serve --index", stdout);
        // The calibrate stage fitted the search model's relevance on dev; its test evaluation measured the cut-offs.
        Assert.True(File.Exists(Path.Combine(output, "zh", "finetune-pretrained", "relevance.json")));
        var cutOffs = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "zh", "eval", "relevance-test.json")))!["relevance_cut_off"]!.AsObject();
        Assert.Equal(["0.3", "0.5", "0.7"], cutOffs.Select(p => p.Key));
        Assert.All(cutOffs, p => Assert.InRange(p.Value!["kept_when_indexed"]!.GetValue<double>(), 0, 100));
        Assert.Contains("| minimum relevance |", report);

        // Other fine-tuning steps: features, initial weights, pretraining and the zero-shot evaluation are reused.
        var (again, rerun, rerunError) = CliProcess.Run(Args(data, output, "4"));
        Assert.True(again == 0, rerun + rerunError);
        foreach (var reused in new[] { "region features", "vocabulary from the training captions", "pretrain 3 steps", "zero-shot retrieval" })
            Assert.Contains(rerun.Split('\n'), line => line.Contains(reused) && line.Contains(": reused"));
        Assert.Contains(rerun.Split('\n'), line => line.Contains("fine-tune retrieval from the pretrained model (4 steps)") && !line.Contains("reused"));
    }

    [Fact]
    public void BilingualRecipeTrainsOneModelOnBothLanguagesAndEvaluatesEachApart()
    {
        using var folder = new TempFolder();
        var data = Directory.CreateDirectory(folder.File("flickr8k")).FullName;
        WriteMiniature(data);
        var output = folder.File("out");
        var (code, stdout, stderr) = CliProcess.Run(["benchmark", "flickr8k", "--data", data, "--lang", "en+zh", "--out", output,
            "--detector", SharedData.Path("models", "yolox-nano", "yolox_nano.onnx"), "--pretrain-steps", "2", "--finetune-steps", "2"]);
        Assert.True(code == 0, stdout + stderr);
        // Each language's test captions apart: 2 photos x 4 captions, English in one evaluation and Chinese in the other.
        foreach (var (language, marker) in new[] { ("en", "number"), ("zh", "第") })
        {
            var result = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "en+zh", "eval", $"finetuned-pretrained-{language}.json")))!;
            Assert.Equal(4, result["retrieval"]!["captions"]!.GetValue<int>());
            Assert.Equal(2, result["retrieval"]!["images"]!.GetValue<int>());
            Assert.All(result["top5"]!.AsArray(), q => Assert.Contains(marker, q!["caption"]!.GetValue<string>()));
        }
        // One vocabulary: MiniLM's (BERT's uncased) at its ids, then the Chinese characters of the training captions.
        var vocabulary = File.ReadAllLines(Path.Combine(output, "en+zh", "finetune-pretrained", "vocab.txt"));
        var english = File.ReadAllLines(SharedData.Path("data", "vocab", "bert-base-uncased.txt"));
        Assert.Equal(english, vocabulary.Take(english.Length));
        Assert.Contains("狗", vocabulary);
        Assert.Contains("孩", vocabulary.Skip(english.Length));
        var report = File.ReadAllText(Path.Combine(output, "en+zh", "report.md"));
        Assert.Contains("one model for both languages", report);
        Assert.Contains("Chinese only: not run with these settings", report);
        Assert.True(File.Exists(Path.Combine(output, "en+zh", "index", "index.json")));
        // No --baseline: no fine-tuning without pretraining, and no row for it.
        Assert.False(Directory.Exists(Path.Combine(output, "en+zh", "finetune-baseline")));
        Assert.DoesNotContain("without multimodal pretraining", report);
        Assert.Contains("[9/9] write the report", stdout);
    }

    [Fact]
    public void TheRecipeFineTunesWithTheLeversChosenOnDevAndTheQuickOneCalibratesOnOneCaptionPerPhoto()
    {
        var full = InterBert.Workflows.Flickr8kRecipeOptions.For("data", "out", "en", quick: false);
        Assert.Equal((true, 128, false), (full.SimilarityNegatives, full.ContrastiveBatch, full.Baseline));
        Assert.Contains("negatives=similarity contrastive-batch=128", full.Fingerprint("finetune"));
        var quick = InterBert.Workflows.Flickr8kRecipeOptions.For("data", "out", "en", quick: true);
        Assert.Equal((1, null), (quick.CalibrationCaptionsPerImage, full.CalibrationCaptionsPerImage));
        // A calibration on other captions is another stage; the full recipe's fingerprint is the one it always had.
        Assert.EndsWith("captions-per-image=1", quick.Fingerprint("calibrate"));
        Assert.EndsWith($"add-similarity={full.AddSimilarity}", full.Fingerprint("calibrate"));
    }

    [Fact]
    public void ALargerContrastiveBatchIsANewFineTuningButReusesPretraining()
    {
        var plain = InterBert.Workflows.Flickr8kRecipeOptions.For("data", "out", "en", quick: false) with { ContrastiveBatch = 0 };
        var larger = plain with { ContrastiveBatch = 128 };
        Assert.NotEqual(plain.Fingerprint("finetune"), larger.Fingerprint("finetune"));
        Assert.Contains("contrastive-batch=128", larger.Fingerprint("finetune"));
        foreach (var stage in new[] { "features", "init", "pretrain" }) Assert.Equal(plain.Fingerprint(stage), larger.Fingerprint(stage));
        // No larger than the batch: the same fine-tuning as without the option.
        Assert.Equal(plain.Fingerprint("finetune"), (plain with { ContrastiveBatch = plain.FinetuneBatch }).Fingerprint("finetune"));
    }

    [Fact]
    public void FineTuningsOwnMultiplierReachesItsJobAsANewFineTuningAndLeavesPretrainingAlone()
    {
        using var folder = new TempFolder();
        var data = Directory.CreateDirectory(folder.File("flickr8k")).FullName;
        WriteMiniature(data);
        var plain = InterBert.Workflows.Flickr8kRecipeOptions.For(data, folder.File("plain"), "en", quick: true);
        var faster = plain with { OutputFolder = folder.File("faster"), FinetunePretrainedLearningRateMultiplier = 1 };
        Assert.Equal(0.3, plain.PretrainedLearningRateMultiplier);
        Assert.Equal(0.3, new InterBert.Workflows.Flickr8kRecipe(plain).FinetuneJob("init.safetensors", folder.File("run")).PretrainedLearningRateMultiplier);
        Assert.Equal(1, new InterBert.Workflows.Flickr8kRecipe(faster).FinetuneJob("init.safetensors", folder.File("run")).PretrainedLearningRateMultiplier);
        Assert.NotEqual(plain.Fingerprint("finetune"), faster.Fingerprint("finetune"));
        foreach (var stage in new[] { "features", "init", "pretrain" }) Assert.Equal(plain.Fingerprint(stage), faster.Fingerprint(stage));
        // Set to pretraining's own multiplier it is the fine-tuning a folder made before the option already holds.
        Assert.Equal(plain.Fingerprint("finetune"), (plain with { FinetunePretrainedLearningRateMultiplier = 0.3 }).Fingerprint("finetune"));
    }

    [Fact]
    public void TheGridInEveryPhotoAndHiddenWrongPairRegionsAreStagesOfTheirOwn()
    {
        using var folder = new TempFolder();
        var data = Directory.CreateDirectory(folder.File("flickr8k")).FullName;
        WriteMiniature(data);
        var plain = InterBert.Workflows.Flickr8kRecipeOptions.For(data, folder.File("plain"), "en", quick: true);
        var gridded = InterBert.Workflows.Flickr8kRecipeOptions.For(data, folder.File("grid"), "en", quick: true) with { GridAlways = true };
        Assert.Equal(plain.Fingerprint("features") + " grid-always", gridded.Fingerprint("features"));
        // The grid's store has a folder of its own, so a working folder can hold both without mixing their photos.
        Assert.Equal(Path.Combine(folder.File("plain"), "features"), new InterBert.Workflows.Flickr8kRecipe(plain).Features);
        Assert.Equal(Path.Combine(folder.File("grid"), "features-grid"), new InterBert.Workflows.Flickr8kRecipe(gridded).Features);
        // Pretraining that hides wrong pairs' regions too is a pretraining of its own; the features stay.
        var hiding = plain with { MaskMismatchedRegions = true };
        Assert.Equal(plain.Fingerprint("features"), hiding.Fingerprint("features"));
        Assert.Equal(plain.Fingerprint("pretrain") + " mask-mismatched-regions", hiding.Fingerprint("pretrain"));
        // Photos at another side are features of their own, in a store of their own; an untied interaction, a model of its own.
        var larger = gridded with { InputSize = 448, OutputFolder = folder.File("larger") };
        Assert.Equal(gridded.Fingerprint("features") + " input-size=448", larger.Fingerprint("features"));
        Assert.Equal(Path.Combine(folder.File("larger"), "features-grid-448"), new InterBert.Workflows.Flickr8kRecipe(larger).Features);
        var untied = plain with { UntieInteraction = true };
        Assert.Equal(plain.Fingerprint("features"), untied.Fingerprint("features"));
        Assert.Contains(" untied-interaction", untied.Fingerprint("init"));
        Assert.DoesNotContain("untied", plain.Fingerprint("init"));
    }

    [Fact]
    public void MiniLmLayersInAnotherPresetAreAOneLineError()
    {
        using var folder = new TempFolder();
        var data = Directory.CreateDirectory(folder.File("flickr8k")).FullName;
        WriteMiniature(data);
        var (code, _, stderr) = CliProcess.Run(["benchmark", "flickr8k", "--data", data, "--lang", "zh", "--preset", "tiny", "--out", folder.File("out")]);
        Assert.Equal(2, code); // a usage error
        Assert.Equal("error: --preset tiny: MiniLM's layers fill the small preset only; add --text-init random for another preset", stderr.Trim());
        Assert.False(Directory.Exists(folder.File("out")));
    }

    [Fact]
    public void AMissingDatasetIsAOneLineError()
    {
        using var folder = new TempFolder();
        var (code, _, stderr) = CliProcess.Run(["benchmark", "flickr8k", "--data", folder.File("nowhere"), "--out", folder.File("out")]);
        Assert.Equal(1, code);
        Assert.Equal($"error: {folder.File("nowhere")}: Flickr8k folder not found", stderr.Trim());
    }
}
