using InterBert.Data;
using InterBert.Distributed;
using InterBert.Modeling;
using InterBert.Pretraining;
using InterBert.Text;
using InterBert.Training;
using InterBert.Weights;
using static TorchSharp.torch;

namespace InterBert.Tests.Pretraining;

/// <summary>Pretraining's contrastive loss over more captions than the step's examples (<c>pretrain --contrastive-batch-size</c>).</summary>
[Collection("coco features")]
public sealed class PretrainingContrastiveBatchTests(CocoFeatures features)
{
    [Fact]
    public void TheExamplesComeFirstThenDistinctOtherCaptionsUpToTheSizeOrTheCorpus()
    {
        var random = new Random(1);
        var captions = ContrastiveBatch.Captions([5, 9, 2], 10, 40, random);
        Assert.Equal([5, 9, 2], captions.Take(3));
        Assert.Equal(10, captions.Count);
        Assert.Equal(10, captions.Distinct().Count());
        Assert.All(captions, c => Assert.InRange(c, 0, 39));
        // Not above the examples' count: the examples alone; above the corpus: every caption once.
        Assert.Equal([5, 9, 2], ContrastiveBatch.Captions([5, 9, 2], 3, 40, random));
        Assert.Equal([0, 1, 2, 3, 4, 5], ContrastiveBatch.Captions([0, 1], 100, 6, random).Order());
        // The others are a function of seed, step, micro-batch and rank position.
        Assert.Equal(ContrastiveBatch.Captions([5], 8, 40, PretrainingObjective.ContrastiveRandom(3, 7, 0, 0)),
            ContrastiveBatch.Captions([5], 8, 40, PretrainingObjective.ContrastiveRandom(3, 7, 0, 0)));
        Assert.NotEqual(ContrastiveBatch.Captions([5], 8, 40, PretrainingObjective.ContrastiveRandom(3, 7, 0, 0)),
            ContrastiveBatch.Captions([5], 8, 40, PretrainingObjective.ContrastiveRandom(3, 8, 0, 0)));
    }

    [Fact]
    public void AStepsContrastiveLossRunsOverTheExamplesAndTheOthersWhileTheOtherTasksStayAsWithout()
    {
        using var run = new TempFolder();
        using var store = FeatureStore.Open(features.StorePath);
        var vocabulary = MiniLmOnnxReader.ReadVocabularyBytes();
        var tokenizer = WordPieceTokenizer.Load(new MemoryStream(vocabulary), "minilm vocab.txt");
        manual_seed(7);
        using var model = new InterBertModel(TestInputs.TinyNoDropout with { VTargetSize = store.Manifest.ClassCount, VFeatureSize = store.Manifest.FeatureSize });
        model.eval();
        var train = CaptionCorpus.Load(SharedData.CocoDataset, ["train"], store, tokenizer, 36);
        var training = new TrainingOptions { Steps = 4, BatchSize = 6, LearningRate = 1e-3, Seed = 3 };
        var tasks = new PretrainingTaskOptions { ContrastiveWeight = 1, MaxRegions = model.Config.MaxRegionLength };
        PretrainingSetup Setup(PretrainingTaskOptions t) => new()
        {
            RunFolder = run.Path, Model = model, Tokenizer = tokenizer, Vocabulary = vocabulary, Train = train, Store = store, Training = training, Tasks = t,
        };
        const int step = 2, size = 20;
        double[] Values(PretrainingTaskOptions t)
        {
            using var scope = NewDisposeScope();
            return new PretrainingObjective(Setup(t)).Loss(step, 0, ProcessGroup.Single).Values;
        }
        var plain = Values(tasks);
        var wide = Values(tasks with { ContrastiveBatchSize = size });

        // The expected contrastive loss: the step's examples and the others drawn for it, through the unimodal passes.
        var examples = StepBatch.Share(new EpochCursor(train.Captions.Count, training.Seed), step, 0, training, ProcessGroup.Single);
        var captions = ContrastiveBatch.Captions(examples, size, train.Captions.Count, PretrainingObjective.ContrastiveRandom(training.Seed, step, 0, 0));
        Assert.Equal(size, captions.Distinct().Count());
        var builder = new PretrainingBatchBuilder(train, store, new SegmentMasker(tokenizer), new RegionMasker(), null, tasks, tokenizer.PadId, false);
        double Contrastive(IReadOnlyList<int> of)
        {
            using var scope = NewDisposeScope();
            var inputs = builder.ContrastiveInputs(of);
            return ContrastiveLoss.Compute(model, inputs.Text, inputs.Images, inputs.ImageOfText).item<float>();
        }
        // Values: loss, msm, mrm, itm, itc.
        Assert.Equal(Contrastive(examples), plain[4], 4);
        Assert.Equal(Contrastive(captions), wide[4], 4);
        Assert.NotEqual(plain[4], wide[4], 2); // about ln 20 against ln 6 for an untrained model
        // Masks, negatives and the other losses are those of the run without the option.
        for (var k = 1; k <= 3; k++) Assert.Equal(plain[k], wide[k], 5);

        // The command refuses it without the contrastive loss, in one line.
        var refused = CliProcess.Run("pretrain", "--dataset", SharedData.CocoDataset, "--features", features.StorePath, "--preset", "tiny", "--steps", "2",
            "--out", run.File("refused"), "--contrastive-batch-size", "16", "--threads", "2");
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("--contrastive-weight", refused.Error);
        Assert.Single(refused.Error.Trim().Split('\n'));
    }
}
