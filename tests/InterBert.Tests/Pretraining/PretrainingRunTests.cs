using InterBert.Data;
using InterBert.Modeling;
using InterBert.Pretraining;
using InterBert.Text;
using InterBert.Training;
using InterBert.Weights;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace InterBert.Tests.Pretraining;

[Collection("coco features")]
public class PretrainingRunTests(CocoFeatures features, ITestOutputHelper output)
{
    [Fact]
    public void TinyModelLearnsOnCocoSampleFeatures()
    {
        using var run = new TempFolder();
        using var store = FeatureStore.Open(features.StorePath);
        var vocabulary = MiniLmOnnxReader.ReadVocabularyBytes();
        var tokenizer = WordPieceTokenizer.Load(new MemoryStream(vocabulary), "minilm vocab.txt");
        manual_seed(5);
        using var model = new InterBertModel(InterBertConfig.Tiny with { VTargetSize = store.Manifest.ClassCount });
        var train = CaptionCorpus.Load(SharedData.CocoDataset, ["train", "test"], store, tokenizer, 36);
        var validation = CaptionCorpus.Load(SharedData.CocoDataset, ["val"], store, tokenizer, 36);
        var training = new TrainingOptions { Steps = 500, BatchSize = 32, LearningRate = 1e-3, EvalEvery = 500, CheckpointEvery = 500, EvalPairs = 200, Seed = 3 };
        var tasks = new PretrainingTaskOptions();
        var neighbours = CaptionNeighbours.Build(train.Captions, train.ImageOf);

        var segmentMasker = new SegmentMasker(tokenizer);
        var before = PretrainingRun.Validate(model, new PretrainingBatchBuilder(validation, store, segmentMasker, new RegionMasker(), null, tasks with { HardNegativeRate = 0 }, tokenizer.PadId, false), validation, training, tasks);
        var result = PretrainingRun.Run(new PretrainingSetup
        {
            RunFolder = run.Path, Model = model, Tokenizer = tokenizer, Vocabulary = vocabulary, Train = train, Validation = validation, Store = store,
            Training = training, Tasks = tasks, HardNegatives = neighbours,
        });
        var after = result.Validation;
        output.WriteLine($"held-out before: {string.Join(", ", before.Select(p => $"{p.Key} {p.Value:F3}"))}");
        output.WriteLine($"held-out after:  {string.Join(", ", after.Select(p => $"{p.Key} {p.Value:F3}"))}");
        Assert.True(after["val_itm_accuracy"] >= 0.6, $"held-out ITM accuracy {after["val_itm_accuracy"]:P1}");
        Assert.True(after["val_msm"] < 0.75 * before["val_msm"], $"MSM loss {before["val_msm"]:F2} → {after["val_msm"]:F2}");
        Assert.True(after["val_mrm"] < before["val_mrm"]);

        // The run folder holds what the README promises.
        Assert.True(File.Exists(Path.Combine(run.Path, "model.safetensors")));
        // ... and is a model folder: the weights with vocab.txt, config.json and tokenizer_config.json beside them.
        Assert.Equal(vocabulary, File.ReadAllBytes(Path.Combine(run.Path, "vocab.txt")));
        Assert.Contains("\"model_type\": \"interbert\"", File.ReadAllText(Path.Combine(run.Path, "config.json")));
        Assert.True(File.Exists(Path.Combine(run.Path, "tokenizer_config.json")));
        Assert.Equal(store.Manifest.DType, InterBert.Data.ImagePreprocessing.ReadFrom(run.Path)!.FeatureDType);
        Assert.Equal(tokenizer.VocabularySize, ModelVocabulary.TokenizerFor(run.Path).VocabularySize);
        Assert.True(File.Exists(Path.Combine(run.Path, "plots", "losses.png")));
        Assert.True(File.Exists(Path.Combine(run.Path, "checkpoints", "step-500", "optimizer.bin")));
        var rows = new MetricsLog(Path.Combine(run.Path, "metrics.jsonl")).ReadAll();
        Assert.Equal(50, rows.Count(r => r["split"] is null)); // a line every 10 steps
        Assert.Equal(tokenizer.VocabularySize, ModelVocabulary.TokenizerFor(result.WeightsPath).VocabularySize);
    }

    [Fact]
    public void ParameterGroupsExemptBiasesAndLayerNormFromDecayAndScalePretrainedRates()
    {
        manual_seed(1);
        using var model = new InterBertModel(InterBertConfig.Tiny);
        var pretrained = model.named_parameters().Where(p => p.name.StartsWith("embeddings.")).Select(p => p.name).ToHashSet();
        var groups = ParameterGroups.Create(model, new TrainingOptions { WeightDecay = 0.01, LearningRate = 1e-3, PretrainedLearningRateMultiplier = 0.1 }, pretrained);
        groups.SetLearningRate(2e-3);
        var rates = groups.Optimizer.ParamGroups.Select(g => g.LearningRate).ToList();
        Assert.Equal(4, rates.Count);
        Assert.Equal([2e-4, 2e-4, 2e-3, 2e-3], rates.Select(r => Math.Round(r, 10)));
        Assert.True(ParameterGroups.NoDecay("encoder.layer.0.output.LayerNorm.weight"));
        Assert.True(ParameterGroups.NoDecay("cls.bi_seq_relationship.bias"));
        Assert.False(ParameterGroups.NoDecay("encoder.layer.0.output.dense.weight"));
        Assert.Equal(model.parameters().Count(), groups.Optimizer.ParamGroups.Sum(g => ((TorchSharp.Modules.AdamW.ParamGroup)g).Parameters.Count()));
    }

    [Fact]
    public void ScheduleWarmsUpThenDecaysLinearly()
    {
        Assert.Equal(0.1, LearningRateSchedule.Factor(0, 100, 0.1), 9);
        Assert.Equal(1.0, LearningRateSchedule.Factor(9, 100, 0.1), 9);
        Assert.Equal(0.5, LearningRateSchedule.Factor(55, 100, 0.1), 9);
        Assert.Equal(1.0 / 90, LearningRateSchedule.Factor(99, 100, 0.1), 9);
    }
}
