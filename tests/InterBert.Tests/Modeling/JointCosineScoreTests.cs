using InterBert.Modeling;
using static TorchSharp.torch;

namespace InterBert.Tests.Modeling;

/// <summary>
/// <c>pair_score: joint-cosine</c>: the joint pass scored by the cosine of its own pooled vectors on the contrastive
/// loss's scale (capped as the first stage's is), trained through the vectors and never through the temperature.
/// </summary>
public class JointCosineScoreTests
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
}
