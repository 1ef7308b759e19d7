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
/// <para>
/// Embedding tables (named at construction) are updated row by row where few rows are live: a row whose gradient,
/// first and second moments are all zero (a token no step has seen) gets exactly no update but the decay, so only
/// the live rows go through the step. A MiniLM word table has 30,522 rows, and a demo step sees a few dozen of them.
/// </para>
/// </summary>
public sealed class AdamW : TorchSharp.Modules.AdamW
{
    private readonly Dictionary<IntPtr, torch.Tensor> denominators = new();
    private readonly HashSet<IntPtr> tables;

    /// <summary>
    /// Creates the optimiser over <paramref name="groups"/> (neither amsgrad nor maximize); <paramref name="embeddingTables"/>
    /// are the parameters (in the groups) whose rows are looked up by index.
    /// </summary>
    public AdamW(IEnumerable<ParamGroup> groups, double learningRate, IEnumerable<Parameter>? embeddingTables = null) : base(groups, learningRate)
    {
        tables = (embeddingTables ?? []).Select(t => t.Handle).ToHashSet();
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
                if (tables.Contains(parameter.Handle) && LiveRows(grad, state) is { } rows)
                {
                    var (weights, mean, square, rowGrad) = (parameter.index_select(0, rows), state.exp_avg.index_select(0, rows), state.exp_avg_sq.index_select(0, rows), grad.index_select(0, rows));
                    mean.mul_(beta1).add_(rowGrad, alpha: 1 - beta1);
                    square.mul_(beta2).addcmul_(rowGrad, rowGrad, value: 1 - beta2);
                    weights.addcdiv_(mean, square.sqrt().div_(Math.Sqrt(biasCorrection2)).add_(eps), value: -(learningRate / biasCorrection1));
                    parameter.index_copy_(0, rows, weights);
                    state.exp_avg.index_copy_(0, rows, mean);
                    state.exp_avg_sq.index_copy_(0, rows, square);
                    continue;
                }
                state.exp_avg.mul_(beta1).add_(grad, alpha: 1 - beta1);
                state.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value: 1 - beta2);
                var denominator = Denominator(parameter, state.exp_avg_sq);
                denominator.copy_(state.exp_avg_sq).sqrt_().div_(Math.Sqrt(biasCorrection2)).add_(eps);
                parameter.addcdiv_(state.exp_avg, denominator, value: -(learningRate / biasCorrection1));
            }
        }, closure);
    }

    /// <summary>The rows of a table with a gradient or a moment that is not zero, when they are under half the table (else the whole step is cheaper).</summary>
    private static torch.Tensor? LiveRows(torch.Tensor grad, State state)
    {
        // A row's largest and smallest values are both zero only where all of it is; these reductions run at memory
        // speed, where ne(0).any(1) took ten times as long. The second moment is never negative.
        var live = NotZero(grad).logical_or_(NotZero(state.exp_avg)).logical_or_(state.exp_avg_sq.amax(1).ne(0));
        var rows = live.nonzero().squeeze(1);
        return rows.shape[0] * 2 < grad.shape[0] ? rows : null;
    }

    private static torch.Tensor NotZero(torch.Tensor rows) => rows.amax(1).ne(0).logical_or_(rows.amin(1).ne(0));

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
