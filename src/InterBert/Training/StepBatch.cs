using InterBert.Data;
using InterBert.Distributed;

namespace InterBert.Training;

/// <summary>
/// How a step's examples are laid out for every task: micro-batch <c>m</c> of step <c>s</c> takes the next
/// <c>batch x ranks</c> examples of the seeded epoch order (the global batch), and rank <c>r</c> its <c>r</c>-th share,
/// so the ranks together see what one process with the whole batch would.
/// </summary>
public static class StepBatch
{
    /// <summary>The global batch of a step's micro-batch, every rank's share in rank order.</summary>
    public static List<int> Global(EpochCursor order, int step, int micro, TrainingOptions options, ProcessGroup processes)
    {
        var global = options.BatchSize * processes.Size;
        return order.Take((long)(step * options.GradientAccumulation + micro) * global, global);
    }

    /// <summary>Where this rank's share starts in the global batch.</summary>
    public static int FirstOfRank(TrainingOptions options, ProcessGroup processes) => processes.Rank * options.BatchSize;

    /// <summary>This rank's share of a step's micro-batch.</summary>
    public static List<int> Share(EpochCursor order, int step, int micro, TrainingOptions options, ProcessGroup processes) =>
        Global(order, step, micro, options, processes).Skip(FirstOfRank(options, processes)).Take(options.BatchSize).ToList();
}
