using InterBert.Data;
using InterBert.Modeling;
using InterBert.Text;
using InterBert.Training;
using static TorchSharp.torch;

namespace InterBert.Tasks;

/// <summary>Fine-tunes and evaluates a <see cref="TextClassifier"/> (cross-entropy, AdamW with the shared recipe).</summary>
public static class TextClassificationTraining
{
    /// <summary>
    /// Fine-tunes on <paramref name="examples"/> through the one <see cref="Trainer"/> (checkpoints and
    /// <c>metrics.jsonl</c> in <paramref name="runFolder"/>; <paramref name="resume"/> continues that run exactly);
    /// <paramref name="progress"/> receives (step, steps, loss).
    /// </summary>
    public static Trainer.Result Run(TextClassifier classifier, WordPieceTokenizer tokenizer, IReadOnlyList<LabelledText> examples, string source,
        TrainingOptions options, IReadOnlySet<string> pretrainedKeys, int maxLength, string runFolder, IProgress<(int Step, int Steps, double Loss)>? progress = null,
        CancellationToken cancel = default, bool resume = false, Distributed.ProcessGroup? group = null)
    {
        var encoded = examples.Select(e => TextClassifier.Encode(tokenizer, e, maxLength)).ToList();
        var targets = classifier.Targets(examples, source);
        var objective = new TextClassificationObjective(classifier, encoded, targets, tokenizer.PadId, options, pretrainedKeys, tokenizer.LowerCase);
        // Pretrained keys are named as in the model; inside the classifier they sit under "model.".
        var run = new TrainingRun(runFolder, classifier, classifier.Backbone, options, pretrainedKeys.Select(k => "model." + k).ToHashSet(), resume, group)
        {
            Description = new Dictionary<string, object> { ["task"] = "text-classification", ["examples"] = examples.Count, ["labels"] = classifier.Labels },
        };
        return Trainer.Run(run, objective, progress is null ? null : new SynchronousProgress<Trainer.Progress>(p => progress.Report((p.Step, p.Steps, p.Values[0]))), cancel);
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

    /// <summary>A text batch of encoded examples (ids padded, token types beside).</summary>
    internal static TextBatch Batch(IReadOnlyList<(int[] Ids, int[] Types)> encoded, IReadOnlyList<int> indices, int padId)
    {
        var batch = WordPieceTokenizer.Collate(indices.Select(i => encoded[i].Ids).ToList(), padId);
        var types = WordPieceTokenizer.Collate(indices.Select(i => encoded[i].Types).ToList(), 0).InputIds;
        return batch with { TokenTypeIds = types };
    }
}
