using System.Text.Json.Nodes;

namespace InterBert.Training;

/// <summary>A run that reached its last step (see <see cref="Trainer.RunFinished"/>): its folder, every row of its metrics.jsonl, and the names of its loss series.</summary>
public sealed record FinishedRun(string Folder, IReadOnlyList<JsonObject> Metrics, IReadOnlyList<string> LossNames);
