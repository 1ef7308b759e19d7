using InterBert.Data;
using InterBert.Modeling;
using InterBert.Tasks;
using InterBert.Weights;
using TorchSharp.PyBridge;

namespace InterBert.Tests.Tasks;

/// <summary>
/// <c>finetune --reranker-lists K</c>: the re-ranker trained alone on each caption's list of its photo and the first
/// stage's nearest others, over a first stage held bit-identical; refused where it cannot hold; resumed exactly.
/// </summary>
[Collection("coco features")]
public class RerankerListsTests(CocoFeatures features)
{
    private string WriteInit(TempFolder folder) => FinetuneResumeTests.WriteInit(features, folder);

    private string[] Finetune(string init, string run, params string[] more) =>
    [
        "finetune", "--task", "retrieval", "--dataset", SharedData.CocoDataset, "--features", features.StorePath, "--init", init, "--out", run,
        "--steps", "6", "--batch-size", "8", "--val-split", "none", "--seed", "3", "--lr", "1e-3", "--threads", "2", .. more,
    ];

    [Fact]
    public void TheReRankerTrainsAloneOverABitIdenticalFirstStageAndResumesExactly()
    {
        using var folder = new TempFolder();
        var init = WriteInit(folder);
        var search = folder.File("search");
        var first = CliProcess.Run(Finetune(init, search, "--contrastive-weight", "1"));
        Assert.True(first.ExitCode == 0, first.Error);
        var searchWeights = Path.Combine(search, "last.safetensors");

        // A model without a first stage, and the first stage's own options, are refused in one line.
        var noFirstStage = CliProcess.Run(Finetune(init, folder.File("refused"), "--reranker-lists", "5"));
        Assert.Equal(1, noFirstStage.ExitCode);
        Assert.Contains(init, noFirstStage.Error);
        Assert.Contains("--contrastive-weight", noFirstStage.Error);
        Assert.DoesNotContain("   at ", noFirstStage.Error);
        var contrastiveToo = CliProcess.Run(Finetune(searchWeights, folder.File("refused2"), "--reranker-lists", "5", "--contrastive-weight", "1"));
        Assert.Equal(2, contrastiveToo.ExitCode); // a usage error
        Assert.Contains("fixed first stage", contrastiveToo.Error);

        var lists = folder.File("lists");
        var arguments = Finetune(searchWeights, lists, "--reranker-lists", "5", "--checkpoint-every", "3");
        var trained = CliProcess.Run(arguments);
        Assert.True(trained.ExitCode == 0, trained.Error);
        Assert.Contains("its 4 nearest photos by the first stage", trained.Output);
        Assert.Contains("reranker-lists=5", File.ReadAllText(Path.Combine(lists, "checkpoints", "step-6", "trainer.json")));

        var before = Safetensors.LoadStateDict(searchWeights);
        var after = Safetensors.LoadStateDict(Path.Combine(lists, "last.safetensors"));
        var joint = after.Keys.Where(k => k.StartsWith("encoder.joint_layer.", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(joint);
        // Every weight the search model had is unchanged but the score head's; the head and the joint pass's own layers trained.
        foreach (var (key, tensor) in before)
        {
            var same = tensor.bytes.SequenceEqual(after[key].bytes);
            if (key.StartsWith(InterBertModel.ScoreHeadName + ".", StringComparison.Ordinal)) Assert.False(same, $"{key} did not train");
            else Assert.True(same, $"{key} of the first stage changed");
        }
        Assert.Contains(joint, key => !after[key].bytes.SequenceEqual(before["encoder." + key["encoder.joint_".Length..]].bytes));
        // Still a search model: the first stage's contrastive weight is recorded.
        Assert.Equal("1", ModelCheckpoint.ReadMetadata(Path.Combine(lists, "last.safetensors"))[ContrastiveLoss.WeightMetadataKey]);

        // Evaluated two-stage, it ranks by the same first stage as the model it started from, and re-ranks otherwise.
        var searchMetrics = EvaluateTwoStage(features, folder, searchWeights, "search.json");
        var listsMetrics = EvaluateTwoStage(features, folder, Path.Combine(lists, "last.safetensors"), "lists.json");
        Assert.Equal(searchMetrics["unimodal"]!.ToJsonString(), listsMetrics["unimodal"]!.ToJsonString());
        Assert.NotEqual(searchMetrics["score_only"]!.ToJsonString(), listsMetrics["score_only"]!.ToJsonString());

        // Killed after its first checkpoint, then resumed: the same weights as the run straight through (the lists are restored, not mined from a changed model).
        var killed = folder.File("killed");
        CliProcess.KillOnceWritten(Finetune(searchWeights, killed, "--reranker-lists", "5", "--checkpoint-every", "3"), Path.Combine(killed, "checkpoints", "step-3", "trainer.json"));
        Assert.False(File.Exists(Path.Combine(killed, "last.safetensors")), "the run finished before it could be killed");
        var resumed = CliProcess.Run([.. Finetune(searchWeights, killed, "--reranker-lists", "5", "--checkpoint-every", "3"), "--resume"]);
        Assert.True(resumed.ExitCode == 0, resumed.Error);
        var again = Safetensors.LoadStateDict(Path.Combine(killed, "last.safetensors"));
        foreach (var (key, tensor) in after) Assert.True(tensor.bytes.SequenceEqual(again[key].bytes), $"{key} differs after resume");
    }

    /// <summary>The metrics file of <c>evaluate --candidates 5 --add-similarity</c> of some weights on the COCO sample's val split.</summary>
    internal static System.Text.Json.Nodes.JsonNode EvaluateTwoStage(CocoFeatures features, TempFolder folder, string weights, string json)
    {
        var evaluation = CliProcess.Run(["evaluate", "--task", "retrieval", "--dataset", SharedData.CocoDataset, "--split", "val", "--features", features.StorePath,
            "--weights", weights, "--candidates", "5", "--add-similarity", "--metrics-out", folder.File(json), "--threads", "2"]);
        Assert.True(evaluation.ExitCode == 0, evaluation.Error);
        return System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(folder.File(json)))!;
    }

    [Fact]
    public void OnlyListsWhoseOwnPhotoTheFirstStagePutsAmongItsNearestCount()
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        var scores = TorchSharp.torch.tensor(new float[] { 2, 0, 1, /**/ 0, 3, 1, /**/ 1, 1, 1 }).view(3, 3);
        // List 0: its own photo's cosine above one other's (a candidate); list 1: below both (search never re-ranks it);
        // list 2: level with the lowest (a candidate).
        var cosines = TorchSharp.torch.tensor(new float[] { 0.5f, 0.9f, 0.2f, /**/ 0.1f, 0.8f, 0.7f, /**/ 0.3f, 0.3f, 0.6f }).view(3, 3);
        var loss = RetrievalFineTuning.ListLoss(scores, cosines).item<float>();
        double CrossEntropy(double own, params double[] others) => -own + Math.Log(Math.Exp(own) + others.Sum(Math.Exp));
        Assert.Equal((CrossEntropy(2, 0, 1) + CrossEntropy(1, 1, 1)) / 2, loss, 5);
        var none = RetrievalFineTuning.ListLoss(scores.narrow(0, 1, 1), cosines.narrow(0, 1, 1)).item<float>();
        Assert.Equal(0, none);
    }

