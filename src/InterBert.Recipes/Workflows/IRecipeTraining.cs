using InterBert.Modeling;
using InterBert.Pretraining;

namespace InterBert.Workflows;

/// <summary>The training settings every recipe has, from which <see cref="RecipeTraining"/> builds the library's job options.</summary>
internal interface IRecipeTraining
{
    Precision Precision { get; }
    int Seed { get; }
    int PretrainSteps { get; }
    int PretrainBatch { get; }
    double PretrainLearningRate { get; }
    double PretrainedLearningRateMultiplier { get; }
    (double Segment, double Region, double Matching) LossWeights { get; }
    double ContrastiveWeight { get; }
    WholeImageRegionMasking WholeImageRegion { get; }
    int FinetuneSteps { get; }
    int FinetuneBatch { get; }
    double FinetuneLearningRate { get; }
}
