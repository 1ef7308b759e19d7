namespace InterBert.Training;

/// <summary>Linear warmup over the first fraction of steps, then linear decay to zero (BERT's schedule).</summary>
public static class LearningRateSchedule
{
    /// <summary>The factor applied to the peak learning rate at 0-based <paramref name="step"/>.</summary>
    public static double Factor(int step, int totalSteps, double warmupFraction)
    {
        var warmup = Math.Max(1, (int)Math.Round(totalSteps * warmupFraction));
        if (step < warmup) return (step + 1.0) / warmup;
        return Math.Max(0.0, (double)(totalSteps - step) / Math.Max(1, totalSteps - warmup));
    }
}
