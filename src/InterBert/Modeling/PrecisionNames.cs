namespace InterBert.Modeling;

/// <summary>The names <see cref="Precision"/> goes by on the command line, in run.json, metrics and weights metadata.</summary>
public static class PrecisionNames
{
    /// <summary>Metadata key of the precision a weights file was trained in.</summary>
    public const string MetadataKey = "precision";

    /// <summary>"fp32" or "bf16".</summary>
    public static string Name(this Precision precision) => precision == Precision.Bf16 ? "bf16" : "fp32";

    /// <summary>
    /// Parses "fp32", "bf16" or "auto" (bf16 where this CPU does it natively, fp32 otherwise: <see cref="Bf16Support.Auto"/>),
    /// case-insensitive; throws an <see cref="ArgumentException"/> naming <paramref name="option"/> otherwise.
    /// </summary>
    public static Precision Parse(string text, string option = "--precision") => text.Trim().ToLowerInvariant() switch
    {
        "fp32" or "float32" => Precision.Fp32,
        "bf16" or "bfloat16" => Precision.Bf16,
        AutoName => Bf16Support.Auto,
        _ => throw new ArgumentException($"{option} '{text}': expected fp32, bf16 or auto"),
    };

    /// <summary>The name of the precision chosen by the CPU: bf16 where it is native, fp32 otherwise.</summary>
    public const string AutoName = "auto";
}
