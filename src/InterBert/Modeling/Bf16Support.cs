namespace InterBert.Modeling;

/// <summary>
/// Whether this CPU multiplies bfloat16 natively. libtorch's bf16 matrix products run on AVX-512 BF16 or AMX (x86)
/// and on the BF16 extension (Arm); without them they are emulated and run many times slower than fp32 (on an AVX2
/// CPU a training step took over a hundred times fp32's), so <c>auto</c> precision picks bf16 only where it is native.
/// </summary>
public static class Bf16Support
{
    private static readonly Lazy<bool> Native = new(() => FromCpuInfo(ReadCpuInfo()));

    /// <summary>Whether this machine's CPU has native bf16 arithmetic (false where it cannot be told: Linux's /proc/cpuinfo is read).</summary>
    public static bool IsNative => Native.Value;

    /// <summary>
    /// Whether a <c>/proc/cpuinfo</c> text names a native bf16 instruction set on every processor it lists:
    /// <c>avx512_bf16</c> or <c>amx_bf16</c> among x86 <c>flags</c>, <c>bf16</c> among Arm <c>Features</c>.
    /// </summary>
    public static bool FromCpuInfo(string cpuInfo)
    {
        var lists = cpuInfo.Split('\n')
            .Select(line => line.Split(':', 2))
            .Where(parts => parts.Length == 2 && parts[0].Trim() is "flags" or "Features")
            .Select(parts => parts[1].Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .ToList();
        return lists.Count > 0 && lists.All(flags => flags.Any(flag => flag is "avx512_bf16" or "amx_bf16" or "bf16"));
    }

    /// <summary>The precision <c>auto</c> stands for on this machine: bf16 where it is native, fp32 otherwise.</summary>
    public static Precision Auto => IsNative ? Precision.Bf16 : Precision.Fp32;

    /// <summary>One line saying why this CPU runs bf16 slowly (for a warning when bf16 is asked for anyway).</summary>
    public const string SlowWarning = "this CPU has no native bf16 arithmetic (AVX-512 BF16, AMX or Arm BF16): bf16 runs emulated, many times slower than fp32";

    private static string ReadCpuInfo()
    {
        try
        {
            return OperatingSystem.IsLinux() && File.Exists("/proc/cpuinfo") ? File.ReadAllText("/proc/cpuinfo") : "";
        }
        catch (IOException)
        {
            return "";
        }
        catch (UnauthorizedAccessException)
        {
            return "";
        }
    }
}
