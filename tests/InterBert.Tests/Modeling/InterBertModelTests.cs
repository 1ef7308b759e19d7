using InterBert.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace InterBert.Tests.Modeling;

public class InterBertModelTests
{
    private static InterBertModel NewModel(InterBertConfig? config = null, int seed = 1)
    {
        manual_seed(seed);
        var model = new InterBertModel(config ?? TestInputs.TinyNoDropout);
        model.eval();
        return model;
    }

    [Fact]
    public void ForwardModesHaveTheDocumentedShapes()
    {
        using var scope = NewDisposeScope();
        using var model = NewModel();
        var c = model.Config;
        var text = TestInputs.Text(c, [5, 3, 7], 7, seed: 1);
        var image = TestInputs.Image(c, [4, 2, 6], 6, seed: 1);

        var joint = model.Forward(text, image);
        Assert.Equal([3L, 7, c.HiddenSize], joint.TextSequence!.shape);
        Assert.Equal([3L, 7, c.VHiddenSize], joint.ImageSequence!.shape); // 6 regions + global token
        Assert.Equal([3L, c.BiHiddenSize], joint.PooledText!.shape);
        Assert.Equal([3L, c.BiHiddenSize], joint.PooledImage!.shape);
        Assert.Equal([3L, 2], model.MatchingLogits(joint).shape);
        Assert.Equal([3L], model.Score(joint).shape);
        Assert.Equal([3L, 7, c.VocabSize], model.SegmentLogits(joint.TextSequence).shape);
        Assert.Equal([3L, 7, c.VTargetSize], model.RegionLogits(joint.ImageSequence).shape);

        var textOnly = model.Forward(text, null);
        Assert.Equal([3L, 7, c.HiddenSize], textOnly.TextSequence!.shape);
        Assert.Null(textOnly.ImageSequence);
        Assert.Null(textOnly.PooledImage);

        var imageOnly = model.Forward(null, image);
        Assert.Equal([3L, 7, c.VHiddenSize], imageOnly.ImageSequence!.shape);
        Assert.Null(imageOnly.TextSequence);
        Assert.Throws<ArgumentException>(() => model.Forward(null, null));
    }

    [Fact]
    public void JointTextDiffersFromTextOnlyBecauseModalitiesInteract()
    {
        using var scope = NewDisposeScope();
        using var model = NewModel();
        var text = TestInputs.Text(model.Config, [6, 6], 6, seed: 2);
        var image = TestInputs.Image(model.Config, [3, 3], 3, seed: 2);
        var joint = model.Forward(text, image).TextSequence!;
        var alone = model.Forward(text, null).TextSequence!;
        Assert.True((joint - alone).abs().max().item<float>() > 1e-3f);
    }

    [Fact]
    public void PaddingRegionsAndTokensLeavesRealPositionsUnchanged()
    {
        using var scope = NewDisposeScope();
        using var model = NewModel();
        var c = model.Config;
        var text = TestInputs.Text(c, [5, 3, 7], 7, seed: 3);
        var image = TestInputs.Image(c, [4, 2, 6], 6, seed: 3);
        var paddedText = TestInputs.PadText(text, 5, seed: 3);
        var paddedImage = TestInputs.PadImage(image, 4, seed: 3);

        var reference = model.Forward(text, image);
        var padded = model.Forward(paddedText, paddedImage);
        int[] textLengths = [5, 3, 7], regionCounts = [4, 2, 6];
        for (var row = 0; row < 3; row++)
        {
            AssertClose(reference.TextSequence![row, TensorIndex.Slice(0, textLengths[row])], padded.TextSequence![row, TensorIndex.Slice(0, textLengths[row])]);
            AssertClose(reference.ImageSequence![row, TensorIndex.Slice(0, regionCounts[row] + 1)], padded.ImageSequence![row, TensorIndex.Slice(0, regionCounts[row] + 1)]);
        }
        AssertClose(model.MatchingLogits(reference), model.MatchingLogits(padded));

        // Same in the single-modality modes.
        AssertClose(model.Forward(text, null).PooledText!, model.Forward(paddedText, null).PooledText!);
        AssertClose(model.Forward(null, image).PooledImage!, model.Forward(null, paddedImage).PooledImage!);

        // And the padded content really is ignored: changing it changes nothing, while changing a real region does.
        var otherPadding = TestInputs.PadImage(image, 4, seed: 99);
        AssertClose(model.Forward(text, paddedImage).PooledText!, model.Forward(text, otherPadding).PooledText!);
        var changed = image.Features.clone();
        changed[0, 0] += 1.0;
        var moved = model.Forward(text, image with { Features = changed }).PooledText!;
        Assert.True((moved - reference.PooledText!).abs().max().item<float>() > 1e-4f);
    }

