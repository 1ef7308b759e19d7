using System.CommandLine;
using System.Diagnostics;
using InterBert.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace InterBert.Cli.Commands;

/// <summary>
/// The <c>demo</c> verb. For now a smoke run of the model: it builds a preset, runs the three forward modes,
/// then trains image-text matching on a toy task (a pair matches when its caption's second token equals a class
/// encoded in the image's features), printing the loss, and finally the accuracy on new pairs.
/// </summary>
public static class DemoCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = "model preset", DefaultValueFactory = _ => "tiny" };
        var steps = new Option<int>("--steps") { Description = "optimisation steps", DefaultValueFactory = _ => 300 };
        var command = new Command("demo", "Run the end-to-end demonstration (currently a smoke run of the model)") { preset, steps };
        command.SetAction(CommandLine.Guarded(parse => Run(parse.GetValue(preset)!, parse.GetValue(steps))));
        return command;
    }

    private static int Run(string presetName, int steps)
    {
        var config = InterBertConfig.FromPreset(presetName) with { HiddenDropoutProb = 0, VHiddenDropoutProb = 0 };
        manual_seed(7);
        using var model = new InterBertModel(config);
        Console.WriteLine($"demo: {presetName} preset, {model.ParameterCounts()["total"]:N0} parameters");
        const int batch = 16, tokens = 8, regions = 4, classes = 4;
        var generator = new Generator(11);

        (TextBatch Text, ImageBatch Image, Tensor Labels) MakeBatch()
        {
            var imageClass = randint(classes, [batch], generator: generator);
            var matched = randint(2, [batch], generator: generator);
            var captionClass = where(matched.eq(1), imageClass, (imageClass + randint(1, classes, [batch], generator: generator)) % classes);
            var ids = randint(1000, 2000, [batch, tokens], generator: generator);
            ids[TensorIndex.Colon, 1] = captionClass + 3000;
            var features = randn([batch, regions, config.VFeatureSize], generator: generator) * 0.1;
            features[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(0, classes)] += nn.functional.one_hot(imageClass, classes).unsqueeze(1).to_type(ScalarType.Float32) * 3;
            var locations = rand([batch, regions, 5], generator: generator);
            return (new TextBatch(ids, ones_like(ids)), new ImageBatch(features, locations, ones(batch, regions, dtype: ScalarType.Int64)), matched);
        }

        using (no_grad())
        {
            using var scope = NewDisposeScope();
            var (text, image, _) = MakeBatch();
            var joint = model.Forward(text, image);
            var textOnly = model.Forward(text, null);
            var imageOnly = model.Forward(null, image);
            Console.WriteLine($"forward image+text: text [{string.Join(", ", joint.TextSequence!.shape)}], image [{string.Join(", ", joint.ImageSequence!.shape)}]");
            Console.WriteLine($"forward text only:  text [{string.Join(", ", textOnly.TextSequence!.shape)}]; image only: image [{string.Join(", ", imageOnly.ImageSequence!.shape)}]");
        }

        using var optimizer = optim.AdamW(model.parameters(), 1e-3);
        var watch = Stopwatch.StartNew();
        for (var step = 1; step <= steps; step++)
        {
            using var scope = NewDisposeScope();
            var (text, image, labels) = MakeBatch();
            var logits = model.MatchingLogits(model.Forward(text, image));
            var loss = nn.functional.cross_entropy(logits, labels);
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            if (step % 30 == 0 || step == 1)
            {
                var accuracy = logits.argmax(1).eq(labels).to_type(ScalarType.Float32).mean().item<float>();
                Console.WriteLine($"step {step,4}: matching loss {loss.item<float>():F4}, batch accuracy {accuracy:P0}");
            }
        }
        Console.WriteLine($"demo: {steps} steps in {watch.Elapsed.TotalSeconds:F1} s");

        // Held-out pairs, never trained on: the matching head must read the caption against the image.
        model.eval();
        long correct = 0, total = 0;
        using (no_grad())
        {
            for (var b = 0; b < 8; b++)
            {
                using var scope = NewDisposeScope();
                var (text, image, labels) = MakeBatch();
                correct += model.MatchingLogits(model.Forward(text, image)).argmax(1).eq(labels).sum().item<long>();
                total += labels.shape[0];
            }
        }
        Console.WriteLine($"demo: held-out matching accuracy {100.0 * correct / total:F1}% on {total} new pairs (chance 50%)");
        return 0;
    }
}
