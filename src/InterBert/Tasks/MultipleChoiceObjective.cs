using InterBert.Data;
using InterBert.Distributed;
using InterBert.Modeling;
using InterBert.Text;
using InterBert.Training;
using static TorchSharp.torch;

namespace InterBert.Tasks;

/// <summary>Multiple choice as a <see cref="ITrainingObjective"/>: Q→A on even steps, QA→R on odd ones, cross-entropy over the choices' scores.</summary>
internal sealed class MultipleChoiceObjective(
    InterBertModel model, IReadOnlyList<MultipleChoiceItem> items, FeatureStore store, WordPieceTokenizer tokenizer, TrainingOptions options, IReadOnlySet<string> pretrainedKeys)
    : ITrainingObjective
{
    private readonly EpochCursor order = new(items.Count, options.Seed);

    /// <inheritdoc/>
    public string Fingerprint => $"multiple-choice questions={items.Count}";

    /// <inheritdoc/>
    public IReadOnlyList<string> ValueNames { get; } = ["loss"];

    /// <inheritdoc/>
    public void BeforeStep(int step) { }

    /// <inheritdoc/>
    public ObjectiveLoss Loss(int step, int micro, ProcessGroup processes)
    {
        var indices = StepBatch.Share(order, step, micro, options, processes);
        var (text, image, labels, choices) = MultipleChoiceTask.Batch(items, indices, store, tokenizer, rationale: step % 2 == 1, model.Config.MaxSeqLength * 2, model.Config.MaxRegionLength);
        Tensor loss;
        using (model.Autocast()) loss = nn.functional.cross_entropy(model.Score(model.Forward(text, image)).view(indices.Count, choices), tensor(labels));
        return new ObjectiveLoss(loss, [loss.item<float>()], indices.Count);
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, double>? Validate(int step, bool last) => null;

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, string> CheckpointMetadata() => CheckpointManager.Metadata(tokenizer.LowerCase, model.Precision, pretrainedKeys);

    /// <inheritdoc/>
    public void SaveState(string checkpointFolder) { }

    /// <inheritdoc/>
    public void RestoreState(string checkpointFolder) { }
}
