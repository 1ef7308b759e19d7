using InterBert.Data;
using InterBert.Modeling;
using InterBert.Text;
using InterBert.Training;

namespace InterBert.Pretraining;

/// <summary>Everything a pretraining run needs: the model and its vocabulary, the data, the recipe, and the processes that share the work.</summary>
public sealed record PretrainingSetup
{
    /// <summary>Run folder: checkpoints, metrics.jsonl, plots, model.safetensors.</summary>
    public required string RunFolder { get; init; }
    /// <summary>The model to pretrain (trained in place).</summary>
    public required InterBertModel Model { get; init; }
    /// <summary>The model's tokenizer (segment masking needs its word boundaries).</summary>
    public required WordPieceTokenizer Tokenizer { get; init; }
    /// <summary>The vocabulary file's bytes, written beside the weights.</summary>
    public required byte[] Vocabulary { get; init; }
    /// <summary>Training captions.</summary>
    public required CaptionCorpus Train { get; init; }
    /// <summary>Held-out captions for validation; null to skip.</summary>
    public CaptionCorpus? Validation { get; init; }
    /// <summary>Region features of the captions' images.</summary>
    public required FeatureStore Store { get; init; }
    /// <summary>The schedule.</summary>
    public required TrainingOptions Training { get; init; }
    /// <summary>The three tasks' settings and loss weights.</summary>
    public PretrainingTaskOptions Tasks { get; init; } = new();
    /// <summary>Keys of the weights that came pretrained (their learning rate takes the multiplier).</summary>
    public IReadOnlySet<string> PretrainedKeys { get; init; } = new HashSet<string>();
    /// <summary>Captions alike to each caption, for hard ITM negatives; null for random negatives only.</summary>
    public CaptionNeighbours? HardNegatives { get; init; }
    /// <summary>Continue the run in <see cref="RunFolder"/> from its last checkpoint.</summary>
    public bool Resume { get; init; }
    /// <summary>The processes training together; null when not launched by MPI.</summary>
    public Distributed.ProcessGroup? Group { get; init; }

    /// <summary>The processes training together (one process when not launched by MPI).</summary>
    public Distributed.ProcessGroup Processes => Group ?? Distributed.ProcessGroup.Single;
}
