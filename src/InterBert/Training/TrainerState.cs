using System.Text.Json.Serialization;

namespace InterBert.Training;

/// <summary>Where a run stands, saved with each checkpoint (<c>trainer.json</c>).</summary>
public sealed record TrainerState
{
    /// <summary>Optimiser steps completed.</summary>
    [JsonPropertyName("step")] public int Step { get; init; }
    /// <summary>Steps skipped because the loss was not finite.</summary>
    [JsonPropertyName("skipped_non_finite")] public int SkippedNonFinite { get; init; }
    /// <summary>Of those, how many in a row up to now.</summary>
    [JsonPropertyName("non_finite_in_a_row")] public int NonFiniteInARow { get; init; }
    /// <summary>The options that must not change across a resume (seed, batch, steps...), as text.</summary>
    [JsonPropertyName("fingerprint")] public string Fingerprint { get; init; } = "";
}
