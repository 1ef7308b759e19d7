using TorchSharp.Modules;
using InPlaceAdamW = InterBert.Training.AdamW;
using LibraryAdamW = TorchSharp.Modules.AdamW;
using static TorchSharp.torch;

namespace InterBert.Tests.Training;

/// <summary>
/// The trainer's AdamW against TorchSharp's: the same weights after every step, with and without weight decay, a
/// learning rate that changes between steps, a weight that gets no gradient and an embedding table updated by its
/// live rows; the same saved state, so that checkpoints load across the two.
/// </summary>
public class AdamWTests
{
    private static readonly long[][] Shapes = [[50, 8], [8, 8], [8], [8]];

    private static Parameter[] Weights()
    {
        manual_seed(3);
        return Shapes.Select(shape => new Parameter(randn(shape))).ToArray();
    }

    /// <summary>Two groups as the trainer makes them: matrices with decay, vectors without.</summary>
    private static List<LibraryAdamW.ParamGroup> Groups(Parameter[] weights) =>
    [
        new(weights.Where(w => w.dim() == 2), 1e-2, 0.9, 0.999, 1e-8, 0.1, false, false),
        new(weights.Where(w => w.dim() == 1), 3e-3, 0.9, 0.999, 1e-8, 0.0, false, false),
    ];

    private static byte[] SavedState(LibraryAdamW optimizer)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) optimizer.save_state_dict(writer);
        return stream.ToArray();
    }

    [Fact]
    public void StepsAreBitIdenticalToTorchSharpsAdamW()
    {
        var library = Weights();
        var inPlace = Weights();
        using var reference = optim.AdamW(Groups(library), 1e-2);
        // The first weight is an embedding table: rows 0-2 are looked up every step, row 7 in the first step only (its
        // moments stay live after), row 9 in the fourth only, every other row never.
        using var optimizer = new InPlaceAdamW(Groups(inPlace), 1e-2, [inPlace[0]]);
        for (var step = 0; step < 6; step++)
        {
            manual_seed(100 + step);
            // The last vector gets no gradient in odd steps: both must skip it, and its moments stay as they were.
            for (var i = 0; i < library.Length; i++)
            {
                if (i == library.Length - 1 && step % 2 == 1)
                {
                    library[i].grad = null;
                    inPlace[i].grad = null;
                    continue;
                }
                var grad = randn(library[i].shape) * (i + 1);
                if (i == 0)
                {
                    var looked = new long[] { 0, 1, 2 }.Concat(step == 0 ? [7L] : []).Concat(step == 3 ? [9L] : []).ToArray();
                    var rows = zeros(library[0].shape[0], 1);
                    rows[tensor(looked)] = ones(looked.Length, 1);
                    grad = grad * rows;
                }
                library[i].grad = grad;
                inPlace[i].grad = grad.clone();
            }
            var factor = 1.0 - step / 8.0;
            foreach (var (a, b) in reference.ParamGroups.Zip(optimizer.ParamGroups)) { a.LearningRate *= factor; b.LearningRate *= factor; }
            reference.step();
            optimizer.step();
            for (var i = 0; i < library.Length; i++)
                Assert.True(library[i].data<float>().ToArray().SequenceEqual(inPlace[i].data<float>().ToArray()), $"weight {i} differs after step {step + 1}");
        }
        Assert.False(library[0].data<float>().ToArray().SequenceEqual(Weights()[0].data<float>().ToArray()), "the weights did not move");
        Assert.Equal(SavedState(reference), SavedState(optimizer));
    }

    [Fact]
    public void AmsgradIsRefused()
    {
        var weights = Weights();
        Assert.Throws<ArgumentException>(() => new InPlaceAdamW([new LibraryAdamW.ParamGroup(weights, 1e-3, 0.9, 0.999, 1e-8, 0, true, false)], 1e-3));
    }
}
