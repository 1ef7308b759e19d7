using InterBert.Distributed;
using InterBert.Modeling;
using TorchSharp;

namespace InterBert.Training;

/// <summary>
/// What <see cref="Trainer"/> trains: the run folder, the module whose parameters it optimises (the model, or a model
/// inside a task module), the model its checkpoints save, the recipe, which parameters came pretrained (named as in
/// <paramref name="Trainable"/>), whether to continue the folder's run, and the processes sharing the work.
/// </summary>
public sealed record TrainingRun(
    string Folder, torch.nn.Module Trainable, InterBertBackbone Model, TrainingOptions Options, IReadOnlySet<string> PretrainedKeys,
    bool Resume = false, ProcessGroup? Group = null)
{
    /// <summary>The processes training together (one process when not launched by MPI).</summary>
    public ProcessGroup Processes => Group ?? ProcessGroup.Single;

    /// <summary>Entries added to the run's <c>run.json</c> beside the recipe, the rank count and the precision.</summary>
    public IReadOnlyDictionary<string, object> Description { get; init; } = new Dictionary<string, object>();
}
