namespace InterBert.Benchmarks;

/// <summary>
/// How <c>bench binding</c> trains: the schedule, an optional curriculum (<see cref="WarmUp"/>'s scenes for the first
/// <see cref="WarmUpSteps"/> steps) and an optional second loss, naming the hidden boxes of <see cref="NamingScenes"/>
/// with weight <see cref="NamingWeight"/>, added to a matching task's.
/// </summary>
public sealed record BindingTraining(int Steps, int BatchSize, double LearningRate, int Seed)
{
    /// <summary>The curriculum's scenes (every caption saying "left"), or null.</summary>
    public BindingScenes? WarmUp { get; init; }

    /// <summary>Steps trained on <see cref="WarmUp"/>'s scenes.</summary>
    public int WarmUpSteps { get; init; }

    /// <summary>Steps after the warm-up over which the share of steps on the task's own scenes rises from 0 to 1 (0: at once).</summary>
    public int RampSteps { get; init; }

    /// <summary>Whether step <paramref name="step"/> (from 1) trains on the warm-up's scenes, given a draw <paramref name="uniform"/> in [0, 1).</summary>
    public bool WarmsUp(int step, double uniform) =>
        step <= WarmUpSteps || (step <= WarmUpSteps + RampSteps && uniform >= (double)(step - WarmUpSteps) / (RampSteps + 1));

    /// <summary>Scenes with hidden features whose boxes a matching task also learns to name, or null.</summary>
    public BindingScenes? NamingScenes { get; init; }

    /// <summary>The naming loss's scenes during the curriculum (every caption saying "left"), or null.</summary>
    public BindingScenes? NamingWarmUp { get; init; }

    /// <summary>The naming loss's weight beside the matching loss.</summary>
    public double NamingWeight { get; init; }
}
