using InterBert.Data;
using InterBert.Modeling;
using InterBert.Pretraining;
using InterBert.Text;
using InterBert.Weights;

namespace InterBert.Workflows;

/// <summary>
/// How a recipe trains: through the library's <see cref="PretrainingJob"/> and <see cref="FineTuningJob"/>, the path the
/// <c>pretrain</c> and <c>finetune</c> verbs take, with options built from the recipe's settings. Each stage resumes:
/// one interrupted with the same inputs continues from its last checkpoint.
/// </summary>
internal static class RecipeTraining
{
    /// <summary>The pretraining job of a recipe: its settings' schedule and task weights, validation every quarter of the run.</summary>
    public static PretrainingJobOptions Pretraining(IRecipeTraining settings, string dataset, string features, string init, string output, string neighbourCache)
    {
        var (segment, region, matching) = settings.LossWeights;
        return new PretrainingJobOptions
        {
            Dataset = dataset, Features = features, Output = output, Init = init, Precision = settings.Precision, Seed = settings.Seed,
            Tasks = new PretrainingTaskOptions
            {
                SegmentWeight = segment, RegionWeight = region, MatchingWeight = matching, ContrastiveWeight = settings.ContrastiveWeight, WholeImageRegion = settings.WholeImageRegion,
            },
            Steps = settings.PretrainSteps, BatchSize = settings.PretrainBatch, LearningRate = settings.PretrainLearningRate, PretrainedLearningRateMultiplier = settings.PretrainedLearningRateMultiplier,
            KeepCheckpoints = 1, EvalEvery = Math.Max(1, settings.PretrainSteps / 4), NeighbourCache = neighbourCache, Resume = true,
        };
    }

    /// <summary>The retrieval fine-tuning job of a recipe (no validation split: the recipe evaluates on test afterwards).</summary>
    public static FineTuningJobOptions Retrieval(IRecipeTraining settings, string dataset, string features, string init, string output) => new()
    {
        Task = "retrieval", Dataset = dataset, Features = features, Init = init, Output = output, ValidationSplit = "none", Precision = settings.Precision, Seed = settings.Seed,
        Steps = settings.FinetuneSteps, BatchSize = settings.FinetuneBatch, LearningRate = settings.FinetuneLearningRate, PretrainedLearningRateMultiplier = settings.PretrainedLearningRateMultiplier,
        ContrastiveWeight = settings.ContrastiveWeight, CheckpointEvery = 100, KeepCheckpoints = 1, Resume = true,
    };

    /// <summary>Runs the pretraining job as the current stage; false when interrupted.</summary>
    public static bool Run(PretrainingJobOptions options, WorkflowHost host, IProgress<WorkflowProgress> progress, CancellationToken cancel) =>
        !PretrainingJob.Run(options, new StageHost(host, progress), cancel).Cancelled;

    /// <summary>Runs the fine-tuning job as the current stage; false when interrupted.</summary>
    public static bool Run(FineTuningJobOptions options, WorkflowHost host, IProgress<WorkflowProgress> progress, CancellationToken cancel) =>
        !FineTuningJob.Run(options, new StageHost(host, progress), cancel).Cancelled;

    /// <summary>English initial weights: MiniLM's text encoder in the preset's shape, the rest at random.</summary>
    public static void FromMiniLm(InterBertConfig config, string preset, string weights)
    {
        using var encoder = MiniLmOnnxReader.Read();
        PretrainedInitializer.CreateAndSave(config, encoder, $"preset {preset}", weights);
    }

    /// <summary>
    /// A vocabulary learned from the dataset's training captions (characters first, then frequent pairs), for a
    /// language no shipped weights cover; written to <paramref name="path"/>, its bytes returned.
    /// </summary>
    public static byte[] LearnVocabulary(string dataset, string path, int size)
    {
        var texts = DatasetReader.Read(dataset).Where(i => i.Split == "train").SelectMany(i => i.Captions).ToList();
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        WordPieceVocabularyBuilder.Write(WordPieceVocabularyBuilder.Build(texts, size), path);
        return File.ReadAllBytes(path);
    }

    /// <summary>
    /// Initial weights for a learned vocabulary from MiniLM's layers: tokens MiniLM knows keep its embeddings, the others
    /// start random (<see cref="VocabularyTransplant"/>); written with the vocabulary beside them. With
    /// <paramref name="parallelCaptions"/> (English caption, its translation), a token that aligns to an English token
    /// (<see cref="ParallelCaptionAlignment"/>) starts from that token's row. Returns how many tokens kept or took
    /// MiniLM's embeddings, how many are new, and how many of the first were aligned.
    /// </summary>
    public static (int Shared, int New, int Aligned) FromMiniLmWithVocabulary(InterBertConfig config, string preset, byte[] vocabulary, string vocabularyPath, string weights,
        IEnumerable<(string English, string Other)>? parallelCaptions = null)
    {
        using var english = MiniLmOnnxReader.Read();
        IReadOnlyDictionary<string, string>? alignment = null;
        if (parallelCaptions is not null)
        {
            var englishTokens = WordPieceTokenizer.Load(new MemoryStream(english.Vocabulary), english.Source, english.LowerCase);
            alignment = ParallelCaptionAlignment.Align(parallelCaptions, englishTokens, WordPieceTokenizer.Load(new MemoryStream(vocabulary), vocabularyPath));
        }
        var transplant = VocabularyTransplant.Apply(english, vocabulary, lowerCase: true, vocabularyPath, alignment);
        using var encoder = transplant.Encoder;
        PretrainedInitializer.CreateAndSave(config, encoder, $"preset {preset}", weights);
        return (transplant.SharedTokens, transplant.NewTokens, transplant.AlignedTokens);
    }

    /// <summary>Random initial weights for a learned vocabulary, written with the vocabulary beside them.</summary>
    public static void RandomWeights(InterBertConfig config, string vocabularyPath, byte[] vocabulary, string weights)
    {
        var tokenizer = WordPieceTokenizer.Load(vocabularyPath);
        using var model = new InterBertModel(config with { VocabSize = tokenizer.VocabularySize });
        ModelCheckpoint.Save(model, weights, ModelVocabulary.WriteBeside(weights, vocabulary, lowerCase: true));
    }
}