    [Fact]
    public void GlobalImageTokenIsTheMeanOfRealRegions()
    {
        using var scope = NewDisposeScope();
        var features = tensor(new float[] { 1, 2, 3, 4, 100, 100 }).view(1, 3, 2);
        var locations = zeros(1, 3, 5);
        var mask = tensor(new long[] { 1, 1, 0 }).view(1, 3);
        var (withGlobal, withGlobalLocations) = ImageEmbeddings.PrependGlobalToken(features, locations, mask);
        Assert.Equal([2f, 3f], withGlobal[0, 0].data<float>().ToArray());
        Assert.Equal([0f, 0f, 1f, 1f, 1f], withGlobalLocations[0, 0].data<float>().ToArray());
        Assert.Equal([1L, 4, 2], withGlobal.shape);
    }

    [Fact]
    public void TextOnlyForwardReadsNoImageParameter()
    {
        using var scope = NewDisposeScope();
        using var model = NewModel();
        var text = TestInputs.Text(model.Config, [4, 6], 6, seed: 4);
        var before = model.Forward(text, null);
        var imageParameters = model.named_parameters().Where(p => InterBertModel.PartOf(p.name) == "image" || p.name.StartsWith("v_pooler.")).ToList();
        Assert.NotEmpty(imageParameters);
        using (no_grad())
        {
            foreach (var (_, parameter) in imageParameters) parameter.fill_(double.NaN);
        }
        var after = model.Forward(text, null);
        Assert.True(after.TextSequence!.isfinite().all().item<bool>());
        Assert.True(after.TextSequence.eq(before.TextSequence!).all().item<bool>());
        Assert.True(after.PooledText!.eq(before.PooledText!).all().item<bool>());
        // The joint mode does read them, so the poisoning above was effective.
        var image = TestInputs.Image(model.Config, [2, 2], 2, seed: 4);
        Assert.False(model.Forward(text, image).TextSequence!.isfinite().all().item<bool>());
    }

    [Fact]
    public void EveryParameterThePretrainingLossesUseGetsAGradient()
    {
        using var scope = NewDisposeScope();
        using var model = NewModel();
        model.train();
        var text = TestInputs.Text(model.Config, [5, 7], 7, seed: 5);
        var image = TestInputs.Image(model.Config, [4, 3], 4, seed: 5);
        TestInputs.PretrainingLossSum(model, text, image, seed: 5).backward();
        var withoutGradient = new List<string>();
        foreach (var (name, parameter) in model.named_parameters())
        {
            // The score head serves retrieval and multiple choice, and the temperature the optional contrastive loss.
            if (name.StartsWith("vil_logit.") || name == InterBertModel.LogitScaleKey) continue;
            var grad = parameter.grad;
            if (grad is null || grad.abs().sum().item<float>() == 0f) withoutGradient.Add(name);
        }
        Assert.Empty(withoutGradient);
        // And the score head really is outside the pretraining losses.
        var scoreGrad = model.named_parameters().First(p => p.name == "vil_logit.weight").parameter.grad;
        Assert.True(scoreGrad is null || scoreGrad.abs().sum().item<float>() == 0f);
    }

