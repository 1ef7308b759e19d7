namespace InterBert.Training;

/// <summary>
/// Draws each finished training run's curves into its <c>plots/</c> folder: <c>losses.png</c> (every loss of the task)
/// and, when the run validated pretraining, <c>validation.png</c> (held-out MSM and ITM accuracy).
/// </summary>
public static class TrainingPlots
{
    private static int enabled;

    /// <summary>Adds the plots to every run the <see cref="Trainer"/> finishes in this process (once, however often called).</summary>
    public static void Enable()
    {
        if (Interlocked.Exchange(ref enabled, 1) == 0) Trainer.RunFinished += Write;
    }

    /// <summary>Draws one run's plots.</summary>
    public static void Write(FinishedRun run)
    {
        var plots = Directory.CreateDirectory(Path.Combine(run.Folder, "plots")).FullName;
        LossPlot.Write(run.Metrics.Where(r => r["split"] is null).ToList(), run.LossNames.Select(n => (n, n)).ToList(), "training losses", Path.Combine(plots, "losses.png"));
        var validation = run.Metrics.Where(r => r["split"] is not null && r["val_msm_accuracy"] is not null).ToList();
        if (validation.Count > 0)
            LossPlot.Write(validation, [("val_msm_accuracy", "MSM accuracy"), ("val_itm_accuracy", "ITM accuracy")], "held-out accuracy", Path.Combine(plots, "validation.png"));
    }
}
