using InterBert.Modeling;

namespace InterBert.Tests.Modeling;

/// <summary><c>auto</c> precision: bf16 only where the CPU multiplies it natively (emulated, it runs many times slower than fp32).</summary>
public sealed class Bf16SupportTests
{
    private const string Avx2Epyc = """
        processor	: 0
        vendor_id	: AuthenticAMD
        model name	: AMD EPYC
        flags		: fpu vme de pse tsc msr pae mce cx8 apic sep fma avx f16c avx2 bmi2 sha_ni
        processor	: 1
        flags		: fpu vme de pse tsc msr pae mce cx8 apic sep fma avx f16c avx2 bmi2 sha_ni
        """;

    private const string SapphireRapids = """
        processor	: 0
        model name	: Intel(R) Xeon(R) Platinum 8480+
        flags		: fpu avx2 avx512f avx512bw avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8
        processor	: 1
        flags		: fpu avx2 avx512f avx512bw avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8
        """;

    [Fact]
    public void OnlyCpusThatNameABf16InstructionSetOnEveryProcessorCount()
    {
        Assert.False(Bf16Support.FromCpuInfo(Avx2Epyc));
        Assert.True(Bf16Support.FromCpuInfo(SapphireRapids));
        // AVX-512 without its BF16 extension (Skylake-SP) is not enough; Cooper Lake's avx512_bf16 alone is.
        Assert.False(Bf16Support.FromCpuInfo("flags\t\t: fpu avx2 avx512f avx512bw avx512_vnni avx512_fp16\n"));
        Assert.True(Bf16Support.FromCpuInfo("flags\t\t: fpu avx2 avx512f avx512_bf16\n"));
        // Arm lists Features: bf16 there is the BF16 extension (Neoverse V1, Graviton 3); i8mm alone is not.
        Assert.True(Bf16Support.FromCpuInfo("processor\t: 0\nFeatures\t: fp asimd evtstrm aes sve i8mm bf16 dgh\n"));
        Assert.False(Bf16Support.FromCpuInfo("processor\t: 0\nFeatures\t: fp asimd evtstrm aes i8mm\n"));
        // A flag whose name only contains the word does not count, and nothing to read means no.
        Assert.False(Bf16Support.FromCpuInfo("flags\t\t: fpu avx2 xbf16x\n"));
        Assert.False(Bf16Support.FromCpuInfo(""));
        // A machine whose processors differ: bf16 only if every one has it.
        Assert.False(Bf16Support.FromCpuInfo(SapphireRapids + "\nprocessor\t: 2\nflags\t\t: fpu avx2\n"));
    }

    [Fact]
    public void AutoIsBf16ExactlyWhereTheCpuIsNative()
    {
        Assert.Equal(Bf16Support.IsNative ? Precision.Bf16 : Precision.Fp32, PrecisionNames.Parse("auto"));
        Assert.Equal(Precision.Bf16, PrecisionNames.Parse("BF16"));
        Assert.Equal(Precision.Fp32, PrecisionNames.Parse("fp32"));
        Assert.Contains("auto", Assert.Throws<ArgumentException>(() => PrecisionNames.Parse("fp16")).Message);
    }

    [Fact]
    public void TheRecipesDefaultToAutoAndSayWhatItChose()
    {
        // Refused before any work by an option error after the precision is parsed: the line about the precision comes first.
        var demo = CliProcess.Run("demo", "--lang", "xx", "--out", Path.Combine(Path.GetTempPath(), "interbert-no-demo"));
        Assert.NotEqual(0, demo.ExitCode);
        Assert.Contains($"precision auto: {(Bf16Support.IsNative ? "bf16" : "fp32")}", demo.Output);
        // Asked for bf16 where it would be emulated: a warning, not a refusal.
        var asked = CliProcess.Run("demo", "--lang", "xx", "--precision", "bf16", "--out", Path.Combine(Path.GetTempPath(), "interbert-no-demo"));
        Assert.Equal(!Bf16Support.IsNative, asked.Error.Contains("bf16 runs emulated", StringComparison.Ordinal));
        if (!Bf16Support.IsNative)
        {
            // The grounded recipe (bf16 only) is refused where bf16 would be emulated, after the other options' checks, unless asked for.
            var groundedFolder = Path.Combine(Path.GetTempPath(), "interbert-no-grounded-demo-" + Guid.NewGuid().ToString("N"));
            var grounded = CliProcess.Run("demo", "--grounded", "--out", groundedFolder);
            Assert.Equal(2, grounded.ExitCode);
            Assert.Contains("give --precision bf16", grounded.Error);
            Assert.Single(grounded.Error.Trim().Split('\n'));
            Assert.False(Directory.Exists(groundedFolder));
            var invalid = CliProcess.Run("demo", "--grounded", "--grounding-lr", "-1", "--out", groundedFolder);
            Assert.Contains("--grounding-lr -1", invalid.Error);
        }
        var help = CliProcess.Run("benchmark", "flickr8k", "--help");
        Assert.Contains("[default: auto]", help.Output);
    }
}