    [Fact]
    public void AListIsTheCaptionWithItsOwnPhotoFirstThenItsMinedPhotosInOrder()
    {
        using var store = FeatureStore.Open(features.StorePath);
        var tokenizer = InterBert.Text.WordPieceTokenizer.Load(new MemoryStream(MiniLmOnnxReader.ReadVocabularyBytes()), "vocab");
        var corpus = CaptionCorpus.Load(SharedData.CocoDataset, ["val"], store, tokenizer, 36);
        using var pairs = new PreparedPairs(corpus, store, tokenizer.PadId, store.Manifest.FeatureSize, 36);
        var hard = Enumerable.Range(0, pairs.CaptionCount).Select(c => new[] { (corpus.ImageOf[c] + 1) % pairs.ImageCount, (corpus.ImageOf[c] + 7) % pairs.ImageCount }).ToArray();
        int[] examples = [3, 0, 17];
        var (captions, images) = RetrievalFineTuning.ListIds(pairs, examples, hard);
        Assert.Equal(examples.SelectMany(c => Enumerable.Repeat((long)c, 3)), captions);
        Assert.Equal(examples.SelectMany(c => new long[] { corpus.ImageOf[c], hard[c][0], hard[c][1] }), images);
    }

    [Fact]
    public void HoldingTheFirstStageLetsTheScoresGradientReachOnlyTheJointCopyAndTheHeadUntilReleased()
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        TorchSharp.torch.manual_seed(5);
        using var model = InterBert.Workflows.ModelLoading.Untie(new InterBertModel(TestInputs.TinyNoDropout), []);
        var text = TestInputs.Text(model.Config, [5, 3], 6, seed: 2);
        var image = TestInputs.Image(model.Config, [4, 2], 5, seed: 2);
        using (RetrievalFineTuning.HoldFirstStage(model))
        {
            model.Score(model.Forward(text, image)).sum().backward();
            foreach (var (name, parameter) in model.named_parameters())
            {
                var trained = name.StartsWith("encoder.joint_layer.", StringComparison.Ordinal) || name.StartsWith(InterBertModel.ScoreHeadName + ".", StringComparison.Ordinal);
                Assert.Equal(trained, parameter.requires_grad);
                if (!trained) Assert.Null(parameter.grad);
            }
            // A real gradient, not only a weight decay's pull: the first joint layer and the head both get one.
            Assert.True(model.named_parameters().Single(p => p.name == "encoder.joint_layer.0.attention.self.query.weight").parameter.grad!.abs().sum().item<float>() > 0);
            Assert.True(model.named_parameters().Single(p => p.name == InterBertModel.ScoreHeadName + ".weight").parameter.grad!.abs().sum().item<float>() > 0);
        }
        Assert.All(model.parameters(), p => Assert.True(p.requires_grad));
        using var tied = new InterBertModel(TestInputs.TinyNoDropout);
        Assert.Throws<ArgumentException>(() => RetrievalFineTuning.HoldFirstStage(tied));
    }
}
