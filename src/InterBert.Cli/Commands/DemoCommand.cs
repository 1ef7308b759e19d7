using System.CommandLine;
using InterBert.Workflows;
using Spectre.Console;

namespace InterBert.Cli.Commands;

/// <summary>
/// The <c>demo</c> verb: InterBERT end to end on synthetic scenes (render, extract features, pretrain, evaluate
/// zero-shot, fine-tune with and without pretraining, evaluate, report), with no data to download.
/// </summary>
public static class DemoCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var language = new Option<string>("--lang") { Description = "caption language: en (MiniLM weights) or zh (character vocabulary)", DefaultValueFactory = _ => "en" };
        var output = new Option<string?>("--out") { Description = "working folder (default: demo-output/LANG); rerunning reuses finished stages" };
        var images = new Option<int?>("--images") { Description = "scenes to render" };
        var test = new Option<int?>("--test-images") { Description = "scenes in the test split (test-images² pairs are scored per evaluation)" };
        var pretrainSteps = new Option<int?>("--pretrain-steps") { Description = "pretraining steps" };
        var finetuneSteps = new Option<int?>("--finetune-steps") { Description = "fine-tuning steps of each fine-tuned model" };
        var preset = new Option<string?>("--preset") { Description = "model preset (zh only; English needs small, the shape of MiniLM)" };
        var precision = new Option<string?>("--precision") { Description = $"arithmetic of training, evaluation and indexing: bf16 ({DemoRecipeOptions.Bf16PretrainSteps} pretraining and {DemoRecipeOptions.Bf16FinetuneSteps} fine-tuning steps) or fp32 ({DemoRecipeOptions.Fp32PretrainSteps} and {DemoRecipeOptions.Fp32FinetuneSteps}, in about the same time on a CPU that multiplies bf16 natively); default: bf16 where the CPU does (AVX-512 BF16, AMX or Arm BF16), fp32 otherwise" };
        var grounded = new Option<bool>("--grounded")
        {
            Description = $"the grounded recipe (bf16, about 15 minutes): four {DemoRecipeOptions.GroundedGroundingSteps}-step grounding stages ({DemoRecipeOptions.GroundedChineseGroundingSteps} in Chinese) of {DemoRecipeOptions.GroundedGroundingBatch} true pairs at {DemoRecipeOptions.GroundedGroundingLearningRate:0e0} ({DemoRecipeOptions.GroundedChineseGroundingLearningRate:0e0} in Chinese) on {DemoRecipeOptions.DefaultGroundingScenes} scene layouts, box sines, the geometry bias, every region hidden in half the true pairs, {DemoRecipeOptions.GroundedPretrainSteps} pretraining steps with MiniLM's layers at the full rate, the region head judging captions, fine-tuning MiniLM's layers at 0.3 times the rate, no model fine-tuned without pretraining; the options below change any of it",
        };
        var wholeImage = CommandLine.WholeImageRegionOption();
        var geometryBias = CommandLine.GeometryBiasOption();
        geometryBias.Description = "the model's attention among regions gets a learned bias from each pair's relative geometry (default off; on with --grounded, --geometry-bias false turns it off)";
        var locationFrequencies = CommandLine.LocationFrequenciesOption();
        var pretrainedMultiplier = new Option<double?>("--pretrained-lr-multiplier") { Description = $"pretraining's learning-rate multiplier of MiniLM's weights (default {DemoRecipeOptions.DefaultPretrainedLearningRateMultiplier}; 1 with --grounded)" };
        pretrainedMultiplier.Validators.Add(result =>
        {
            if (result.GetValue(pretrainedMultiplier) is <= 0 or > 10) result.AddError($"--pretrained-lr-multiplier {result.GetValue(pretrainedMultiplier)}: a multiplier above 0, at most 10");
        });
        var textInit = new Option<string?>("--text-init") { Description = "zh only: random (the whole text path random, the default) minilm (MiniLM's layers with the learned character vocabulary transplanted; preset small) or minilm-aligned (the same, and each character that the scenes' English captions align to an English token starts from that token's embedding; the default with --grounded)" };
        textInit.AcceptOnlyFromAmong("minilm", "minilm-aligned", "random");
        var ownNegativeRate = new Option<double?>("--own-negative-rate") { Description = $"share of the wrong captions, in pretraining's matching and fine-tuning, that are the scene's own hard negatives (default {new DemoRecipeOptions().OwnNegativeRate})" };
        var ownNegatives = CommandLine.OwnNegativeKindOption();
        var allRegionsMasked = CommandLine.AllRegionsMaskedOption();
        var conditionalMasking = new Option<bool>("--conditional-masking") { Description = "the pretraining pairs whose every region is masked (--mask-all-regions) keep their caption whole, so that naming the regions can read every word (UNITER's conditional masking)" };
        var mirroredTwins = new Option<bool>("--mirrored-twins") { Description = "each training scene with a relation caption also trains as its mirror image, whose relation captions are the scene's with their objects swapped (the same text true of one image, false of the other)" };
        var groundingCurriculum = new Option<int>("--grounding-curriculum")
        {
            Description = $"before pretraining, this many steps in each of four stages of masked region modeling alone, every region hidden, on the two-object scenes' relation captions: one way, then a third, two thirds and all of the scenes both ways (0, the default: none; {DemoRecipeOptions.GroundedGroundingSteps} with --grounded, {DemoRecipeOptions.GroundedChineseGroundingSteps} in Chinese)",
        };
        var groundingScenes = new Option<int?>("--grounding-scenes")
        {
            Description = $"scene layouts the grounding curriculum draws its two-object scenes from (default {DemoRecipeOptions.DefaultGroundingScenes}, at least --images); those beyond --images are laid out but not rendered, since grounding hides every region's features",
        };
        groundingScenes.Validators.Add(result =>
        {
            if (result.GetValue(groundingScenes) is < 1) result.AddError($"--grounding-scenes {result.GetValue(groundingScenes)}: a number of scenes, 1 or more");
        });
        var groundingBatch = new Option<int?>("--grounding-batch")
        {
            Description = $"pairs per grounding step, every one a true pair (0, the default: the pretraining's batch with its share of wrong captions, which grounding skips; {DemoRecipeOptions.GroundedGroundingBatch} with --grounded: about as many true pairs in half the compute)",
        };
        groundingBatch.Validators.Add(result =>
        {
            if (result.GetValue(groundingBatch) is < 0) result.AddError($"--grounding-batch {result.GetValue(groundingBatch)}: a number of pairs, or 0 for the pretraining's batch");
        });
        var baseline = new Option<bool>("--baseline")
        {
            Description = "also fine-tune and evaluate the model without multimodal pretraining, for the report's comparison (on by default; off with --grounded, where --baseline turns it on)",
        };
        var groundingRate = new Option<double?>("--grounding-lr") { Description = $"peak learning rate of the grounding stages (default: the pretraining's, 3e-4; {DemoRecipeOptions.GroundedGroundingLearningRate:0e0} with --grounded, {DemoRecipeOptions.GroundedChineseGroundingLearningRate:0e0} in Chinese)" };
        var groundingWarmup = new Option<double?>("--grounding-warmup") { Description = "share of each grounding stage's steps spent warming up to its peak rate (default 0.1)" };
        groundingWarmup.Validators.Add(result =>
        {
            if (result.GetValue(groundingWarmup) is { } share && !(share >= 0 && share < 1)) result.AddError($"--grounding-warmup {share}: a share of the steps, from 0 to below 1");
        });
        var groundingStart = new Option<double?>("--grounding-start-multiplier") { Description = "learning-rate multiplier of MiniLM's weights in the first grounding stage only (default 1: the full rate, as in the later stages)" };
        groundingStart.Validators.Add(result =>
        {
            if (result.GetValue(groundingStart) is { } multiplier && !(multiplier >= 0 && multiplier <= 1)) result.AddError($"--grounding-start-multiplier {multiplier}: a multiplier from 0 to 1");
        });
        var seed = new Option<int?>("--seed") { Description = "seed of the scenes, the initialisation and every training stage (default 1): another seed measures how much a result owes to the run" };
        var judge = CommandLine.RegionJudgeWeightOption();
        judge.Description = "the pretrained model and the one fine-tuned from it add their region head's judgement of each caption at this weight (0, the default: off; 1 with --grounded)";
        var finetuneMultiplier = new Option<double?>("--finetune-pretrained-lr-multiplier") { Description = "fine-tuning's learning-rate multiplier of MiniLM's weights (default 1; 0.3 with --grounded, which keeps a grounded model's binding that the region judge reads)" };
        var relationCurriculum = new Option<int>("--relation-curriculum") { Description = "pretrain the first this many steps on the scenes with every relation stated one way (left, above), then the rest on all captions; 0: none" };
        var command = new Command("demo", "Run InterBERT end to end on synthetic scenes and write a report (10 minutes in English, 13 in Chinese, measured on 2 cores; --grounded about 15)")
        {
            language, output, grounded, images, test, pretrainSteps, finetuneSteps, preset, precision, wholeImage, geometryBias, locationFrequencies, pretrainedMultiplier, textInit, ownNegativeRate, ownNegatives, mirroredTwins, allRegionsMasked, conditionalMasking, relationCurriculum, groundingCurriculum, groundingScenes, groundingBatch, judge, finetuneMultiplier, baseline, seed, groundingRate, groundingWarmup, groundingStart,
        };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            // The grounded recipe runs in bf16 only: where the CPU would emulate it, it must be asked for (checked after the other options).
            var groundedEmulated = parse.GetValue(grounded) && parse.GetValue(precision) is null && !InterBert.Modeling.Bf16Support.IsNative;
            var chosenPrecision = groundedEmulated ? InterBert.Modeling.Precision.Bf16 : CommandLine.Precision(parse.GetValue(precision) ?? InterBert.Modeling.PrecisionNames.AutoName);
            var settings = DemoRecipeOptions.For(parse.GetValue(language)!, chosenPrecision);
            if (parse.GetValue(preset) is { } presetName)
            {
                if (settings.Language == "en" && presetName != "small") throw new ArgumentException("demo --lang en uses MiniLM's weights, which fill the small preset only");
                settings = settings with { Preset = presetName };
            }
            // After the preset: the grounded recipe starts Chinese from MiniLM's layers only where they fit.
            if (parse.GetValue(grounded)) settings = DemoRecipeOptions.Grounded(settings);
            settings = settings with
            {
                Images = parse.GetValue(images) ?? settings.Images,
                Seed = parse.GetValue(seed) ?? settings.Seed,
                TestImages = parse.GetValue(test) ?? settings.TestImages,
                PretrainSteps = parse.GetValue(pretrainSteps) ?? settings.PretrainSteps,
                FinetuneSteps = parse.GetValue(finetuneSteps) ?? settings.FinetuneSteps,
                WholeImageRegion = CommandLine.WholeImageRegion(parse, wholeImage) ?? settings.WholeImageRegion,
                GeometryBias = Given(parse, geometryBias, settings.GeometryBias),
                LocationFrequencies = Given(parse, locationFrequencies, settings.LocationFrequencies),
                PretrainedLearningRateMultiplier = parse.GetValue(pretrainedMultiplier) ?? settings.PretrainedLearningRateMultiplier,
                OwnNegativeKind = CommandLine.OwnNegativeKind(parse, ownNegatives),
                MirroredTwins = parse.GetValue(mirroredTwins),
                AllRegionsMaskedRate = Given(parse, allRegionsMasked, settings.AllRegionsMaskedRate), ConditionalMasking = parse.GetValue(conditionalMasking),
                RelationCurriculumSteps = parse.GetValue(relationCurriculum),
                GroundingCurriculumSteps = Given(parse, groundingCurriculum, settings.GroundingCurriculumSteps),
                GroundingBatch = parse.GetValue(groundingBatch) ?? settings.GroundingBatch, GroundingLearningRate = parse.GetValue(groundingRate) ?? settings.GroundingLearningRate,
                GroundingWarmupFraction = parse.GetValue(groundingWarmup) ?? settings.GroundingWarmupFraction,
                GroundingFirstStagePretrainedMultiplier = parse.GetValue(groundingStart) ?? settings.GroundingFirstStagePretrainedMultiplier, Baseline = Given(parse, baseline, settings.Baseline),
                GroundingScenes = parse.GetValue(groundingScenes) ?? settings.GroundingScenes, RegionJudgeWeight = parse.GetValue(judge) ?? settings.RegionJudgeWeight,
                FinetunePretrainedLearningRateMultiplier = parse.GetValue(finetuneMultiplier) ?? settings.FinetunePretrainedLearningRateMultiplier,
            };
            if (settings.ConditionalMasking && settings.AllRegionsMaskedRate <= 0)
                throw new ArgumentException("--conditional-masking keeps the caption whole on the pairs whose every region is masked: add --mask-all-regions (for example 0.5; --grounded has it)");
            if (parse.GetValue(ownNegativeRate) is { } rate)
            {
                if (rate is < 0 or > 1) throw new ArgumentException($"--own-negative-rate {rate}: a share from 0 to 1");
                settings = settings with { OwnNegativeRate = rate, FinetuneOwnNegativeRate = rate };
            }
            if (parse.GetValue(textInit) is { } init)
            {
                if (settings.Language != "zh") throw new ArgumentException($"--text-init {init}: --lang {settings.Language} always starts from MiniLM's weights and vocabulary");
                if (init != "random" && settings.Preset != "small") throw new ArgumentException($"--text-init {init}: MiniLM's layers fill the small preset only, not {settings.Preset}");
                settings = settings with { ChineseLayersFromMiniLm = init != "random", AlignedCharacters = init == "minilm-aligned" };
            }
            if (settings.TestImages < 5 || settings.TestImages + settings.ValidationImages + 3 > settings.Images)
                throw new ArgumentException($"demo: {settings.TestImages} test images need at least {settings.TestImages + settings.ValidationImages + 3} scenes (and at least 5 test images)");
            DemoRecipe.CheckSettings(settings);
            if (groundedEmulated)
                throw new ArgumentException($"--grounded runs in bf16, and {InterBert.Modeling.Bf16Support.SlowWarning}: it would take many times its 15 minutes here; give --precision bf16 to run it anyway");
            var folder = parse.GetValue(output) ?? Path.Combine("demo-output", settings.Language);
            Console.WriteLine($"demo: {(settings.Language == "en" ? "English" : "Chinese")} captions, working folder {Path.GetFullPath(folder)}");
            var pipeline = new DemoRecipe(folder, settings with { Threads = Math.Max(1, parse.GetValue(CommandLine.ThreadsOption)) }, new ConsoleWorkflowHost());
            if (!pipeline.Run()) return 130;
            var results = pipeline.Results();
            var table = new Table().AddColumn("model").AddColumn("t→i R@1").AddColumn("R@5").AddColumn("R@10").AddColumn("i→t R@1").AddColumn("attribute neg. below").AddColumn("relation neg. below");
            foreach (var (key, label) in new[] { ("zero-shot", "pretrained, zero-shot"), ("finetuned-baseline", "fine-tuned, no pretraining"), ("finetuned-pretrained", "fine-tuned after pretraining") })
            {
                if (!results.TryGetValue(key, out var r)) continue;
                table.AddRow(label, $"{r.Retrieval.TextToImage.R1:F1}", $"{r.Retrieval.TextToImage.R5:F1}", $"{r.Retrieval.TextToImage.R10:F1}", $"{r.Retrieval.ImageToText.R1:F1}",
                    $"{r.HardNegatives.AttributeBelowTrue:F0}%", $"{r.HardNegatives.RelationBelowTrue:F0}%");
            }
            AnsiConsole.Write(table);
            Console.WriteLine($"demo: report → {Path.GetFullPath(pipeline.ReportPath)}");
            Console.WriteLine($"demo: search the test scenes in a browser: ./interbert serve --index {pipeline.IndexFolder}");
            return 0;
        }));
        return command;
    }

    // An option the command line gave, else the recipe's value (a flag without a value given is implicit, not false).
    private static T Given<T>(ParseResult parse, Option<T> option, T recipe) => parse.GetResult(option) is { Implicit: false } ? parse.GetValue(option)! : recipe;
}
