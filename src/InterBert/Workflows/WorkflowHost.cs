namespace InterBert.Workflows;

/// <summary>
/// Where a workflow reports to and how it runs its stages. The default writes lines to the console and runs each
/// stage with the workflow's cancellation token; a command line overrides <see cref="RunStage{T}"/> to draw a progress
/// bar and turn Ctrl-C into cancellation.
/// </summary>
public class WorkflowHost
{
    /// <summary>Writes one line of the workflow's log.</summary>
    public virtual void Log(string line) => Console.WriteLine(line);

    /// <summary>Runs one stage's work with a progress sink and a cancellation token.</summary>
    public virtual T RunStage<T>(string stage, Func<IProgress<WorkflowProgress>, CancellationToken, T> work, CancellationToken cancel) =>
        work(new Progress<WorkflowProgress>(), cancel);
}
