using InterBert.Data;
using InterBert.Distributed;
using InterBert.Training;
using static TorchSharp.torch;

namespace InterBert.Tasks;

/// <summary>Text classification as a <see cref="ITrainingObjective"/>: cross-entropy of the classifier's logits; the classifier head is its own checkpointed state.</summary>
internal sealed class TextClassificationObjective(
    TextClassifier classifier, IReadOnlyList<(int[] Ids, int[] Types)> encoded, long[] targets, int padId, TrainingOptions options, IReadOnlySet<string> pretrainedKeys, bool lowerCase)
    : ITrainingObjective
{
    private const string HeadFile = "classifier.safetensors";
    private readonly EpochCursor order = new(encoded.Count, options.Seed);

    /// <inheritdoc/>
    public string Fingerprint => $"text-classification labels={string.Join("|", classifier.Labels)}";

    /// <inheritdoc/>
    public IReadOnlyList<string> ValueNames { get; } = ["loss"];

    /// <inheritdoc/>
    public void BeforeStep(int step) { }

    /// <inheritdoc/>
    public ObjectiveLoss Loss(int step, int micro, ProcessGroup processes)
    {
        var indices = StepBatch.Share(order, step, micro, options, processes);
        Tensor loss;
        using (classifier.Backbone.Autocast())
            loss = nn.functional.cross_entropy(classifier.Logits(TextClassificationTraining.Batch(encoded, indices, padId)), tensor(indices.Select(i => targets[i]).ToArray()));
        return new ObjectiveLoss(loss, [loss.item<float>()], indices.Count);
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, double>? Validate(int step, bool last) => null;

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, string> CheckpointMetadata() => CheckpointManager.Metadata(lowerCase, classifier.Backbone.Precision, pretrainedKeys);

    /// <inheritdoc/>
    public void SaveState(string checkpointFolder) => classifier.SaveHead(Path.Combine(checkpointFolder, HeadFile));

    /// <inheritdoc/>
    public void RestoreState(string checkpointFolder) => classifier.LoadHead(Path.Combine(checkpointFolder, HeadFile));
}
