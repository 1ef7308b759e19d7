using System.Text.Json.Nodes;
using InterBert.Modeling;
using InterBert.Tests.Tasks;
using InterBert.Weights;
using static TorchSharp.torch;

namespace InterBert.Tests.Modeling;

/// <summary>
/// <c>pair_score: joint-cosine</c>: the joint pass scored by the cosine of its own pooled vectors on the contrastive
/// loss's scale (capped as the first stage's is), trained through the vectors and never through the temperature.
/// </summary>
[Collection("coco features")]
public class JointCosineScoreTests(CocoFeatures features)
{
    private static float Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var k = 0; k < a.Length; k++) { dot += a[k] * b[k]; na += a[k] * a[k]; nb += b[k] * b[k]; }
        return (float)(dot / Math.Sqrt(na * nb));
    }

    [Fact]
    public void ScoresEachPairByTheJointPassesOwnVectorsOnTheCappedContrastiveScale()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        using var model = new InterBertModel(TestInputs.TinyNoDropout with { PairScore = InterBertConfig.JointCosineScore });
        model.eval();
        var text = TestInputs.Text(model.Config, [5, 3, 4], 6, seed: 2);
        var image = TestInputs.Image(model.Config, [4, 2, 3], 5, seed: 2);
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (logScale, expectedScale) in new[] { (Math.Log(20), 20.0), (Math.Log(1000), 100.0) })
        {
            using (no_grad()) parameters[InterBertModel.LogitScaleKey].fill_(logScale);
            var joint = model.Forward(text, image);
            var scores = model.PairScores(text, image, zeroShot: false).data<float>().ToArray();
            var textOnly = model.Forward(text, null);
            var imageOnly = model.Forward(null, image);
            for (var k = 0; k < 3; k++)
            {
                var expected = expectedScale * Cosine(joint.PooledText![k].data<float>().ToArray(), joint.PooledImage![k].data<float>().ToArray());
                Assert.Equal(expected, scores[k], 3);
                // The interaction counts: the unimodal passes' cosine (the first stage) is another number.
                var unimodal = expectedScale * Cosine(textOnly.PooledText![k].data<float>().ToArray(), imageOnly.PooledImage![k].data<float>().ToArray());
                Assert.True(Math.Abs(unimodal - scores[k]) > 1e-3, $"pair {k}: the joint cosine equals the unimodal one");
            }
        }

        // A loss on the scores trains the layers below, not the temperature, and not the unused score head.
        model.train();
        model.PairScores(text, image, zeroShot: false).sum().backward();
        Assert.True(parameters["encoder.layer.0.attention.self.query.weight"].grad!.abs().sum().item<float>() > 0);
        Assert.True(parameters[InterBertModel.LogitScaleKey].grad is null || parameters[InterBertModel.LogitScaleKey].grad!.abs().sum().item<float>() == 0);
        Assert.Null(parameters[InterBertModel.ScoreHeadName + ".weight"].grad);
    }

    [Fact]
    public void TheConfigurationNamesItAndRefusesAnyOtherScore()
    {
        var config = TestInputs.TinyNoDropout with { PairScore = InterBertConfig.JointCosineScore };
        Assert.Equal(InterBertConfig.JointCosineScore, InterBertConfig.FromJson(config.ToJson()).PairScore);
        Assert.DoesNotContain("pair_score", TestInputs.TinyNoDropout.ToJson());
        var wrong = Assert.Throws<FormatException>(() => InterBertConfig.FromJson(config.ToJson().Replace(InterBertConfig.JointCosineScore, "dot"), "m/config.json"));
        Assert.Contains("m/config.json", wrong.Message);
        Assert.Contains("pair_score 'dot'", wrong.Message);
    }

    [Fact]
    public void FinetuneWritesItKeepsItFromTheInitAndEvaluatesWithIt()
    {
        using var folder = new TempFolder();
        var init = FinetuneResumeTests.WriteInit(features, folder);
        string[] Finetune(string from, string run, params string[] more) =>
        [
            "finetune", "--task", "retrieval", "--dataset", SharedData.CocoDataset, "--features", features.StorePath, "--init", from, "--out", run,
            "--steps", "3", "--batch-size", "8", "--val-split", "none", "--seed", "3", "--contrastive-weight", "1", "--threads", "2", .. more,
        ];
        var wrong = CliProcess.Run(Finetune(init, folder.File("wrong"), "--pair-score", "dot"));
        Assert.Equal(2, wrong.ExitCode);
        Assert.Contains("'dot'", wrong.Error);
        Assert.Contains(InterBertConfig.JointCosineScore, wrong.Error);

        var cosine = folder.File("cosine");
        var trained = CliProcess.Run(Finetune(init, cosine, "--pair-score", InterBertConfig.JointCosineScore));
        Assert.True(trained.ExitCode == 0, trained.Error);
        Assert.Contains("pairs scored by the joint pass's own cosine", trained.Output);
        var weights = Path.Combine(cosine, "last.safetensors");
        Assert.Equal(InterBertConfig.JointCosineScore, ModelCheckpoint.ReadConfig(weights).PairScore);
        // Fine-tuned again without the option, the model keeps its score; with "head" it goes back to the paper's.
        var again = folder.File("again");
        Assert.Equal(0, CliProcess.Run(Finetune(weights, again)).ExitCode);
        Assert.Equal(InterBertConfig.JointCosineScore, ModelCheckpoint.ReadConfig(Path.Combine(again, "last.safetensors")).PairScore);
        var head = folder.File("head");
        Assert.Equal(0, CliProcess.Run(Finetune(weights, head, "--pair-score", "head")).ExitCode);
        Assert.Null(ModelCheckpoint.ReadConfig(Path.Combine(head, "last.safetensors")).PairScore);

        // The evaluation says what re-scores its candidates; --pair-score measures the other score on the same weights.
        string[] Evaluate(string json, params string[] more) =>
        [
            "evaluate", "--task", "retrieval", "--dataset", SharedData.CocoDataset, "--split", "val", "--features", features.StorePath,
            "--weights", weights, "--candidates", "5", "--add-similarity", "--metrics-out", folder.File(json), "--threads", "2", .. more,
        ];
        var own = CliProcess.Run(Evaluate("own.json"));
        Assert.True(own.ExitCode == 0, own.Error);
        Assert.Contains("then the joint pass's cosine re-scores", own.Output);
        var same = CliProcess.Run(Evaluate("same.json", "--pair-score", InterBertConfig.JointCosineScore));
        Assert.True(same.ExitCode == 0, same.Error);
        var byHead = CliProcess.Run(Evaluate("head.json", "--pair-score", "head"));
        Assert.True(byHead.ExitCode == 0, byHead.Error);
        Assert.Contains("then the score head re-scores", byHead.Output);
        JsonNode Metrics(string json) => JsonNode.Parse(File.ReadAllText(folder.File(json)))!;
        Assert.Equal(Metrics("own.json")["score_only"]!.ToJsonString(), Metrics("same.json")["score_only"]!.ToJsonString());
        Assert.Equal(Metrics("own.json")["unimodal"]!.ToJsonString(), Metrics("head.json")["unimodal"]!.ToJsonString());
        Assert.NotEqual(Metrics("own.json")["score_only"]!.ToJsonString(), Metrics("head.json")["score_only"]!.ToJsonString());
        var refused = CliProcess.Run(Evaluate("refused.json", "--pair-score", "head", "--fit-relevance"));
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("--fit-relevance", refused.Error);
        Assert.False(File.Exists(Path.Combine(cosine, "relevance.json")));
    }
}
