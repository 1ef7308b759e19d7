namespace InterBert.Workflows;

/// <summary>
/// The host a library job sees when it runs as one stage of a recipe: its lines go to the recipe's log and its progress
/// to the stage's own bar (the stage already runs under the recipe's host, and a stage inside a stage would draw a
/// second bar).
/// </summary>
internal sealed class StageHost(WorkflowHost recipe, IProgress<WorkflowProgress> stageProgress) : WorkflowHost
{
    /// <inheritdoc/>
    public override void Log(string line) => recipe.Log(line);

    /// <inheritdoc/>
    public override T RunStage<T>(string stage, Func<IProgress<WorkflowProgress>, CancellationToken, T> work, CancellationToken cancel) => work(stageProgress, cancel);
}
