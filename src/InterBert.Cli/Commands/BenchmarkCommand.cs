using System.CommandLine;
using InterBert.Modeling;
using InterBert.Workflows;
using Spectre.Console;

namespace InterBert.Cli.Commands;

/// <summary>
/// The <c>benchmark</c> verb: recipes on standard datasets, end to end, with a report beside published results
/// (<c>benchmark flickr8k</c>). Throughput measurements are <c>bench</c>.
/// </summary>
public static class BenchmarkCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "the Flickr8k folder as distributed: Flickr8k.token.txt, Flickr_8k.{train,dev,test}Images.txt, Flicker8k_Dataset/ (and flickr8kzhc.caption.txt for --lang zh and en+zh)", Required = true };
        var language = new Option<string>("--lang") { Description = "captions: en (Flickr8k, MiniLM weights), zh (Flickr8K-CN, learned vocabulary) or en+zh (one model for both: MiniLM's vocabulary extended by the Chinese characters)", DefaultValueFactory = _ => "en" };
        var output = new Option<string>("--out") { Description = "working folder: features/ (shared by both languages) and LANG/ with the runs and report.md; rerunning reuses finished stages", DefaultValueFactory = _ => "flickr8k-output" };
        var quick = new Option<bool>("--quick") { Description = $"fewer steps ({Flickr8kRecipeOptions.QuickPretrainSteps} pretraining, {Flickr8kRecipeOptions.QuickFinetuneSteps} fine-tuning instead of {Flickr8kRecipeOptions.FullPretrainSteps} and {Flickr8kRecipeOptions.FullFinetuneSteps}; twice each for en+zh); the same stages and test protocol" };
        var detector = new Option<string?>("--detector") { Description = "YOLOX ONNX model (yolox_nano.onnx) for the region boxes; needed until the features are extracted" };
        var candidates = new Option<int?>("--candidates") { Description = "test photos re-scored by the cross-modal model per caption (two-stage evaluation)" };
        var pretrainSteps = new Option<int?>("--pretrain-steps") { Description = "pretraining steps (overrides the recipe's)" };
        var finetuneSteps = new Option<int?>("--finetune-steps") { Description = "fine-tuning steps of each fine-tuned model (overrides the recipe's)" };
        var preset = new Option<string?>("--preset") { Description = "model preset (zh only; English needs small, the shape of MiniLM)" };
        var textInit = new Option<string>("--text-init")
        {
            Description = "zh only: minilm (MiniLM's layers, the learned Chinese vocabulary transplanted) or random (the whole text path random)", DefaultValueFactory = _ => "minilm",
        };
        textInit.AcceptOnlyFromAmong("minilm", "random");
        var wholeImage = CommandLine.WholeImageRegionOption();
        var geometryBias = CommandLine.GeometryBiasOption();
        var locationFrequencies = CommandLine.LocationFrequenciesOption();
        var negatives = new Option<string>("--negatives")
        {
            Description = "fine-tuning's wrong images and captions: similarity (drawn within the contrastive batch in proportion to the contrastive similarity, ALBEF's) or random", DefaultValueFactory = _ => "similarity",
        };
        negatives.AcceptOnlyFromAmong("random", "similarity");
        var pretrainNegatives = new Option<string>("--pretrain-negatives")
        {
            Description = "pretraining's wrong captions (ITM): random (a fifth from the TF-IDF pool), or similarity (drawn within the batch in proportion to the contrastive similarity, ALBEF's)", DefaultValueFactory = _ => "random",
        };
        pretrainNegatives.AcceptOnlyFromAmong("random", "similarity");
        var contrastiveBatch = new Option<int>("--contrastive-batch-size")
        {
            Description = "captions in fine-tuning's contrastive loss per step: the examples plus random other training captions (0: the examples alone)", DefaultValueFactory = _ => Flickr8kRecipeOptions.DefaultContrastiveBatch,
        }.AtLeast(0);
        var pretrainContrastiveBatch = new Option<int>("--pretrain-contrastive-batch-size")
        {
            Description = "captions in pretraining's contrastive loss per step: the examples plus random other training captions (pretrain --contrastive-batch-size; 0: the examples alone)",
        }.AtLeast(0);
        var finetuneMultiplier = new Option<double?>("--finetune-pretrained-lr-multiplier")
        {
            Description = "fine-tuning's learning-rate multiplier for the weights that came pretrained (MiniLM's and pretraining's) (default: pretraining's, 0.3)",
        };
        var wordRegionWeight = new Option<double>("--word-region-weight")
        {
            Description = "weight of fine-tuning's word-region matching loss over the contrastive batch (finetune --word-region-weight; 0: off)", DefaultValueFactory = _ => Flickr8kRecipeOptions.DefaultWordRegionWeight,
        };
        var pairScore = new Option<string>("--pair-score")
        {
            Description = "how fine-tuning's joint pass scores a pair (finetune --pair-score): head (a linear head, the paper's) or joint-cosine (the cosine of the joint pass's own vectors)", DefaultValueFactory = _ => Flickr8kRecipeOptions.DefaultPairScore,
        };
        pairScore.AcceptOnlyFromAmong("head", InterBertConfig.JointCosineScore);
        var gridAlways = new Option<bool>("--grid-always")
        {
            Description = "every photo's regions: the whole photo, its YOLOX boxes and a 3x3 grid of cells (features --grid-always; a store of its own, features-grid/); false: the grid only where nothing is detected (features/, the recipe before it)",
            DefaultValueFactory = _ => true,
        };
        var untie = new Option<bool>("--untie-interaction")
        {
            Description = "the new model's joint pass over [image ; text] gets its own copy of the single-stream layers, from pretraining on (finetune --untie-interaction); the search vectors keep the originals",
        };
        var inputSize = new Option<int?>("--input-size")
        {
            Description = $"side in pixels each photo is resized to for ResNet-18 (features --input-size; other than 224, a store of its own, features-grid-SIZE/); default {Flickr8kRecipeOptions.FullInputSize}, and 224 with --quick, whose 40 minutes leave no room for the longer extraction",
        };
        var maskMismatched = new Option<bool>("--mask-mismatched-regions")
        {
            Description = "pretraining hides the regions of the pairs with a wrong caption as of the matched ones (pretrain --mask-mismatched-regions), so that matching cannot answer from a hidden region alone; false: matched pairs' only (the paper's, the recipe before it)",
            DefaultValueFactory = _ => true,
        };
        var baseline = new Option<bool>("--baseline") { Description = "also fine-tune and evaluate without multimodal pretraining (two stages more, a row more in the report)" };
        var precisionOption = CommandLine.RecipePrecisionOption("training, evaluation and indexing");
        var flickr = new Command("flickr8k", "Flickr8k (English), Flickr8K-CN (Chinese) or both with one model, end to end on the standard split: features, pretraining, zero-shot, fine-tuning (and without pretraining with --baseline), two-stage test evaluation, index, relevance calibration, report")
        {
            data, language, output, quick, detector, candidates, pretrainSteps, finetuneSteps, preset, textInit, wholeImage, geometryBias, locationFrequencies, negatives, pretrainNegatives, contrastiveBatch, pretrainContrastiveBatch, finetuneMultiplier, wordRegionWeight, pairScore, gridAlways, inputSize, untie, maskMismatched, baseline, precisionOption,
        };
        flickr.SetAction(CommandLine.Guarded(parse =>
        {
            var options = Flickr8kRecipeOptions.For(parse.GetValue(data)!, parse.GetValue(output)!, parse.GetValue(language)!, parse.GetValue(quick));
            options = options with
            {
                DetectorPath = parse.GetValue(detector),
                SimilarityNegatives = parse.GetValue(negatives) == "similarity",
                ContrastiveBatch = parse.GetValue(contrastiveBatch),
                PretrainContrastiveBatch = parse.GetValue(pretrainContrastiveBatch),
                FinetunePretrainedLearningRateMultiplier = parse.GetValue(finetuneMultiplier) is { } multiplier ? (multiplier >= 0 && double.IsFinite(multiplier) ? multiplier : throw new ArgumentException($"--finetune-pretrained-lr-multiplier {multiplier}: expected a number, 0 or more")) : null,
                PairScore = parse.GetValue(pairScore)!,
                WordRegionWeight = parse.GetValue(wordRegionWeight) is var w && w >= 0 && double.IsFinite(w) ? w : throw new ArgumentException($"--word-region-weight {parse.GetValue(wordRegionWeight)}: expected a number, 0 or more"),
                GeometryBias = parse.GetValue(geometryBias),
                UntieInteraction = parse.GetValue(untie),
                LocationFrequencies = parse.GetValue(locationFrequencies),
                PretrainSimilarityNegatives = parse.GetValue(pretrainNegatives) == "similarity",
                Baseline = parse.GetValue(baseline),
                GridAlways = parse.GetValue(gridAlways),
                InputSize = parse.GetValue(inputSize) ?? (parse.GetValue(quick) ? InterBert.Data.RegionSource.DefaultInputSize : Flickr8kRecipeOptions.FullInputSize),
                MaskMismatchedRegions = parse.GetValue(maskMismatched),
                Precision = CommandLine.Precision(parse, precisionOption),
                Threads = parse.GetValue(CommandLine.ThreadsOption),
                Candidates = parse.GetValue(candidates) is { } k ? (k > 0 ? k : throw new ArgumentException($"--candidates {k}: expected a positive number of photos")) : options.Candidates,
                PretrainSteps = parse.GetValue(pretrainSteps) is { } p ? (p > 0 ? p : throw new ArgumentException($"--pretrain-steps {p}: expected a positive number")) : options.PretrainSteps,
                FinetuneSteps = parse.GetValue(finetuneSteps) is { } f ? (f > 0 ? f : throw new ArgumentException($"--finetune-steps {f}: expected a positive number")) : options.FinetuneSteps,
            };
            var fromMiniLm = parse.GetValue(textInit) == "minilm";
            if (options.Language != "zh" && !fromMiniLm) throw new ArgumentException($"--text-init random: --lang {options.Language} always starts from MiniLM's weights and vocabulary");
            options = options with { ChineseLayersFromMiniLm = fromMiniLm, WholeImageRegion = CommandLine.WholeImageRegion(parse, wholeImage) ?? options.WholeImageRegion };
            if (parse.GetValue(preset) is { } presetName)
            {
                if (fromMiniLm && presetName != "small")
                    throw new ArgumentException($"--preset {presetName}: MiniLM's layers fill the small preset only{(options.Language == "zh" ? "; add --text-init random for another preset" : "")}");
                options = options with { Preset = presetName };
            }
            var recipe = new Flickr8kRecipe(options, new ConsoleWorkflowHost());
            Console.WriteLine($"benchmark flickr8k: {options.Language switch { "en" => "English", "zh" => "Chinese", _ => "English and Chinese" }} captions{(options.Quick ? ", quick recipe" : "")}, working folder {Path.GetFullPath(Path.Combine(options.OutputFolder, options.Language))}");
            if (!recipe.Run()) return 130;
            var table = new Table().AddColumn("model").AddColumn("t→i R@1").AddColumn("R@5").AddColumn("R@10").AddColumn("i→t R@1").AddColumn("R@5").AddColumn("R@10");
            var results = recipe.Results();
            foreach (var (suffix, _) in recipe.EvaluationDatasets)
            foreach (var (key, model) in new[] { ("zero-shot", "pretrained, zero-shot"), ("finetuned-baseline", "fine-tuned, no pretraining"), ("finetuned-pretrained", "fine-tuned after pretraining") })
            {
                if (!results.TryGetValue(key + suffix, out var r)) continue;
                var label = model + (suffix.Length > 0 ? $" ({suffix[1..]})" : "");
                var m = r.Retrieval;
                table.AddRow(label, $"{m.TextToImage.R1:F1}", $"{m.TextToImage.R5:F1}", $"{m.TextToImage.R10:F1}", $"{m.ImageToText.R1:F1}", $"{m.ImageToText.R5:F1}", $"{m.ImageToText.R10:F1}");
            }
            AnsiConsole.Write(table);
            Console.WriteLine($"benchmark flickr8k: report → {Path.GetFullPath(recipe.ReportPath)}");
            Console.WriteLine($"benchmark flickr8k: search the test photos in a browser: ./interbert serve --index {recipe.IndexFolder}");
            return 0;
        }));
        return new Command("benchmark", "Recipes on standard datasets with a report beside published results (throughput is 'bench')") { flickr, Ablations(), Sst2() };
    }

    private static Command Ablations()
    {
        var data = new Option<string>("--data") { Description = "the Flickr8k folder as distributed (see 'benchmark flickr8k')", Required = true };
        var language = new Option<string>("--lang") { Description = "captions: en or zh", DefaultValueFactory = _ => "en" };
        language.AcceptOnlyFromAmong("en", "zh");
        var output = new Option<string>("--out") { Description = "the Flickr8k recipe's working folder: its stages are reused; the rows go to LANG/ablations/ with report.md", DefaultValueFactory = _ => "flickr8k-output" };
        var quick = new Option<bool>("--quick") { Description = "the quick recipe's steps for every row" };
        var detector = new Option<string?>("--detector") { Description = "YOLOX ONNX model (yolox_nano.onnx); needed until the features are extracted" };
        var rowsOption = new Option<string>("--rows")
        {
            Description = $"rows to run, comma-separated: {string.Join(", ", PretrainingVariant.All.Select(v => v.Name))}", DefaultValueFactory = _ => string.Join(',', PretrainingVariant.All.Select(v => v.Name)),
        };
        var seeds = new Option<int>("--seeds") { Description = "seeds per row (the recipe's seed and the next ones; mean and spread in the report)", DefaultValueFactory = _ => 1 };
        var pretrainSteps = new Option<int?>("--pretrain-steps") { Description = "pretraining steps of every row (overrides the recipe's)" };
        var finetuneSteps = new Option<int?>("--finetune-steps") { Description = "fine-tuning steps of every row (overrides the recipe's)" };
        var precisionOption = CommandLine.RecipePrecisionOption("training and evaluation");
        var command = new Command("ablations", "The paper's claims on Flickr8k: the recipe with MLM instead of MSM, without MRM, MRM without grouping or as regression, without ITM, single-stream or two-stream only, and without pretraining; the same fine-tuning and test evaluation for each; report")
        {
            data, language, output, quick, detector, rowsOption, seeds, pretrainSteps, finetuneSteps, precisionOption,
        };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            var options = Flickr8kRecipeOptions.For(parse.GetValue(data)!, parse.GetValue(output)!, parse.GetValue(language)!, parse.GetValue(quick));
            options = options with
            {
                DetectorPath = parse.GetValue(detector), Precision = CommandLine.Precision(parse, precisionOption), Threads = parse.GetValue(CommandLine.ThreadsOption),
                // The rows compare pretraining variants under the fine-tuning their table was measured with: random wrong
                // pairs and the contrastive loss over the step's examples alone.
                SimilarityNegatives = false, ContrastiveBatch = 0,
                PretrainSteps = parse.GetValue(pretrainSteps) is { } p ? (p > 0 ? p : throw new ArgumentException($"--pretrain-steps {p}: expected a positive number")) : options.PretrainSteps,
                FinetuneSteps = parse.GetValue(finetuneSteps) is { } f ? (f > 0 ? f : throw new ArgumentException($"--finetune-steps {f}: expected a positive number")) : options.FinetuneSteps,
            };
            var rows = parse.GetValue(rowsOption)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(PretrainingVariant.Named).Distinct().ToList();
            var ablations = new Flickr8kAblations(options, rows, parse.GetValue(seeds), new ConsoleWorkflowHost());
            Console.WriteLine($"benchmark ablations: {rows.Count} rows x {parse.GetValue(seeds)} seeds, working folder {Path.GetFullPath(ablations.Folder)}");
            if (!ablations.Run()) return 130;
            foreach (var group in ablations.Results().GroupBy(r => r.Row))
            {
                var (mean, spread) = Sst2Benchmark.MeanAndSpread([.. group.Select(r => Flickr8kAblations.RecallSum(r.Finetuned))]);
                var r1 = group.Average(r => r.Finetuned.TextToImage.R1);
                Console.WriteLine($"benchmark ablations: {group.Key}: fine-tuned text→image R@1 {r1:F1}, RSUM {mean:F1}{(group.Count() > 1 ? $" ± {spread:F1}" : "")} ({group.Count()} seeds)");
            }
            Console.WriteLine($"benchmark ablations: report → {Path.GetFullPath(ablations.ReportPath)}");
            return 0;
        }));
        return command;
    }

    private static Command Sst2()
    {
        var data = new Option<string>("--data") { Description = "GLUE's SST-2 folder: train.tsv and dev.tsv (sentence, tab, label 0 or 1, a header line)", Required = true };
        var output = new Option<string>("--out") { Description = "working folder: the checked data, a run folder per variant and seed, report.md; rerunning reuses finished runs", DefaultValueFactory = _ => "sst2-output" };
        var pretrained = new Option<string?>("--pretrained") { Description = "an InterBERT model (folder or weights) whose text path is fine-tuned as MiniLM's is, e.g. flickr8k-output/en/pretrain" };
        var singleStream = new Option<string?>("--single-stream") { Description = "the single-stream-only ablation's pretrained model, fine-tuned the same way, e.g. flickr8k-output/en/ablations/single-stream-seed1/pretrain" };
        var seeds = new Option<int>("--seeds") { Description = "seeds per variant (mean and spread in the report)", DefaultValueFactory = _ => 3 };
        var steps = new Option<int>("--steps") { Description = "fine-tuning steps of each run", DefaultValueFactory = _ => 1000 };
        var batch = new Option<int>("--batch-size") { Description = "sentences per step", DefaultValueFactory = _ => 32 };
        var rate = new Option<double>("--lr") { Description = "peak learning rate", DefaultValueFactory = _ => 5e-5 };
        var skipBad = new Option<bool>("--skip-bad") { Description = "skip (and count) bad lines of the TSV files instead of stopping at the first" };
        var precisionOption = CommandLine.RecipePrecisionOption("fine-tuning and evaluation");
        var command = new Command("sst2", "GLUE SST-2 through the text-only path: MiniLM as it ships against an InterBERT model's text path, the same fine-tuning and seeds for each, accuracy on the dev set, report")
        {
            data, output, pretrained, singleStream, seeds, steps, batch, rate, skipBad, precisionOption,
        };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            var options = new Sst2BenchmarkOptions
            {
                DataFolder = parse.GetValue(data)!, OutputFolder = parse.GetValue(output)!, Pretrained = parse.GetValue(pretrained), SingleStream = parse.GetValue(singleStream), Seeds = parse.GetValue(seeds),
                Steps = parse.GetValue(steps), BatchSize = parse.GetValue(batch) is var b && b > 0 ? b : throw new ArgumentException($"--batch-size {b}: expected a positive number"),
                LearningRate = parse.GetValue(rate) is var r && r > 0 ? r : throw new ArgumentException($"--lr {r}: expected a positive rate"),
                SkipBad = parse.GetValue(skipBad), Precision = CommandLine.Precision(parse, precisionOption),
            };
            var benchmark = new Sst2Benchmark(options, new ConsoleWorkflowHost());
            Console.WriteLine($"benchmark sst2: working folder {Path.GetFullPath(options.OutputFolder)}");
            if (!benchmark.Run()) return 130;
            foreach (var group in benchmark.Results().GroupBy(r => r.Variant))
            {
                var (mean, spread) = Sst2Benchmark.MeanAndSpread([.. group.Select(r => r.Accuracy)]);
                Console.WriteLine($"benchmark sst2: {group.Key}: dev accuracy {mean:F1} ± {spread:F1} ({group.Count()} seeds)");
            }
            Console.WriteLine($"benchmark sst2: report → {benchmark.ReportPath}");
            return 0;
        }));
        return command;
    }
}