    [Fact]
    public void FeatureRegressionHeadExistsOnlyWhenConfigured()
    {
        using var scope = NewDisposeScope();
        using var plain = NewModel();
        Assert.DoesNotContain(plain.named_parameters(), p => p.name.StartsWith("cls.imageFeatureRegression."));
        Assert.Throws<InvalidOperationException>(() => plain.RegressFeatures(zeros(1, 2, plain.Config.VHiddenSize)));
        using var regressing = NewModel(TestInputs.TinyNoDropout with { PredictFeature = true });
        Assert.Equal([1L, 2, regressing.Config.VFeatureSize], regressing.RegressFeatures(zeros(1, 2, regressing.Config.VHiddenSize)).shape);
    }

    [Fact]
    public void InitialisationFollowsBert()
    {
        using var scope = NewDisposeScope();
        using var model = NewModel(InterBertConfig.Small);
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var query = parameters["encoder.layer.0.attention.self.query.weight"];
        Assert.InRange(query.std().item<float>(), 0.018f, 0.022f);
        Assert.InRange(query.mean().item<float>(), -0.002f, 0.002f);
        Assert.Equal(0f, parameters["encoder.layer.0.attention.self.query.bias"].abs().max().item<float>());
        Assert.Equal(1f, parameters["encoder.v_layer.1.output.LayerNorm.weight"].min().item<float>());
        Assert.Equal(0f, parameters["embeddings.LayerNorm.bias"].abs().max().item<float>());
        Assert.InRange(parameters["v_embeddings.image_embeddings.weight"].std().item<float>(), 0.018f, 0.022f);
    }

    [Fact]
    public void NoTensorLeakAcrossTrainingSteps()
    {
        using var model = NewModel();
        model.train();
        using var optimizer = optim.AdamW(model.parameters(), 1e-3);
        long liveAfterWarmup = 0;
        for (var step = 0; step < 20; step++)
        {
            using (var scope = NewDisposeScope())
            {
                var text = TestInputs.Text(model.Config, [5, 7], 7, seed: step);
                var image = TestInputs.Image(model.Config, [4, 3], 4, seed: step);
                var loss = TestInputs.PretrainingLossSum(model, text, image, seed: step);
                optimizer.zero_grad();
                loss.backward();
                optimizer.step();
            }
            if (step == 2) liveAfterWarmup = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        }
        Assert.Equal(liveAfterWarmup, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    private static void AssertClose(Tensor expected, Tensor actual, double tolerance = 1e-5)
    {
        var difference = (expected - actual).abs().max().item<float>();
        Assert.True(difference <= tolerance, $"max difference {difference} exceeds {tolerance}");
    }

    [Fact]
    public void TheBackboneHoldsEveryKeyButTheHeadsUnderTheSameNames()
    {
        using var backbone = new InterBertBackbone(InterBertConfig.Tiny);
        using var model = new InterBertModel(InterBertConfig.Tiny);
        var backboneKeys = backbone.state_dict().Keys.ToList();
        var modelKeys = model.state_dict().Keys.ToList();
        Assert.Contains("embeddings.word_embeddings.weight", backboneKeys);
        Assert.Contains("t_pooler.dense.weight", backboneKeys);
        Assert.DoesNotContain(backboneKeys, k => k.StartsWith("cls.", StringComparison.Ordinal) || k.StartsWith("vil_logit.", StringComparison.Ordinal) || k == InterBertModel.LogitScaleKey);
        // The model is the backbone plus its heads, the backbone's keys unchanged and in the same order.
        static bool IsHead(string k) => k.StartsWith("cls.", StringComparison.Ordinal) || k.StartsWith("vil_logit.", StringComparison.Ordinal) || k == InterBertModel.LogitScaleKey;
        Assert.Equal(backboneKeys, modelKeys.Where(k => !IsHead(k)));
        Assert.Contains("cls.bi_seq_relationship.weight", modelKeys);
        Assert.Contains("vil_logit.weight", modelKeys);
    }
}
