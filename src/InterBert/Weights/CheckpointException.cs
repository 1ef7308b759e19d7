namespace InterBert.Weights;

/// <summary>A weights file that cannot be read or does not fit the model (truncated, corrupt, wrong shape).</summary>
public sealed class CheckpointException(string message) : InterBertException(message);
