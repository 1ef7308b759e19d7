using System.CommandLine;
using System.Diagnostics;
using InterBert.Cli;
using InterBert.Modeling;
using static TorchSharp.torch;

namespace InterBert.Benchmarks;

/// <summary>
/// <c>bench binding</c>: can the interaction bind a relation word to boxes at all? A small model is trained from scratch
/// on <see cref="BindingScenes"/> to name each hidden object box from the caption (or, <c>--matching</c>, to score a
/// caption above its swap, the demo's question), and its test accuracy (chance 50%) is printed as it trains. A
/// diagnosis for spatial relations that is quicker than the demo and has one cause only.
/// </summary>
public static class BindingBenchmark
{
    /// <summary>Creates the measurement.</summary>
    public static Command Create()
    {
        var steps = new Option<int>("--steps") { Description = "training steps", DefaultValueFactory = _ => 2000 };
        var layers = new Option<int>("--layers") { Description = "interaction layers", DefaultValueFactory = _ => 2 };
        var hidden = new Option<int>("--hidden") { Description = "hidden size of both streams", DefaultValueFactory = _ => 64 };
        var classes = new Option<int>("--classes") { Description = "object classes", DefaultValueFactory = _ => 8 };
        var learningRate = new Option<double>("--learning-rate") { Description = "AdamW's learning rate", DefaultValueFactory = _ => 1e-3 };
        var batch = new Option<int>("--batch-size") { Description = "scenes per step", DefaultValueFactory = _ => 32 };
        var geometry = new Option<bool>("--geometry-bias") { Description = "add the learned attention bias from region-pair geometry" };
        var frequencies = new Option<int>("--location-frequencies") { Description = "encode boxes with sines of this many frequencies (0: the paper's five numbers)" };
        var fixedRelation = new Option<bool>("--fixed-relation") { Description = "every caption says \"left\" (no composition with the relation word)" };
        var ramp = new Option<int>("--curriculum-ramp") { Description = "after --curriculum's steps, raise the share of steps with both relations from 0 to 1 over this many steps (0: at once)" };
        var curriculum = new Option<int>("--curriculum") { Description = "train this many first steps with every caption saying \"left\", then with both relations" };
        var matching = new Option<bool>("--matching") { Description = "score each scene's caption against the same caption with its objects swapped (the score head; features visible) instead of naming hidden boxes" };
        var namingWeight = new Option<double>("--naming-weight") { Description = "with --matching: also name the hidden boxes of other scenes from their captions, this loss at this weight (0: off)" };
        var changedObject = new Option<bool>("--changed-object") { Description = "with --matching: the wrong caption names an object not in the scene instead of swapping the two (the sanity check of matching)" };
        var visible = new Option<bool>("--visible-features") { Description = "each box shows its object (a sanity check)" };
        var seed = new Option<int>("--seed") { Description = "seed of the weights and the scenes", DefaultValueFactory = _ => 1 };
        var command = new Command("binding", "Toy scenes that need a relation word bound to boxes: accuracy of naming each hidden object box from the caption, or (--matching) of scoring a caption above its swap, as a small model trains (chance 50%)")
        {
            steps, layers, hidden, classes, learningRate, batch, geometry, frequencies, fixedRelation, curriculum, ramp, matching, changedObject, namingWeight, visible, seed,
        };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            if (parse.GetValue(steps) < 1 || parse.GetValue(layers) < 1 || parse.GetValue(hidden) < 8 || parse.GetValue(batch) < 1 ||
                parse.GetValue(classes) is < 3 or > BindingScenes.FeatureSize || parse.GetValue(frequencies) < 0 || parse.GetValue(curriculum) < 0 || parse.GetValue(namingWeight) < 0 || parse.GetValue(ramp) < 0)
                throw new InterBertException($"bench binding: expected --steps, --layers and --batch-size of at least 1, --hidden of at least 8, --classes from 3 to {BindingScenes.FeatureSize} and --location-frequencies, --curriculum, --curriculum-ramp and --naming-weight of at least 0");
            var config = InterBertConfig.Tiny with
            {
                VocabSize = 64, HiddenSize = parse.GetValue(hidden), VHiddenSize = parse.GetValue(hidden),
                IntermediateSize = 2 * parse.GetValue(hidden), VIntermediateSize = 2 * parse.GetValue(hidden), NumHiddenLayers = parse.GetValue(layers),
                VFeatureSize = BindingScenes.FeatureSize, VTargetSize = parse.GetValue(classes),
                GeometryAttentionBias = parse.GetValue(geometry), VLocationFrequencies = parse.GetValue(frequencies),
                // Nothing to regularise in endless fresh scenes; dropout would only slow the measurement.
                HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0, VHiddenDropoutProb = 0, VAttentionProbsDropoutProb = 0,
            };
            var relations = parse.GetValue(fixedRelation) ? "relation always \"left\""
                : parse.GetValue(curriculum) == 0 ? "relation left or right"
                : $"relation always \"left\" for {parse.GetValue(curriculum)} steps, then left or right" + (parse.GetValue(ramp) > 0 ? $" on a share of steps rising over {parse.GetValue(ramp)}" : "");
            var question = !parse.GetValue(matching) ? $"features {(parse.GetValue(visible) ? "visible" : "hidden")}"
                : $"caption against {(parse.GetValue(changedObject) ? "one naming an absent object" : "its swap")} (features visible)" + (parse.GetValue(namingWeight) > 0 ? $", naming loss at {parse.GetValue(namingWeight)}" : "");
            Console.WriteLine($"bench binding: {parse.GetValue(layers)} interaction layers of {parse.GetValue(hidden)}, {parse.GetValue(classes)} classes, {relations}, {question}, " +
                $"geometry bias {(parse.GetValue(geometry) ? "on" : "off")}, location frequencies {parse.GetValue(frequencies)}, {get_num_threads()} threads; chance 50%");
            // Matching needs the features: with them hidden, nothing tells a caption from its swap.
            var shown = parse.GetValue(visible) || parse.GetValue(matching);
            var scenes = new BindingScenes(parse.GetValue(classes), parse.GetValue(fixedRelation), shown, parse.GetValue(seed));
            // The curriculum's scenes are the same but for the relation word; their own seed keeps the test scenes those of a run without it.
            var warmUp = new BindingScenes(parse.GetValue(classes), true, shown, parse.GetValue(seed) + 1000);
            var task = !parse.GetValue(matching) ? BindingTask.Naming : parse.GetValue(changedObject) ? BindingTask.ChangedObject : BindingTask.Swapped;
            var naming = parse.GetValue(matching) && parse.GetValue(namingWeight) > 0;
            var training = new BindingTraining(parse.GetValue(steps), parse.GetValue(batch), parse.GetValue(learningRate), parse.GetValue(seed))
            {
                WarmUp = warmUp, WarmUpSteps = parse.GetValue(curriculum), RampSteps = parse.GetValue(ramp), NamingWeight = parse.GetValue(namingWeight),
                NamingScenes = naming ? new BindingScenes(parse.GetValue(classes), parse.GetValue(fixedRelation), false, parse.GetValue(seed) + 2000) : null,
                NamingWarmUp = naming ? new BindingScenes(parse.GetValue(classes), true, false, parse.GetValue(seed) + 3000) : null,
            };
            Train(config, scenes, task, training,
                (step, loss, accuracy, seconds) => Console.WriteLine($"  step {step}: loss {loss:F3}, {(parse.GetValue(matching) ? "test captions above the wrong one" : "test boxes named right")} {accuracy:F1}% [{seconds:F0} s]"));
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// Trains a fresh model on <paramref name="scenes"/> (with <paramref name="training"/>'s curriculum and naming loss)
    /// to name each box (or to score each caption above its swap, or above one naming an absent object) and reports (step,
    /// loss, test accuracy % on <paramref name="scenes"/>, seconds) ten times; returns the last accuracy.
    /// </summary>
    public static double Train(InterBertConfig config, BindingScenes scenes, BindingTask task, BindingTraining training, Action<int, double, double, double> report)
    {
        var (steps, batchSize, learningRate, seed) = training;
        manual_seed(seed);
        using var model = new InterBertModel(config);
        using var optimizer = optim.AdamW(model.parameters(), learningRate, weight_decay: 0.01);
        using var testScope = NewDisposeScope();
        var test = scenes.Next(1000);
        var watch = Stopwatch.StartNew();
        var accuracy = 0.0;
        // Which steps of the ramp warm up is drawn from its own source, so that the scenes stay those of a run without it.
        var rampDraws = new Random(seed + 4000);
        model.train();
        for (var step = 1; step <= steps; step++)
        {
            using var scope = NewDisposeScope();
            var warmsUp = training.WarmsUp(step, training.RampSteps > 0 ? rampDraws.NextDouble() : 0);
            var batch = (warmsUp && training.WarmUp is not null ? training.WarmUp : scenes).Next(batchSize);
            // Matching: a two-way softmax over each scene's caption and its swap, the truth first.
            var loss = task != BindingTask.Naming
                ? nn.functional.cross_entropy(PairLogits(model, batch, task), zeros(batch.Targets.Length / 2, dtype: ScalarType.Int64))
                : nn.functional.cross_entropy(ObjectLogits(model, batch), tensor(batch.Targets));
            if (training.NamingScenes is { } naming && task != BindingTask.Naming)
            {
                var hidden = (warmsUp && training.NamingWarmUp is not null ? training.NamingWarmUp : naming).Next(batchSize);
                loss = loss + training.NamingWeight * nn.functional.cross_entropy(ObjectLogits(model, hidden), tensor(hidden.Targets));
            }
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            if (step % Math.Max(1, steps / 10) != 0 && step != steps) continue;
            accuracy = task != BindingTask.Naming ? MatchingAccuracy(model, test, task) : Accuracy(model, test);
            report(step, loss.item<float>(), accuracy, watch.Elapsed.TotalSeconds);
        }
        return accuracy;
    }

    /// <summary>The region head's class logits at each object box.</summary>
    private static Tensor ObjectLogits(InterBertModel model, BindingScenes.Batch batch)
    {
        var output = model.Forward(batch.Text, batch.Image);
        var rows = output.ImageSequence!.reshape(-1, output.ImageSequence.shape[^1]);
        return model.RegionLogits(rows.index_select(0, tensor(batch.ObjectRows))).to_type(ScalarType.Float32);
    }

    /// <summary>The score head's logits [scenes, 2]: each scene's caption, then the wrong one.</summary>
    private static Tensor PairLogits(InterBertModel model, BindingScenes.Batch batch, BindingTask task)
    {
        var truth = model.PairScores(batch.Text, batch.Image, zeroShot: false);
        var swapped = model.PairScores(task == BindingTask.ChangedObject ? batch.ChangedText : batch.SwappedText, batch.Image, zeroShot: false);
        return stack([truth, swapped], 1).to_type(ScalarType.Float32);
    }

    /// <summary>The percentage of test scenes whose caption scores above the wrong one.</summary>
    private static double MatchingAccuracy(InterBertModel model, BindingScenes.Batch test, BindingTask task)
    {
        model.eval();
        try
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var logits = PairLogits(model, test, task).data<float>().ToArray();
            var right = Enumerable.Range(0, logits.Length / 2).Count(i => logits[2 * i] > logits[2 * i + 1]);
            return 100.0 * right / (logits.Length / 2);
        }
        finally
        {
            model.train();
        }
    }

    /// <summary>The percentage of object boxes whose own class scores above the other object's (the two candidates a caption names).</summary>
    private static double Accuracy(InterBertModel model, BindingScenes.Batch test)
    {
        model.eval();
        try
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var logits = ObjectLogits(model, test).data<float>().ToArray();
            var classes = logits.Length / test.Targets.Length;
            var right = 0;
            for (var j = 0; j < test.Targets.Length; j++)
                if (logits[j * classes + test.Targets[j]] > logits[j * classes + test.Targets[j ^ 1]]) right++;
            return 100.0 * right / test.Targets.Length;
        }
        finally
        {
            model.train();
        }
    }
}
