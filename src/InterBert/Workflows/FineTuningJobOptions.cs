using InterBert.Modeling;

namespace InterBert.Workflows;

/// <summary>What <see cref="FineTuningJob"/> trains: the task, its data, the starting weights, the run folder and the schedule.</summary>
public sealed record FineTuningJobOptions
{
    /// <summary>retrieval, multiple-choice or text-classification.</summary>
    public required string Task { get; init; }
    /// <summary>Dataset with the training (and validation) split.</summary>
    public required string Dataset { get; init; }
    /// <summary>Weights to start from (init or pretrain output).</summary>
    public required string Init { get; init; }
    /// <summary>Run folder.</summary>
    public required string Output { get; init; }
    /// <summary>Feature store of the dataset's images (retrieval and multiple choice).</summary>
    public string? Features { get; init; }
    /// <summary>Passes over the training examples, when <see cref="Steps"/> is null.</summary>
    public double Epochs { get; init; } = 4;
    /// <summary>Optimiser steps (instead of <see cref="Epochs"/>).</summary>
    public int? Steps { get; init; }
    /// <summary>Examples per micro-batch.</summary>
    public int BatchSize { get; init; } = 8;
    /// <summary>Micro-batches per step.</summary>
    public int GradientAccumulation { get; init; } = 1;
    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; init; } = 2e-4;
    /// <summary>Learning-rate multiplier of the weights that came pretrained.</summary>
    public double PretrainedLearningRateMultiplier { get; init; } = 1;
    /// <summary>Seed.</summary>
    public int Seed { get; init; } = 42;
    /// <summary>Training split (retrieval).</summary>
    public string TrainSplit { get; init; } = "train";
    /// <summary>Validation split (retrieval); "none" to skip.</summary>
    public string ValidationSplit { get; init; } = "val";
    /// <summary>Steps between hard-negative mining (retrieval; 0: every epoch).</summary>
    public int MineEvery { get; init; }
    /// <summary>Weight of the image-text contrastive loss (retrieval; 0: off).</summary>
    public double ContrastiveWeight { get; init; }
    /// <summary>Share of wrong-caption pairs taken from the image's own hard negatives (retrieval).</summary>
    public double OwnNegativeRate { get; init; }
    /// <summary>Retrieval: which of the image's own hard negatives serve (their <c>changed</c> kind, e.g. <c>relation</c>); null: all.</summary>
    public string? OwnNegativeKind { get; init; }
    /// <summary>Retrieval: draw the wrong image and caption of each example within the batch in proportion to the contrastive similarity (ALBEF's sampling; needs <see cref="ContrastiveWeight"/>).</summary>
    public bool SimilarityNegatives { get; init; }
    /// <summary>Retrieval: wrong images per example beyond the 4-way loss's own (drawn by similarity with <see cref="SimilarityNegatives"/>, else at random).</summary>
    public int ExtraNegatives { get; init; }
    /// <summary>Retrieval: mine each caption's hard images by its text vector against every training image instead of by its image's nearest images.</summary>
    public bool MineByText { get; init; }
    /// <summary>Retrieval: captions in the contrastive loss per step, the examples plus random others (0: the examples alone).</summary>
    public int ContrastiveBatchSize { get; init; }
    /// <summary>Retrieval: the ranking loss on the score plus the scaled cosine held fixed, so the score learns to correct the first stage (needs <see cref="ContrastiveWeight"/>).</summary>
    public bool ResidualScore { get; init; }
    /// <summary>
    /// Retrieval: the joint pass gets its own copy of the single-stream layers (<see cref="Modeling.InterBertConfig.UntiedInteraction"/>),
    /// so that the ranking loss trains the interaction and the contrastive loss the unimodal vectors, each on layers of its own.
    /// </summary>
    public bool UntieInteraction { get; init; }
    /// <summary>
    /// Retrieval: as <see cref="UntieInteraction"/>, and the joint pass's extraction layers and poolers too
    /// (<see cref="Modeling.InterBertConfig.UntiedExtraction"/>): only the embeddings stay shared with the search vectors.
    /// </summary>
    public bool UntieExtraction { get; init; }
    /// <summary>Retrieval: the <see cref="Modeling.InterBertConfig.PairScore"/> of the model this run writes (null: the init's).</summary>
    public string? PairScore { get; init; }
    /// <summary>Retrieval, with <see cref="ContrastiveBatchSize"/>: the other captions' and photos' vectors without gradient (negatives only).</summary>
    public bool FixedContrastiveOthers { get; init; }

    /// <summary>
    /// Retrieval: train the re-ranker alone on lists of each training caption's photo and its this many minus one
    /// nearest training photos by the first stage (0: off). The first stage stays fixed; the interaction is untied.
    /// Needs a search model (<c>--init</c> trained with the contrastive loss) and no loss or sampling option of the first stage.
    /// </summary>
    public int RerankerLists { get; init; }

    /// <summary>
    /// Retrieval, with <see cref="RerankerLists"/>: the re-ranker is a late interaction of this many layers added to
    /// the search model (<see cref="Modeling.LateInteraction"/>), trained over the unimodal passes' sequences instead
    /// of the joint pass (0: the joint pass and its score head).
    /// </summary>
    public int LateInteraction { get; init; }

    /// <summary>Retrieval: weight of the word-region matching loss over the contrastive batch (0: off; needs the contrastive loss).</summary>
    public double WordRegionWeight { get; init; }
    /// <summary>
    /// Retrieval: a store of layer3 maps (<c>features --layer3-maps</c>) of the same images; the model then computes its
    /// region features with its own copy of ResNet-18's last stage, trained with it (<c>--visual finetune</c>).
    /// Null: the feature store's frozen features.
    /// </summary>
    public string? VisualMaps { get; init; }
    /// <summary>Steps between checkpoints.</summary>
    public int CheckpointEvery { get; init; } = 500;
    /// <summary>Checkpoints kept.</summary>
    public int KeepCheckpoints { get; init; } = 2;
    /// <summary>Steps between lines of metrics.jsonl.</summary>
    public int LogEvery { get; init; } = 10;
    /// <summary>Continue the run in <see cref="Output"/> from its last checkpoint.</summary>
    public bool Resume { get; init; }
    /// <summary>
    /// The <see cref="Modeling.InterBertConfig.RegionJudgeWeight"/> of the model this retrieval run writes (its pair scores add the
    /// region head's judgement at this weight); null: the initial weights'.
    /// </summary>
    public double? RegionJudgeWeight { get; init; }
    /// <summary>Arithmetic of the matrix products.</summary>
    public Precision Precision { get; init; } = Precision.Fp32;
}
