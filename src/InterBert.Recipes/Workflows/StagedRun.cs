using System.Diagnostics;

namespace InterBert.Workflows;

/// <summary>
/// Runs a recipe's numbered stages in a working folder: a stage whose inputs (its fingerprint) did not change since it
/// finished is reused; one whose inputs changed starts over (its output folder removed); an interrupted one is run again
/// (continuing from its own checkpoints where it has them). Used by the demo and the Flickr8k recipe.
/// </summary>
public sealed class StagedRun(string folder, string recipe, int stageCount, WorkflowHost host, string elapsedFormat = @"hh\:mm\:ss")
{
    private readonly Stopwatch total = Stopwatch.StartNew();
    private int stageNumber;

    /// <summary>Which stages finished with which inputs, and how long they took.</summary>
    public StageCache Cache { get; } = new(Directory.CreateDirectory(Claimed(folder)).FullName);

    /// <summary>Time since the run started.</summary>
    public TimeSpan Elapsed => total.Elapsed;

    /// <summary>Runs (or reuses) the next stage; false when it was interrupted.</summary>
    public bool Stage(string name, string title, string fingerprint, string? output, Func<IProgress<WorkflowProgress>, CancellationToken, bool> work, CancellationToken cancel)
    {
        var header = $"[{++stageNumber}/{stageCount}] {title}";
        if (Cache.IsDone(name, fingerprint))
        {
            host.Log($"{header}: reused [{Clock}]");
            return true;
        }
        host.Log($"{header} [{Clock}]");
        if (!Cache.Start(name, fingerprint) && output is not null && Directory.Exists(output)) Directory.Delete(output, recursive: true);
        var watch = Stopwatch.StartNew();
        bool finished;
        try
        {
            finished = host.RunStage(name, work, cancel);
        }
        catch (OperationCanceledException)
        {
            finished = false;
        }
        if (!finished)
        {
            host.Log($"{recipe}: interrupted in stage '{name}'; run the same command again to continue");
            return false;
        }
        Cache.Finish(name, fingerprint, watch.Elapsed.TotalSeconds);
        host.Log($"  done in {watch.Elapsed.TotalSeconds:F0} s");
        return true;
    }

    /// <summary>Announces the last, always-run step (the report).</summary>
    public void Last(string title) => host.Log($"[{++stageNumber}/{stageCount}] {title} [{Clock}]");

    /// <summary>
    /// Refuses an existing non-empty folder that is not a recipe's working folder (no stages.json): stages whose
    /// inputs changed remove their outputs there.
    /// </summary>
    private static string Claimed(string folder)
    {
        OutputFolder.Claim(folder, "a recipe's working folder", StageCache.FileName);
        return folder;
    }

    private string Clock => total.Elapsed.ToString(elapsedFormat);
}
