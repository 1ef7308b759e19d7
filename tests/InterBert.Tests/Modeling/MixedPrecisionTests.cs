using InterBert.Benchmarks;
using InterBert.Modeling;
using InterBert.Pretraining;
using InterBert.Training;
using static TorchSharp.torch;

namespace InterBert.Tests.Modeling;

/// <summary>bf16 mixed precision: libtorch's autocast regions, fp32 outputs and parameters, the fast dropout, and that bf16 training learns as fp32 does.</summary>
public class MixedPrecisionTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void AutocastRegionRunsLinearLayersInBf16AndRestoresTheThreadState()
    {
        using var scope = NewDisposeScope();
        var linear = nn.Linear(8, 4);
        var input = randn(3, 8);
        Assert.Equal(ScalarType.Float32, linear.call(input).dtype);
        using (AutocastScope.Enter(Precision.Bf16))
        {
            Assert.True(AutocastScope.IsActive);
            Assert.Equal(ScalarType.BFloat16, linear.call(input).dtype);
            using (AutocastScope.Enter(Precision.Fp32))
            {
                // An fp32 region inside a bf16 one switches it off until it ends.
                Assert.False(AutocastScope.IsActive);
                Assert.Equal(ScalarType.Float32, linear.call(input).dtype);
            }
            Assert.Equal(ScalarType.BFloat16, linear.call(input).dtype);
            using (AutocastScope.Enter(Precision.Bf16)) Assert.Equal(ScalarType.BFloat16, linear.call(input).dtype);
            Assert.True(AutocastScope.IsActive);
        }
        Assert.False(AutocastScope.IsActive);
        Assert.Equal(ScalarType.Float32, linear.call(input).dtype);
        Assert.Equal(ScalarType.Float32, linear.weight!.dtype);
    }

    [Fact]
    public void Bf16ForwardGivesFp32OutputsCloseToFp32ButNotEqual()
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        using var model = new InterBertModel(TestInputs.TinyNoDropout);
        model.eval();
        using var noGrad = no_grad();
        var batch = TrainingBenchmark.SyntheticBatch(model.Config, 4, 12, 6, seed: 3);
        var exact = model.Forward(batch.Text, batch.Image);
        var exactScore = model.Score(exact);
        model.Precision = Precision.Bf16;
        var mixed = model.Forward(batch.Text, batch.Image);
        var mixedScore = model.Score(mixed);
        foreach (var (a, b) in new[] { (exact.TextSequence!, mixed.TextSequence!), (exact.ImageSequence!, mixed.ImageSequence!), (exact.PooledText!, mixed.PooledText!), (exactScore, mixedScore) })
        {
            Assert.Equal(ScalarType.Float32, b.dtype);
            var difference = (a - b).abs().max().item<float>();
            var scale = a.abs().max().item<float>();
            // bf16 keeps 8 bits of mantissa: a relative error near 1% per product, and no longer exact.
            Assert.True(difference > 0, "bf16 gave exactly the fp32 values: the matrix products did not run in bf16");
            Assert.True(difference < 0.1 * scale, $"bf16 differs by {difference} at scale {scale}");
        }
        Assert.False(AutocastScope.IsActive);
    }

    [Fact]
    public void Bf16TrainingKeepsFp32ParametersGradientsAndOptimizerState()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var model = new InterBertModel(InterBertConfig.Tiny) { Precision = Precision.Bf16 };
        model.train();
        var groups = ParameterGroups.Create(model, new TrainingOptions(), new HashSet<string>());
        var before = model.parameters().Select(p => p.detach().clone()).ToList();
        PretrainingLosses losses;
        using (model.Autocast()) losses = PretrainingLosses.Compute(model, TrainingBenchmark.SyntheticBatch(model.Config, 4, 10, 5, seed: 1), new PretrainingTaskOptions());
        Assert.Equal(ScalarType.Float32, losses.Total.dtype);
        groups.Step(losses.Total);
        var parameters = model.parameters().ToList();
        Assert.All(parameters, p => Assert.Equal(ScalarType.Float32, p.dtype));
        Assert.All(parameters.Where(p => p.grad is not null), p => Assert.Equal(ScalarType.Float32, p.grad!.dtype));
        Assert.Contains(parameters.Zip(before), pair => !pair.First.detach().allclose(pair.Second, 0, 0));
        var state = groups.Optimizer.state_dict().State.Cast<TorchSharp.Modules.AdamW.State>().ToList();
        Assert.NotEmpty(state);
        Assert.All(state, s => Assert.Equal(ScalarType.Float32, s.exp_avg.dtype));
        Assert.All(state, s => Assert.Equal(ScalarType.Float32, s.exp_avg_sq.dtype));
    }

    [Fact]
    public void FastDropoutKeepsTheRightShareScalesAndFollowsTheSeed()
    {
        using var scope = NewDisposeScope();
        var input = ones(200_000);
        manual_seed(3);
        var first = AutocastDropout.Apply(input, 0.2);
        manual_seed(3);
        var again = AutocastDropout.Apply(input, 0.2);
        Assert.True(first.allclose(again, 0, 0), "the same seed gave another mask");
        var kept = first.ne(0).to_type(ScalarType.Float32).mean().item<float>();
        Assert.InRange(kept, 0.795f, 0.805f);
        // Kept elements are scaled by 1 / (1 - p), so the mean is preserved.
        Assert.Equal(1.25f, first.max().item<float>(), 4);
        Assert.InRange(first.mean().item<float>(), 0.99f, 1.01f);
        // Neighbouring elements are independent (each takes its own 16 random bits).
        var mask = first.ne(0).to_type(ScalarType.Float32);
        var bothKept = (mask.narrow(0, 0, 199_999) * mask.narrow(0, 1, 199_999)).mean().item<float>();
        Assert.InRange(bothKept, 0.63f, 0.65f);

        // Outside autocast the module is exactly torch's dropout with the same random stream.
        var module = new AutocastDropout(0.3);
        module.train();
        manual_seed(9);
        var ours = module.call(input);
        manual_seed(9);
        var torchs = nn.functional.dropout(input, 0.3, true);
        Assert.True(ours.allclose(torchs, 0, 0));
    }

    [Fact]
    public void Bf16AndFp32LearnAlikeOver100Steps()
    {
        // A tiny model trained 100 steps from one seed on the same 4 batches (all three losses, dropout on) in
        // each precision. Stated tolerance: every 20-step window's mean loss in bf16 is within 3% of fp32's (measured: within 1%), and
        // both curves fall by at least a quarter.
        var fp32 = LossCurve(Precision.Fp32);
        var bf16 = LossCurve(Precision.Bf16);
        for (var start = 0; start < 100; start += 20)
        {
            var a = fp32.Skip(start).Take(20).Average();
            var b = bf16.Skip(start).Take(20).Average();
            output.WriteLine($"steps {start + 1}-{start + 20}: fp32 {a:F4}, bf16 {b:F4} ({100 * (b / a - 1):+0.00;-0.00}%)");
            Assert.True(Math.Abs(a - b) <= 0.03 * a, $"steps {start + 1}-{start + 20}: fp32 {a:F4}, bf16 {b:F4}");
        }
        Assert.True(fp32.TakeLast(10).Average() < 0.75 * fp32.Take(10).Average(), $"fp32 did not learn: {fp32.Take(10).Average():F3} → {fp32.TakeLast(10).Average():F3}");
        Assert.True(bf16.TakeLast(10).Average() < 0.75 * bf16.Take(10).Average(), $"bf16 did not learn: {bf16.Take(10).Average():F3} → {bf16.TakeLast(10).Average():F3}");
    }

    private static List<double> LossCurve(Precision precision)
    {
        manual_seed(21);
        using var model = new InterBertModel(InterBertConfig.Tiny) { Precision = precision };
        model.train();
        var groups = ParameterGroups.Create(model, new TrainingOptions { LearningRate = 2e-3 }, new HashSet<string>());
        var batches = Enumerable.Range(0, 4).Select(k => TrainingBenchmark.SyntheticBatch(model.Config, 16, 12, 6, seed: 100 + k)).ToList();
        var losses = new List<double>();
        for (var step = 0; step < 100; step++)
        {
            using var scope = NewDisposeScope();
            PretrainingLosses result;
            using (model.Autocast()) result = PretrainingLosses.Compute(model, batches[step % batches.Count], new PretrainingTaskOptions());
            groups.Step(result.Total);
            losses.Add(result.Total.item<float>());
        }
        groups.Optimizer.Dispose();
        return losses;
    }
}
