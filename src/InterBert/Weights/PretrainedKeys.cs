namespace InterBert.Weights;

/// <summary>
/// The weights-file metadata entry that lists the parameters that came from a pretrained text encoder, so that
/// fine-tuning can give them a lower learning rate (<c>--pretrained-lr-multiplier</c>). <c>init</c> writes it; every
/// run that saves weights (pretraining, fine-tuning) carries it on, so the list survives a chain of runs.
/// </summary>
public static class PretrainedKeys
{
    /// <summary>The metadata key: model keys, comma-separated.</summary>
    public const string MetadataKey = "pretrained_keys";

    /// <summary>The keys recorded in a weights file (empty when none are).</summary>
    public static HashSet<string> Read(string weightsPath) =>
        ModelCheckpoint.ReadMetadata(weightsPath).TryGetValue(MetadataKey, out var keys) && keys.Length > 0 ? keys.Split(',').ToHashSet(StringComparer.Ordinal) : [];

    /// <summary>Records <paramref name="keys"/> in <paramref name="metadata"/> (nothing when there are none).</summary>
    public static void Record(IDictionary<string, string> metadata, IEnumerable<string> keys)
    {
        var list = keys.Order(StringComparer.Ordinal).ToList();
        if (list.Count > 0) metadata[MetadataKey] = string.Join(",", list);
    }
}
