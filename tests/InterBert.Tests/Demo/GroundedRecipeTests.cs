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
        Assert.True(DemoRecipeOptions.Grounded(chinese).ChineseLayersFromMiniLm);
        // MiniLM's layers fill the small preset only: another preset keeps random text layers rather than failing.
        Assert.False(DemoRecipeOptions.Grounded(chinese with { Preset = "tiny" }).ChineseLayersFromMiniLm);
        // English always starts from MiniLM; the Chinese-only switch stays off.
        Assert.False(DemoRecipeOptions.Grounded(DemoRecipeOptions.For("en", Precision.Bf16)).ChineseLayersFromMiniLm);
        Assert.Throws<ArgumentException>(() => DemoRecipeOptions.Grounded(DemoRecipeOptions.For("zh", Precision.Fp32)));
    }
}
