using System.Diagnostics;
using InterBert.Training;
using Spectre.Console;

namespace InterBert.Cli;

/// <summary>
/// Shows the progress of long work: a Spectre.Console progress bar on a terminal, plain log lines (at most one
/// every few seconds) otherwise. Ctrl-C requests cancellation instead of killing the process, so work in
/// progress can be written before exiting.
/// </summary>
public static class ProgressDisplay
{
    /// <summary>One update: work done of the total, and a short status line.</summary>
    public readonly record struct Update(double Done, double Total, string Status);

    /// <summary>Runs <paramref name="work"/> with a progress sink and a cancellation token tied to Ctrl-C.</summary>
    public static T Run<T>(string title, Func<IProgress<Update>, CancellationToken, T> work)
    {
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (cancel.IsCancellationRequested) return; // a second Ctrl-C ends the process
            e.Cancel = true;
            cancel.Cancel();
            Console.Error.WriteLine($"{title}: interrupted; writing what is done (run again to continue)");
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            if (!Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive)
            {
                return AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                    .Start(context =>
                    {
                        var task = context.AddTask(Markup.Escape(title), maxValue: 1);
                        return work(new SynchronousProgress<Update>(u =>
                        {
                            task.MaxValue = Math.Max(u.Total, 1e-9);
                            task.Value = u.Done;
                            task.Description = Markup.Escape($"{title} {u.Status}");
                        }), cancel.Token);
                    });
            }
            var watch = Stopwatch.StartNew();
            var last = TimeSpan.Zero;
            return work(new SynchronousProgress<Update>(u =>
            {
                if (watch.Elapsed - last < TimeSpan.FromSeconds(5) && u.Done < u.Total) return;
                last = watch.Elapsed;
                Console.WriteLine($"{title}: {u.Done:0.#}/{u.Total:0.#} ({(u.Total > 0 ? u.Done / u.Total : 0):P0}) {u.Status} [{watch.Elapsed:hh\\:mm\\:ss}]");
            }), cancel.Token);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
