using InterBert.Workflows;

namespace InterBert.Cli;

/// <summary>Runs a workflow's stages on the console: a progress bar (or log lines) per stage, and Ctrl-C as cancellation.</summary>
public sealed class ConsoleWorkflowHost : WorkflowHost
{
    /// <inheritdoc/>
    public override T RunStage<T>(string stage, Func<IProgress<WorkflowProgress>, CancellationToken, T> work, CancellationToken cancel) =>
        ProgressDisplay.Run(stage, (progress, interrupted) =>
        {
            using var both = CancellationTokenSource.CreateLinkedTokenSource(cancel, interrupted);
            return work(new ForwardedProgress(progress), both.Token);
        });

    private sealed class ForwardedProgress(IProgress<ProgressDisplay.Update> display) : IProgress<WorkflowProgress>
    {
        public void Report(WorkflowProgress value) => display.Report(new ProgressDisplay.Update(value.Done, value.Total, value.Status));
    }
}
