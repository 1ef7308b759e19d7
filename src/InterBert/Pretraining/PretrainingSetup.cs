using InterBert.Data;
using InterBert.Modeling;
using InterBert.Text;
using InterBert.Training;

namespace InterBert.Pretraining;

/// <summary>Everything a pretraining run needs: the model and its vocabulary, the data, the recipe, and the processes that share the work.</summary>
public sealed record PretrainingSetup(
    string RunFolder, InterBertModel Model, WordPieceTokenizer Tokenizer, byte[] Vocabulary,
    CaptionCorpus Train, CaptionCorpus? Validation, FeatureStore Store,
    TrainingOptions Training, PretrainingTaskOptions Tasks, IReadOnlySet<string> PretrainedKeys,
    CaptionNeighbours? HardNegatives, bool Resume, Distributed.ProcessGroup? Group = null)
{
    /// <summary>The processes training together (one process when not launched by MPI).</summary>
    public Distributed.ProcessGroup Processes => Group ?? Distributed.ProcessGroup.Single;
}
