using InterBert.Data;
using InterBert.Modeling;
using InterBert.Text;
using InterBert.Training;
using static TorchSharp.torch;

namespace InterBert.Tasks;

/// <summary>
/// VCR-style multiple choice: Q→A scores (question, answer) for each answer; QA→R scores (question + right answer,
/// rationale) for each rationale; each pair goes through the full model with the image and the score head, with
/// cross-entropy over the choices. Q→AR counts a question right when both are right. Object tag tokens are linked to
/// their regions.
/// </summary>
public static class MultipleChoiceTask
{
    /// <summary>Accuracies in percent.</summary>
    public sealed record Accuracy(double QuestionToAnswer, double AnswerToRationale, double Joint);

    /// <summary>Ids, token types and region links of <c>[CLS] a [SEP] b [SEP]</c>, truncated from the end of b.</summary>
    public static (int[] Ids, int[] Types, int[] Links) Encode(WordPieceTokenizer tokenizer, LinkedText first, LinkedText second, int maxLength, int regionCount)
    {
        var ids = new List<int> { tokenizer.ClsId };
        var types = new List<int> { 0 };
        var links = new List<int> { -1 };
        void Add(LinkedText text, int type)
        {
            for (var w = 0; w < text.Words.Count; w++)
            {
                var region = text.Regions[w] < regionCount ? text.Regions[w] : -1;
                foreach (var piece in tokenizer.EncodeWithoutSpecialTokens(text.Words[w]))
                {
                    ids.Add(piece);
                    types.Add(type);
                    links.Add(region);
                }
            }
            ids.Add(tokenizer.SepId);
            types.Add(type);
            links.Add(-1);
        }
        Add(first, 0);
        Add(second, 1);
        if (ids.Count > maxLength)
        {
            ids = [.. ids.Take(maxLength - 1), tokenizer.SepId];
            types = [.. types.Take(maxLength)];
            links = [.. links.Take(maxLength - 1), -1];
        }
        return (ids.ToArray(), types.ToArray(), links.ToArray());
    }

    /// <summary>The choice rows of some items: for Q→A each (question, answer); for QA→R each (question + right answer, rationale).</summary>
    public static (TextBatch Text, ImageBatch Image, long[] Labels, int Choices) Batch(
        IReadOnlyList<MultipleChoiceItem> items, IReadOnlyList<int> indices, FeatureStore store, WordPieceTokenizer tokenizer, bool rationale, int maxLength, int maxRegions)
    {
        var rows = new List<int[]>();
        var types = new List<int[]>();
        var links = new List<int[]>();
        var images = new List<ImageRegions>();
        var labels = new List<long>();
        var choices = indices.Min(i => rationale ? items[i].Rationales.Count : items[i].Answers.Count);
        foreach (var index in indices)
        {
            var item = items[index];
            var regions = store.Read(item.ImageId);
            var count = Math.Min(regions.RegionCount, maxRegions);
            var context = rationale
                ? new LinkedText([.. item.Question.Words, .. item.Answers[item.AnswerLabel].Words], [.. item.Question.Regions, .. item.Answers[item.AnswerLabel].Regions])
                : item.Question;
            var options = rationale ? item.Rationales : item.Answers;
            for (var c = 0; c < choices; c++)
            {
                var (ids, t, l) = Encode(tokenizer, context, options[c], maxLength, count);
                rows.Add(ids);
                types.Add(t);
                links.Add(l);
                images.Add(regions);
            }
            labels.Add(rationale ? item.RationaleLabel : item.AnswerLabel);
        }
        var text = WordPieceTokenizer.Collate(rows, tokenizer.PadId);
        var typeTensor = WordPieceTokenizer.Collate(types, 0).InputIds;
        var linkTensor = WordPieceTokenizer.Collate(links, -1).InputIds;
        return (text with { TokenTypeIds = typeTensor, RegionLinks = linkTensor },
            RegionCollator.Collate(images, store.Manifest.FeatureSize, maxRegions), labels.ToArray(), choices);
    }

    /// <summary>
    /// Fine-tunes on Q→A and QA→R batches in turn through the one <see cref="Trainer"/> (checkpoints and
    /// <c>metrics.jsonl</c> in <paramref name="runFolder"/>; <paramref name="resume"/> continues that run exactly).
    /// </summary>
    public static Trainer.Result Train(InterBertModel model, IReadOnlyList<MultipleChoiceItem> items, FeatureStore store, WordPieceTokenizer tokenizer,
        TrainingOptions options, IReadOnlySet<string> pretrainedKeys, string runFolder, IProgress<(int Step, int Steps, double Loss)>? progress = null,
        CancellationToken cancel = default, bool resume = false, Distributed.ProcessGroup? group = null)
    {
        var objective = new MultipleChoiceObjective(model, items, store, tokenizer, options, pretrainedKeys);
        var run = new TrainingRun(runFolder, model, model, options, pretrainedKeys, resume, group)
        {
            Description = new Dictionary<string, object> { ["task"] = "multiple-choice", ["questions"] = items.Count },
        };
        return Trainer.Run(run, objective, progress is null ? null : new SynchronousProgress<Trainer.Progress>(p => progress.Report((p.Step, p.Steps, p.Values[0]))), cancel);
    }

    /// <summary>Q→A, QA→R and Q→AR accuracy in percent.</summary>
    public static Accuracy Evaluate(InterBertModel model, IReadOnlyList<MultipleChoiceItem> items, FeatureStore store, WordPieceTokenizer tokenizer)
    {
        model.eval();
        using var noGrad = no_grad();
        var answerRight = new bool[items.Count];
        var rationaleRight = new bool[items.Count];
        foreach (var rationale in new[] { false, true })
        {
            for (var start = 0; start < items.Count; start += 16)
            {
                using var scope = NewDisposeScope();
                var indices = Enumerable.Range(start, Math.Min(16, items.Count - start)).ToList();
                var (text, image, labels, choices) = Batch(items, indices, store, tokenizer, rationale, model.Config.MaxSeqLength * 2, model.Config.MaxRegionLength);
                var predicted = model.Score(model.Forward(text, image)).view(indices.Count, choices).argmax(1).data<long>().ToArray();
                for (var k = 0; k < indices.Count; k++) (rationale ? rationaleRight : answerRight)[indices[k]] = predicted[k] == labels[k];
            }
        }
        double Percent(IEnumerable<bool> right) => 100.0 * right.Count(r => r) / items.Count;
        return new Accuracy(Percent(answerRight), Percent(rationaleRight), Percent(answerRight.Zip(rationaleRight, (a, r) => a && r)));
    }
}
