using InterBert.Modeling;
using InterBert.Workflows;

namespace InterBert.Tests.Demo;

public class GroundedRecipeTests
{
    [Fact]
    public void ChineseGroundingStartsFromMiniLmsLayersWhereThePresetTakesThem()
    {
        var chinese = DemoRecipeOptions.For("zh", Precision.Bf16);
        Assert.False(chinese.ChineseLayersFromMiniLm); // the plain Chinese demo starts its text path random
        Assert.False(chinese.AlignedCharacters);
        Assert.True(DemoRecipeOptions.Grounded(chinese).ChineseLayersFromMiniLm);
        Assert.True(DemoRecipeOptions.Grounded(chinese).AlignedCharacters);
        Assert.NotEqual(DemoRecipeOptions.Grounded(chinese).Fingerprint("init"), (DemoRecipeOptions.Grounded(chinese) with { AlignedCharacters = false }).Fingerprint("init"));
        // MiniLM's layers fill the small preset only: another preset keeps random text layers rather than failing.
        Assert.False(DemoRecipeOptions.Grounded(chinese with { Preset = "tiny" }).ChineseLayersFromMiniLm);
        Assert.False(DemoRecipeOptions.Grounded(chinese with { Preset = "tiny" }).AlignedCharacters);
        // English always starts from MiniLM; the Chinese-only switches stay off.
        Assert.False(DemoRecipeOptions.Grounded(DemoRecipeOptions.For("en", Precision.Bf16)).ChineseLayersFromMiniLm);
        Assert.False(DemoRecipeOptions.Grounded(DemoRecipeOptions.For("en", Precision.Bf16)).AlignedCharacters);
        Assert.Throws<ArgumentException>(() => DemoRecipeOptions.Grounded(DemoRecipeOptions.For("zh", Precision.Fp32)));
        // Chinese steps are slower: its stages are half as long, to fit the same 15 minutes.
        Assert.Equal(300, DemoRecipeOptions.Grounded(DemoRecipeOptions.For("en", Precision.Bf16)).GroundingCurriculumSteps);
        Assert.Equal(150, DemoRecipeOptions.Grounded(chinese).GroundingCurriculumSteps);
        // ... and learn at a higher peak rate.
        Assert.Equal(2e-4, DemoRecipeOptions.Grounded(DemoRecipeOptions.For("en", Precision.Bf16)).GroundingLearningRate);
        Assert.Equal(3e-4, DemoRecipeOptions.Grounded(chinese).GroundingLearningRate);
    }
}
