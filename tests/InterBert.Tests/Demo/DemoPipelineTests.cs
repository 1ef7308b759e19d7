using System.Text.Json.Nodes;
using Xunit;

namespace InterBert.Tests.Demo;

public sealed class DemoPipelineTests
{
    private static string[] Args(string folder, string finetuneSteps) =>
    [
        "demo", "--lang", "zh", "--preset", "tiny", "--out", folder, "--images", "30", "--test-images", "6",
        "--pretrain-steps", "4", "--finetune-steps", finetuneSteps, "--threads", "2",
    ];

    [Fact]
    public void ChineseDemoRunsEveryStageWritesTheReportAndReusesFinishedStages()
    {
        using var folder = new TempFolder();
        var (code, output, error) = CliProcess.Run(Args(folder.Path, "3"));
        Assert.True(code == 0, output + error);
        Assert.Contains("report →", output);
        var report = File.ReadAllText(folder.File("report.md"));
        Assert.Contains("Chinese captions", report);
        Assert.Contains("fine-tuned after pretraining", report);
        Assert.Contains("fine-tuned without multimodal pretraining", report);
        foreach (var plot in new[] { "pretraining-losses.png", "recall.png", "top5.png" })
            Assert.True(new FileInfo(Path.Combine(folder.Path, "plots", plot)).Length > 1000, plot);
        // Each evaluation scored every test caption (one per image) against every test image, and its hard negatives.
        foreach (var name in new[] { "zero-shot", "finetuned-pretrained", "finetuned-baseline" })
        {
            var result = JsonNode.Parse(File.ReadAllText(Path.Combine(folder.Path, "eval", name + ".json")))!;
            Assert.Equal(6, result["retrieval"]!["captions"]!.GetValue<int>());
            Assert.Equal(6, result["retrieval"]!["images"]!.GetValue<int>());
            Assert.Equal(6, result["hard_negatives"]!["images"]!.GetValue<int>());
            Assert.Contains("个", result["top5"]![0]!["caption"]!.GetValue<string>());
        }
        // The search index of the test scenes was built with the fine-tuned pretrained model, and the serve command printed.
        Assert.Contains("index.json", string.Join(",", Directory.GetFiles(Path.Combine(folder.Path, "index")).Select(Path.GetFileName)));
        Assert.Contains("./interbert serve --index", output);
        // The index was built from the model folder the report names, so the library's pattern loads the two together.
        Assert.Contains($"InterBertPipeline.Load(\"{Path.Combine(folder.Path, "finetune-pretrained")}\"", report);
        using (var pipeline = InterBert.Inference.InterBertPipeline.Load(Path.Combine(folder.Path, "finetune-pretrained"), new InterBert.Inference.InterBertPipelineOptions { Index = Path.Combine(folder.Path, "index") }))
            Assert.Equal(3, pipeline.Search("一个红色的圆", top: 3).Count);
        // Masked region modeling is the paper's KL task: the scenes' objects name their shape-colour-size classes (at most
        // 40; those of these 30 scenes), which the store records and the model predicts (no feature-regression head).
        var categories = File.ReadLines(Path.Combine(folder.Path, "scenes", "objects.jsonl")).Select(l => JsonNode.Parse(l)!["category"]!.GetValue<string>()).Distinct().Order(StringComparer.Ordinal).ToList();
        Assert.InRange(categories.Count, 10, 40);
        var store = JsonNode.Parse(File.ReadAllText(Path.Combine(folder.Path, "features", "store.json")))!;
        Assert.Equal(categories.Count, store["class_count"]!.GetValue<int>());
        Assert.Equal(categories, store["class_names"]!.AsArray().Select(n => n!.GetValue<string>()));
        using (var model = InterBert.Weights.ModelCheckpoint.Load(Path.Combine(folder.Path, "init", "model.safetensors")))
        {
            Assert.Equal(categories.Count, model.Config.VTargetSize);
            Assert.False(model.Config.PredictFeature);
        }
        Assert.Contains("KL task", report);
        // The character vocabulary was learned from the Chinese captions.
        Assert.Contains("圆", File.ReadAllText(Path.Combine(folder.Path, "init", "characters.vocab.txt")));

        // A second run reuses every stage; changing only the fine-tuning reruns fine-tuning and its evaluations.
        var again = CliProcess.Run(Args(folder.Path, "3"));
        Assert.True(again.ExitCode == 0, again.Output + again.Error);
        Assert.Equal(11, again.Output.Split('\n').Count(l => l.Contains(": reused")));
        var changed = CliProcess.Run(Args(folder.Path, "2"));
        Assert.True(changed.ExitCode == 0, changed.Output + changed.Error);
        var reused = changed.Output.Split('\n').Where(l => l.Contains(": reused")).ToList();
        Assert.Equal(5, reused.Count); // scenes, features, init, pretrain, zero-shot
        Assert.Contains(reused, l => l.Contains("pretrain"));
        Assert.DoesNotContain(reused, l => l.Contains("fine-tune"));

        // The geometry bias is a new model: only the scenes and features are reused; training moves the bias from zero,
        // and the index built with it searches through the library.
        var geometry = CliProcess.Run([.. Args(folder.Path, "2"), "--geometry-bias"]);
        Assert.True(geometry.ExitCode == 0, geometry.Output + geometry.Error);
        Assert.Equal(2, geometry.Output.Split('\n').Count(l => l.Contains(": reused")));
        Assert.Contains("region pair geometry", File.ReadAllText(folder.File("report.md")));
        var finetuned = TorchSharp.PyBridge.Safetensors.LoadStateDict(Path.Combine(folder.Path, "finetune-pretrained", "model.safetensors"));
        foreach (var key in new[] { "geometry_bias.projection.weight", "v_geometry_bias.projection.weight" })
            Assert.True(finetuned[key].abs().sum().item<float>() > 0, $"{key} stayed at zero");
        using (var pipeline = InterBert.Inference.InterBertPipeline.Load(Path.Combine(folder.Path, "finetune-pretrained"), new InterBert.Inference.InterBertPipelineOptions { Index = Path.Combine(folder.Path, "index") }))
        {
            Assert.True(pipeline.Config.GeometryAttentionBias);
            Assert.Equal(3, pipeline.Search("一个红色的圆", top: 3).Count);
        }

        // The relation curriculum: the first steps on the one-way captions (fewer: one of each scene's two relation
        // captions left out), the rest from that model on all captions; the scenes and features reused (the initial
        // weights are those without the geometry bias again, so they are made anew).
        var curriculum = CliProcess.Run([.. Args(folder.Path, "2"), "--relation-curriculum", "1"]);
        Assert.True(curriculum.ExitCode == 0, curriculum.Output + curriculum.Error);
        Assert.Equal(2, curriculum.Output.Split('\n').Count(l => l.Contains(": reused")));
        JsonNode Run(string stage) => JsonNode.Parse(File.ReadAllText(Path.Combine(folder.Path, stage, "run.json")))!;
        var (oneWay, all) = (Run("pretrain-one-way"), Run("pretrain"));
        Assert.Equal((1, 3), (oneWay["training"]!["Steps"]!.GetValue<int>(), all["training"]!["Steps"]!.GetValue<int>()));
        var relationScenes = JsonNode.Parse(File.ReadAllText(Path.Combine(folder.Path, "scenes", "dataset.zh.json")))!["images"]!.AsArray()
            .Count(i => i!["split"]!.GetValue<string>() == "train" && i["hard_negatives"]!.AsArray().Count == 2);
        Assert.Equal(all["train_captions"]!.GetValue<int>() - relationScenes, oneWay["train_captions"]!.GetValue<int>());
        Assert.Contains("`--relation-curriculum`", File.ReadAllText(folder.File("report.md")));
        var wrongCurriculum = CliProcess.Run([.. Args(folder.Path, "2"), "--relation-curriculum", "4"]);
        Assert.Equal(2, wrongCurriculum.ExitCode);
        Assert.Contains("--relation-curriculum 4", wrongCurriculum.Error);

        // The grounding curriculum needs two-object training scenes: these 30 scenes have too few, a clear error.
        var tooFew = CliProcess.Run([.. Args(folder.Path, "2"), "--grounding-curriculum", "1", "--grounding-scenes", "30"]);
        Assert.Equal(1, tooFew.ExitCode);
        Assert.Contains("--grounding-curriculum:", tooFew.Error);
        Assert.DoesNotContain("   at ", tooFew.Error);

        // The grounded recipe, on 80 rendered scenes and 160 layouts: four stages on the two-object training scenes'
        // relation captions (one per scene one way, both of the pair at the end), each from the last, then pretraining
        // from the last; the pretrained model and the one fine-tuned from it judge captions with their region head, the
        // one fine-tuned without pretraining (which the grounded recipe leaves out unless asked, --baseline) does not.
        var groundedFolder = folder.File("grounded");
        string[] groundedArgs = ["demo", "--lang", "zh", "--preset", "tiny", "--out", groundedFolder, "--images", "80", "--test-images", "6", "--pretrain-steps", "2", "--finetune-steps", "2", "--threads", "2", "--grounded", "--precision", "bf16"];
        var grounded = CliProcess.Run([.. groundedArgs, "--baseline", "--grounding-curriculum", "1", "--grounding-scenes", "160"]);
        Assert.True(grounded.ExitCode == 0, grounded.Output + grounded.Error);
        Assert.Contains("[17/17]", grounded.Output);
        // The layouts are every two-object scene after the test ones, rendered or not, whose classes the rendered
        // scenes have; a rendered one's record is the extracted one's boxes, locations and classes, without features.
        using var rendered = InterBert.Data.FeatureStore.Open(Path.Combine(groundedFolder, "features"));
        using var layouts = InterBert.Data.FeatureStore.Open(Path.Combine(groundedFolder, "ground-features"));
        var classNames = rendered.Manifest.ClassNames!;
        var expected = Enumerable.Range(6, 154).Select(i => InterBert.Synthetic.SceneGenerator.Layout(1, i, "train"))
            .Where(scene => scene.Objects.Count == 2 && scene.Objects.All(o => classNames.Contains(o.Label))).Select(scene => scene.Id).ToHashSet();
        Assert.True(expected.Count(id => !rendered.Contains(id)) > 10, "layouts beyond the rendered scenes");
        Assert.Equal(expected.Order(), layouts.Ids.Order());
        Assert.Equal(rendered.Manifest.ClassNames, layouts.Manifest.ClassNames);
        foreach (var id in layouts.Ids.Where(rendered.Contains))
        {
            var (laid, extracted) = (layouts.Read(id), rendered.Read(id));
            Assert.Equal(3, laid.RegionCount);
            Assert.Equal(extracted.Boxes, laid.Boxes, (a, b) => Math.Abs(a - b) < 1e-3);
            Assert.Equal(extracted.Locations, laid.Locations, (a, b) => Math.Abs(a - b) < 1e-5);
            Assert.Equal(extracted.Classes, laid.Classes);
            Assert.All(laid.Features, v => Assert.Equal(0f, v));
        }
        var validationImages = JsonNode.Parse(File.ReadAllText(Path.Combine(groundedFolder, "scenes", "dataset.zh.json")))!["images"]!.AsArray().Count(i => i!["split"]!.GetValue<string>() == "val");
        var twoObjectTrainScenes = expected.Count(id => int.Parse(id.Split('-')[1]) >= 6 + validationImages);
        JsonNode GroundedRun(string stage) => JsonNode.Parse(File.ReadAllText(Path.Combine(groundedFolder, stage, "run.json")))!;
        Assert.Equal(twoObjectTrainScenes, GroundedRun("ground-one-way")["train_captions"]!.GetValue<int>());
        Assert.Equal(2 * twoObjectTrainScenes, GroundedRun("ground-both-ways")["train_captions"]!.GetValue<int>());
        // Grounding trains masked region modeling alone, which skips wrong-caption pairs: its steps are 16 true pairs,
        // where pretraining's are 32 with half of them wrong.
        Assert.Equal((16, 32), (GroundedRun("ground-third")["training"]!["BatchSize"]!.GetValue<int>(), GroundedRun("pretrain")["training"]!["BatchSize"]!.GetValue<int>()));
        Assert.Contains("NegativeRate = 0,", GroundedRun("ground-third")["tasks"]!.GetValue<string>());
        // Chinese grounding at 3e-4 (English's at 2e-4: GroundedRecipeTests), pretraining at its own 3e-4.
        Assert.Equal((3e-4, 3e-4), (GroundedRun("ground-one-way")["training"]!["LearningRate"]!.GetValue<double>(), GroundedRun("pretrain")["training"]!["LearningRate"]!.GetValue<double>()));
        Assert.Contains("NegativeRate = 0.5,", GroundedRun("pretrain")["tasks"]!.GetValue<string>());
        InterBert.Modeling.InterBertConfig ConfigOf(string run) => InterBert.Weights.ModelCheckpoint.ReadConfig(Path.Combine(groundedFolder, run, "model.safetensors"));
        Assert.Equal((1.0, 1.0, 0.0), (ConfigOf("pretrain").RegionJudgeWeight, ConfigOf("finetune-pretrained").RegionJudgeWeight, ConfigOf("finetune-baseline").RegionJudgeWeight));
        Assert.Equal(0.0, ConfigOf("ground-both-ways").RegionJudgeWeight);
        // The rest of the grounded recipe: boxes as sines, the geometry bias, every region hidden in half the true pairs,
        // MiniLM's layers pretrained at the full rate and fine-tuned at 0.3 times it.
        Assert.Equal((8, true), (ConfigOf("init").VLocationFrequencies, ConfigOf("init").GeometryAttentionBias));
        Assert.Contains("AllRegionsMaskedRate = 0.5", GroundedRun("pretrain")["tasks"]!.GetValue<string>());
        Assert.Equal((1.0, 0.3), (GroundedRun("pretrain")["training"]!["PretrainedLearningRateMultiplier"]!.GetValue<double>(), GroundedRun("finetune-pretrained")["training"]!["PretrainedLearningRateMultiplier"]!.GetValue<double>()));
        var groundedReport = File.ReadAllText(Path.Combine(groundedFolder, "report.md"));
        Assert.Contains("`--grounding-curriculum`", groundedReport);
        Assert.Contains("`--region-judge-weight`", groundedReport);
        Assert.Contains("| ground-two-thirds |", groundedReport);
        Assert.Contains("`--grounding-scenes`", groundedReport);

        Assert.Contains("fine-tuned without multimodal pretraining", groundedReport);

        // Other grounding scenes change the grounding stages and so everything trained after them; only the stages
        // before grounding and the baseline, which never saw it, are reused. The grounding stages' warm-up share is
        // theirs alone, and the start multiplier sets MiniLM's rate in the first stage only.
        string[] regrounding = ["--grounding-curriculum", "1", "--grounding-scenes", "120", "--grounding-warmup", "0.5", "--grounding-start-multiplier", "0.25"];
        var regrounded = CliProcess.Run([.. groundedArgs, "--baseline", .. regrounding]);
        Assert.True(regrounded.ExitCode == 0, regrounded.Output + regrounded.Error);
        double Training(string stage, string key) => GroundedRun(stage)["training"]![key]!.GetValue<double>();
        Assert.Equal((0.5, 0.5, 0.1), (Training("ground-one-way", "WarmupFraction"), Training("ground-both-ways", "WarmupFraction"), Training("pretrain", "WarmupFraction")));
        Assert.Equal((0.25, 1.0, 1.0), (Training("ground-one-way", "PretrainedLearningRateMultiplier"), Training("ground-third", "PretrainedLearningRateMultiplier"), Training("ground-both-ways", "PretrainedLearningRateMultiplier")));
        var reusedAfterRegrounding = regrounded.Output.Split('\n').Where(l => l.Contains(": reused")).ToList();
        Assert.Equal(5, reusedAfterRegrounding.Count);
        Assert.Contains(reusedAfterRegrounding, l => l.Contains("without multimodal pretraining"));
        Assert.DoesNotContain(reusedAfterRegrounding, l => l.Contains("pretrain ") || l.Contains("zero-shot"));

        // The grounded recipe as given: every stage reused, the baseline's two not run, and its earlier results,
        // still in the folder, not reported as this run's.
        var withoutBaseline = CliProcess.Run([.. groundedArgs, .. regrounding]);
        Assert.True(withoutBaseline.ExitCode == 0, withoutBaseline.Output + withoutBaseline.Error);
        Assert.Contains("[15/15]", withoutBaseline.Output);
        Assert.DoesNotContain("without multimodal pretraining", withoutBaseline.Output);
        Assert.Equal(14, withoutBaseline.Output.Split('\n').Count(l => l.Contains(": reused")));
        Assert.True(File.Exists(Path.Combine(groundedFolder, "eval", "finetuned-baseline.json")));
        var reportWithoutBaseline = File.ReadAllText(Path.Combine(groundedFolder, "report.md"));
        Assert.DoesNotContain("fine-tuned without multimodal pretraining", reportWithoutBaseline);
        Assert.DoesNotContain("| finetune-baseline |", reportWithoutBaseline);
        Assert.Contains("`--baseline` adds it", reportWithoutBaseline);
    }
}
