using InterBert.Data;
using InterBert.Modeling;
using InterBert.Text;
using InterBert.Training;
using static TorchSharp.torch;

namespace InterBert.Tasks;

/// <summary>Fine-tunes and evaluates a <see cref="TextClassifier"/> (cross-entropy, AdamW with the shared recipe).</summary>
public static class TextClassificationTraining
{
    /// <summary>Fine-tunes on <paramref name="examples"/>; <paramref name="progress"/> receives (step, steps, loss).</summary>
    public static void Run(TextClassifier classifier, WordPieceTokenizer tokenizer, IReadOnlyList<LabelledText> examples, string source,
        TrainingOptions options, IReadOnlySet<string> pretrainedKeys, int maxLength, IProgress<(int Step, int Steps, double Loss)>? progress = null, CancellationToken cancel = default)
    {
        var encoded = examples.Select(e => TextClassifier.Encode(tokenizer, e, maxLength)).ToList();
        var targets = classifier.Targets(examples, source);
        // Pretrained keys are named as in the model; inside the classifier they sit under "model.".
        var groups = ParameterGroups.Create(classifier, options, pretrainedKeys.Select(k => "model." + k).ToHashSet());
        var order = new EpochCursor(examples.Count, options.Seed);
        classifier.train();
        for (var step = 0; step < options.Steps && !cancel.IsCancellationRequested; step++)
        {
            groups.SetLearningRate(options.LearningRate * LearningRateSchedule.Factor(step, options.Steps, options.WarmupFraction));
            using var scope = NewDisposeScope();
            var indices = order.Take((long)step * options.BatchSize, options.BatchSize);
            var loss = nn.functional.cross_entropy(classifier.Logits(Batch(encoded, indices, tokenizer.PadId)), tensor(indices.Select(i => targets[i]).ToArray()));
            groups.Step(loss);
            progress?.Report((step + 1, options.Steps, loss.item<float>()));
        }
    }

    /// <summary>Accuracy (0-1) on labelled examples.</summary>
    public static double Accuracy(TextClassifier classifier, WordPieceTokenizer tokenizer, IReadOnlyList<LabelledText> examples, string source, int maxLength)
    {
        var encoded = examples.Select(e => TextClassifier.Encode(tokenizer, e, maxLength)).ToList();
        var targets = classifier.Targets(examples, source);
        classifier.eval();
        using var noGrad = no_grad();
        long correct = 0;
        for (var start = 0; start < examples.Count; start += 64)
        {
            using var scope = NewDisposeScope();
            var indices = Enumerable.Range(start, Math.Min(64, examples.Count - start)).ToList();
            var predicted = classifier.Logits(Batch(encoded, indices, tokenizer.PadId)).argmax(1).data<long>().ToArray();
            correct += indices.Where((i, k) => predicted[k] == targets[i]).Count();
        }
        return (double)correct / examples.Count;
    }

    private static TextBatch Batch(IReadOnlyList<(int[] Ids, int[] Types)> encoded, IReadOnlyList<int> indices, int padId)
    {
        var batch = WordPieceTokenizer.Collate(indices.Select(i => encoded[i].Ids).ToList(), padId);
        var types = WordPieceTokenizer.Collate(indices.Select(i => encoded[i].Types).ToList(), 0).InputIds;
        return batch with { TokenTypeIds = types };
    }
}
