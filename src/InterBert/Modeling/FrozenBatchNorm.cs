using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>
/// Batch normalisation with fixed statistics and a learnable scale and shift: a pretrained CNN fine-tuned on batches
/// of a few photos keeps the statistics it was trained with (a handful of photos would make poor ones).
/// </summary>
public sealed class FrozenBatchNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter bias;
    private readonly Tensor runningMean;
    private readonly Tensor runningVar;
    private readonly double epsilon;

    /// <summary>Identity statistics (mean 0, variance 1) and affine map over <paramref name="channels"/> channels.</summary>
    public FrozenBatchNorm(int channels, double epsilon = 1e-5)
        : this(ones(channels), zeros(channels), zeros(channels), ones(channels), epsilon)
    {
    }

    /// <summary>Takes ownership of the given scale, shift and statistics.</summary>
    public FrozenBatchNorm(Tensor scale, Tensor shift, Tensor mean, Tensor variance, double epsilon) : base(nameof(FrozenBatchNorm))
    {
        weight = new Parameter(scale);
        bias = new Parameter(shift);
        runningMean = mean;
        runningVar = variance;
        this.epsilon = epsilon;
        register_parameter("weight", weight);
        register_parameter("bias", bias);
        register_buffer("running_mean", runningMean);
        register_buffer("running_var", runningVar);
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => nn.functional.batch_norm(x, runningMean, runningVar, weight, bias, training: false, eps: epsilon);

    /// <summary>Parameters and buffers are registered explicitly in the constructor.</summary>
    protected override void RegisterComponents() { }
}
