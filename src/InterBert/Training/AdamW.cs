using TorchSharp;
using TorchSharp.Modules;

namespace InterBert.Training;

/// <summary>
/// TorchSharp's AdamW with its arithmetic in the same order, so every update is bit for bit the same and its state
/// (saved in checkpoints) is the same, but without the two temporaries the library's step allocates per
/// parameter: the denominator goes into a buffer kept per parameter, and the decay pass is skipped where the decay
/// is zero. Allocating and faulting in fresh memory the size of every weight twice a step was half of what the
/// step cost (<c>bench optimizer</c>). Named as the library's class because TorchSharp writes the class name into
/// the saved state and checks it on loading: checkpoints written with either load into the other.
/// </summary>
public sealed class AdamW : TorchSharp.Modules.AdamW
{
    private readonly Dictionary<IntPtr, torch.Tensor> denominators = new();

    /// <summary>Creates the optimiser over <paramref name="groups"/> (neither amsgrad nor maximize).</summary>
    public AdamW(IEnumerable<ParamGroup> groups, double learningRate) : base(groups, learningRate)
    {
        foreach (var group in ParamGroups.Cast<ParamGroup>())
        {
            var options = (Options)group.Options;
            if (options.amsgrad == true || options.maximize == true) throw new ArgumentException("This AdamW takes neither amsgrad nor maximize.", nameof(groups));
        }
    }

    /// <inheritdoc />
    public override torch.Tensor step(Func<torch.Tensor>? closure = null)
    {
        return _step<ParamGroup>(group =>
        {
            var options = (Options)group.Options;
            double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, weightDecay = options.weight_decay!.Value;
            double eps = options.eps!.Value, learningRate = options.LearningRate!.Value;
            using var scope = torch.NewDisposeScope();
            foreach (var parameter in group.Parameters)
            {
                var grad = parameter.grad;
                if (grad is null) continue;
                var state = (State)_state[parameter.Handle];
                state.step += 1;
                if (weightDecay != 0) parameter.mul_(1 - learningRate * weightDecay);
                var biasCorrection1 = 1 - Math.Pow(beta1, state.step);
                var biasCorrection2 = 1 - Math.Pow(beta2, state.step);
                state.exp_avg.mul_(beta1).add_(grad, alpha: 1 - beta1);
                state.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value: 1 - beta2);
                var denominator = Denominator(parameter, state.exp_avg_sq);
                denominator.copy_(state.exp_avg_sq).sqrt_().div_(Math.Sqrt(biasCorrection2)).add_(eps);
                parameter.addcdiv_(state.exp_avg, denominator, value: -(learningRate / biasCorrection1));
            }
        }, closure);
    }

    private torch.Tensor Denominator(Parameter parameter, torch.Tensor like)
    {
        if (denominators.TryGetValue(parameter.Handle, out var denominator)) return denominator;
        denominator = torch.empty_like(like).DetachFromDisposeScope();
        denominators[parameter.Handle] = denominator;
        return denominator;
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        foreach (var denominator in denominators.Values) denominator.Dispose();
        denominators.Clear();
        base.Dispose(disposing);
    }
}
