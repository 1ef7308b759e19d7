using InterBert.Distributed;

namespace InterBert.Training;

/// <summary>
/// What one task gives <see cref="Trainer"/>: its batches and losses, what it checks on held-out data, and the state
/// beyond the model, optimiser and generator that an exact resume needs. The optimisation itself is the trainer's.
/// </summary>
public interface ITrainingObjective
{
    /// <summary>The settings that must not change across a resume, as text.</summary>
    string Fingerprint { get; }

    /// <summary>Names of the values <see cref="Loss"/> reports, in order; the first is the optimised total (logged as <c>loss</c>).</summary>
    IReadOnlyList<string> ValueNames { get; }

    /// <summary>Called on every rank before a step's micro-batches (for example to mine negatives at intervals).</summary>
    void BeforeStep(int step);

    /// <summary>
    /// The loss of one micro-batch of a step on this rank, scaled so that the ranks' gradients averaged give the step's
    /// gradient, with the values to log (this rank's: the trainer averages them over ranks).
    /// </summary>
    ObjectiveLoss Loss(int step, int micro, ProcessGroup processes);

    /// <summary>After a step, on the first rank: held-out values when they are due (<paramref name="last"/>: the run's last step), else null.</summary>
    IReadOnlyDictionary<string, double>? Validate(int step, bool last);

    /// <summary>Metadata for the weights of a checkpoint.</summary>
    IReadOnlyDictionary<string, string> CheckpointMetadata();

    /// <summary>Writes the task's own state into a checkpoint folder being written.</summary>
    void SaveState(string checkpointFolder);

    /// <summary>Restores the task's own state from a checkpoint folder.</summary>
    void RestoreState(string checkpointFolder);
}
