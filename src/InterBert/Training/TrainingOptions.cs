namespace InterBert.Training;

/// <summary>The optimisation recipe: AdamW with parameter groups, warmup then linear decay, accumulation, clipping, checkpoints.</summary>
public sealed record TrainingOptions
{
    /// <summary>Optimiser steps in the whole run.</summary>
    public int Steps { get; init; } = 1000;
    /// <summary>Pairs per micro-batch.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Micro-batches per optimiser step.</summary>
    public int GradientAccumulation { get; init; } = 1;
    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; init; } = 1e-4;
    /// <summary>Fraction of steps of linear warmup (then linear decay to 0).</summary>
    public double WarmupFraction { get; init; } = 0.1;
    /// <summary>AdamW weight decay (not applied to biases and LayerNorm).</summary>
    public double WeightDecay { get; init; } = 0.01;
    /// <summary>Learning-rate multiplier for parameters loaded from pretrained weights (the reference uses 0.1 in fine-tuning).</summary>
    public double PretrainedLearningRateMultiplier { get; init; } = 1.0;
    /// <summary>Gradient-norm clipping (0: off).</summary>
    public double ClipNorm { get; init; } = 1.0;
    /// <summary>Seed of initialisation, data order, masking and dropout.</summary>
    public int Seed { get; init; } = 42;
    /// <summary>Steps between checkpoints (and one at the end).</summary>
    public int CheckpointEvery { get; init; } = 500;
    /// <summary>Checkpoints kept (oldest deleted).</summary>
    public int KeepCheckpoints { get; init; } = 3;
    /// <summary>Steps between validations (0: only at the end).</summary>
    public int EvalEvery { get; init; } = 500;
    /// <summary>Held-out pairs per validation.</summary>
    public int EvalPairs { get; init; } = 256;
    /// <summary>Steps between metric lines.</summary>
    public int LogEvery { get; init; } = 10;
    /// <summary>Non-finite losses in a row that stop the run.</summary>
    public int MaxNonFiniteInARow { get; init; } = 5;
}
