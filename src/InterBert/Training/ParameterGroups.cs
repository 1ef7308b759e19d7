using TorchSharp;
using TorchSharp.Modules;

namespace InterBert.Training;

/// <summary>
/// AdamW over four parameter groups: with or without weight decay (none on biases and LayerNorm), crossed with
/// pretrained or new (pretrained ones take the learning-rate multiplier).
/// </summary>
public sealed class ParameterGroups : IDisposable
{
    private readonly List<Parameter> parameters;
    private readonly double clipNorm;

    private ParameterGroups(AdamW optimizer, double[] multipliers, List<Parameter> parameters, double clipNorm)
    {
        Optimizer = optimizer;
        Multipliers = multipliers;
        this.parameters = parameters;
        this.clipNorm = clipNorm;
    }

    /// <summary>The optimiser.</summary>
    public AdamW Optimizer { get; }

    /// <summary>Each group's learning-rate multiplier, in the optimiser's group order.</summary>
    public IReadOnlyList<double> Multipliers { get; }

    /// <summary>Creates the optimiser for <paramref name="model"/>'s parameters (those held fixed, with requires_grad off, left out).</summary>
    public static ParameterGroups Create(torch.nn.Module model, TrainingOptions options, IReadOnlySet<string> pretrainedKeys)
    {
        var groups = new List<AdamW.ParamGroup>();
        var multipliers = new List<double>();
        foreach (var pretrained in new[] { true, false })
        {
            foreach (var decay in new[] { true, false })
            {
                var members = model.named_parameters()
                    .Where(p => p.parameter.requires_grad && pretrainedKeys.Contains(p.name) == pretrained && NoDecay(p.name) != decay)
                    .Select(p => p.parameter).ToList();
                if (members.Count == 0) continue;
                var multiplier = pretrained ? options.PretrainedLearningRateMultiplier : 1.0;
                groups.Add(new AdamW.ParamGroup(members, options.LearningRate * multiplier, 0.9, 0.999, 1e-8, decay ? options.WeightDecay : 0.0, false, false));
                multipliers.Add(multiplier);
            }
        }
        return new ParameterGroups(new AdamW(groups, options.LearningRate, model.named_parameters().Where(p => p.name.EndsWith("word_embeddings.weight", StringComparison.Ordinal)).Select(p => p.parameter)), multipliers.ToArray(), model.parameters().Where(p => p.requires_grad).ToList(), options.ClipNorm);
    }

    /// <summary>Whether a parameter is exempt from weight decay (biases, LayerNorm weights and the contrastive temperature).</summary>
    public static bool NoDecay(string name) =>
        name.EndsWith(".bias", StringComparison.Ordinal) || name.Contains("LayerNorm", StringComparison.Ordinal) || name == Modeling.InterBertModel.LogitScaleKey;

    /// <summary>One optimiser step on <paramref name="loss"/>: clear gradients, backward, clip, update.</summary>
    public void Step(torch.Tensor loss)
    {
        Optimizer.zero_grad();
        loss.backward();
        ClipAndUpdate();
    }

    /// <summary>Clips the accumulated gradients' norm (when clipping is on) and updates the parameters.</summary>
    public void ClipAndUpdate()
    {
        if (clipNorm > 0) torch.nn.utils.clip_grad_norm_(parameters, clipNorm);
        Optimizer.step();
    }

    /// <summary>Releases the optimiser and its moment estimates.</summary>
    public void Dispose() => Optimizer.Dispose();

    /// <summary>Sets every group's learning rate to peak x schedule factor x its multiplier.</summary>
    public void SetLearningRate(double learningRate)
    {
        var i = 0;
        foreach (var group in Optimizer.ParamGroups) group.LearningRate = learningRate * Multipliers[i++];
    }
}
