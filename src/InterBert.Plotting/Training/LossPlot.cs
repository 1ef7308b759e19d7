using System.Text.Json.Nodes;

namespace InterBert.Training;

/// <summary>Draws curves of metrics.jsonl series against the step as a PNG (ScottPlot).</summary>
public static class LossPlot
{
    /// <summary>Plots each named series found in <paramref name="rows"/>; rows without a series are skipped.</summary>
    public static void Write(IReadOnlyList<JsonObject> rows, IReadOnlyList<(string Key, string Label)> series, string title, string path)
    {
        var plot = new ScottPlot.Plot();
        foreach (var (key, label) in series)
        {
            var points = rows.Where(r => r[key] is not null && r["step"] is not null)
                .Select(r => (X: r["step"]!.GetValue<double>(), Y: r[key]!.GetValue<double>())).ToList();
            if (points.Count == 0) continue;
            var line = plot.Add.Scatter(points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray());
            line.LegendText = label;
            line.MarkerSize = points.Count > 50 ? 0 : 4;
        }
        plot.Title(title);
        plot.XLabel("step");
        plot.ShowLegend();
        AtomicFile.Write(path, temporary =>
        {
            plot.SavePng(temporary + ".png", 900, 500);
            File.Move(temporary + ".png", temporary, overwrite: true);
        });
    }
}
