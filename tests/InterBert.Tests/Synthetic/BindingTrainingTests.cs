using InterBert.Benchmarks;

namespace InterBert.Tests.Synthetic;

/// <summary><c>bench binding</c>'s curriculum: one way first, then a share of mixed steps rising to all.</summary>
public sealed class BindingTrainingTests
{
    [Fact]
    public void TheRampRaisesTheShareOfMixedStepsLinearlyAfterTheWarmUp()
    {
        var training = new BindingTraining(6000, 32, 1e-3, 1) { WarmUpSteps = 300, RampSteps = 2000 };
        var uniforms = Enumerable.Range(0, 1000).Select(i => (i + 0.5) / 1000).ToList();
        double WarmShare(int step) => uniforms.Count(u => training.WarmsUp(step, u)) / 1000.0;
        Assert.Equal(1.0, WarmShare(1));
        Assert.Equal(1.0, WarmShare(300));
        // Halfway through the ramp, half the steps still warm up; a quarter in, three quarters.
        Assert.InRange(WarmShare(1300), 0.49, 0.51);
        Assert.InRange(WarmShare(800), 0.74, 0.76);
        Assert.Equal(0.0, WarmShare(2301));
        Assert.Equal(0.0, WarmShare(6000));
        // Without a ramp the switch is at once.
        var atOnce = training with { RampSteps = 0 };
        Assert.True(atOnce.WarmsUp(300, 0.99));
        Assert.False(atOnce.WarmsUp(301, 0.99));
    }
}
