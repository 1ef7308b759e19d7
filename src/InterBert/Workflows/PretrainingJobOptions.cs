using InterBert.Modeling;
using InterBert.Pretraining;

namespace InterBert.Workflows;

/// <summary>What <see cref="PretrainingJob"/> trains: data, starting weights (a file, or a preset's random weights), the run folder, the schedule and the three tasks.</summary>
public sealed record PretrainingJobOptions
{
    /// <summary>Dataset (Karpathy JSON, COCO captions JSON, JSONL, MUGE, a Flickr folder).</summary>
    public required string Dataset { get; init; }
    /// <summary>Feature store of the dataset's images.</summary>
    public required string Features { get; init; }
    /// <summary>Run folder: checkpoints, metrics.jsonl, plots, model.safetensors.</summary>
    public required string Output { get; init; }
    /// <summary>Weights to start from; null with <see cref="Preset"/>.</summary>
    public string? Init { get; init; }
    /// <summary>Random weights of this preset instead of <see cref="Init"/>.</summary>
    public string? Preset { get; init; }
    /// <summary>Vocabulary file for <see cref="Preset"/>; else <see cref="DefaultVocabulary"/>.</summary>
    public string? Vocabulary { get; init; }
    /// <summary>
    /// The vocabulary (vocab.txt bytes) for <see cref="Preset"/> when no <see cref="Vocabulary"/> file is given: the
    /// command line passes BERT-uncased as MiniLM ships it (InterBert.Recipes).
    /// </summary>
    public byte[]? DefaultVocabulary { get; init; }
    /// <summary>Optimiser steps; null to derive them from <see cref="Epochs"/>.</summary>
    public int? Steps { get; init; }
    /// <summary>Passes over the training captions, when <see cref="Steps"/> is null.</summary>
    public double? Epochs { get; init; }
    /// <summary>Pairs per micro-batch.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Micro-batches per step.</summary>
    public int GradientAccumulation { get; init; } = 1;
    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; init; } = 1e-4;
    /// <summary>Share of the steps spent warming up to <see cref="LearningRate"/>, before the linear decay.</summary>
    public double WarmupFraction { get; init; } = 0.1;
    /// <summary>Learning-rate multiplier of weights that came pretrained.</summary>
    public double PretrainedLearningRateMultiplier { get; init; } = 1;
    /// <summary>Seed of initialisation, order, masks and dropout.</summary>
    public int Seed { get; init; } = 42;
    /// <summary>Steps between checkpoints.</summary>
    public int CheckpointEvery { get; init; } = 500;
    /// <summary>Checkpoints kept.</summary>
    public int KeepCheckpoints { get; init; } = 3;
    /// <summary>Steps between validations.</summary>
    public int EvalEvery { get; init; } = 500;
    /// <summary>Steps between lines of metrics.jsonl.</summary>
    public int LogEvery { get; init; } = 10;
    /// <summary>Splits to train on.</summary>
    public IReadOnlyList<string> TrainSplits { get; init; } = ["train"];
    /// <summary>Held-out split for validation; null or "none" to skip.</summary>
    public string? ValidationSplit { get; init; } = "val";
    /// <summary>Validate on the split's first this many captions only (null: all of them).</summary>
    public int? ValidationCaptions { get; init; }
    /// <summary>Folder of the cached caption neighbours (hard ITM negatives); null for the user's cache folder.</summary>
    public string? NeighbourCache { get; init; }
    /// <summary>Continue the run in <see cref="Output"/> from its last checkpoint.</summary>
    public bool Resume { get; init; }
    /// <summary>The three tasks' settings and loss weights (MaxRegions is taken from the model).</summary>
    public PretrainingTaskOptions Tasks { get; init; } = new();
    /// <summary>
    /// The <see cref="Modeling.InterBertConfig.RegionJudgeWeight"/> of the model this run writes (its pair scores add the
    /// region head's judgement at this weight); null: the initial weights'.
    /// </summary>
    public double? RegionJudgeWeight { get; init; }
    /// <summary>Arithmetic of the matrix products.</summary>
    public Precision Precision { get; init; } = Precision.Fp32;
}
