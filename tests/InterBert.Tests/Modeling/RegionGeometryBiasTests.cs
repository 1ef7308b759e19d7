using InterBert.Modeling;
using static TorchSharp.torch;

namespace InterBert.Tests.Modeling;

/// <summary>The learned attention bias from the relative geometry of region pairs.</summary>
public class RegionGeometryBiasTests
{
    private static InterBertConfig WithBias => TestInputs.TinyNoDropout with { GeometryAttentionBias = true };

    /// <summary>Three regions: left, right (same size, same height), and a wide one below.</summary>
    private static Tensor ThreeBoxes() => tensor(new float[]
    {
        0.1f, 0.2f, 0.3f, 0.4f, 0.04f,
        0.6f, 0.2f, 0.8f, 0.4f, 0.04f,
        0.0f, 0.6f, 0.9f, 0.9f, 0.27f,
    }, [1, 3, 5]);

    [Fact]
    public void PairGeometryIsSignedAndNegatedWhenThePairIsSwapped()
    {
        using var scope = NewDisposeScope();
        var pairs = RegionGeometryBias.PairGeometry(ThreeBoxes());
        Assert.Equal([1L, 3, 3, RegionGeometryBias.PairFeatures], pairs.shape);
        // From region 0 (query) to region 1 (key): the key's centre is 0.5 to the right, level, the same size.
        Assert.Equal(0.5f, pairs[0, 0, 1, 0].item<float>(), 5);
        Assert.Equal(0f, pairs[0, 0, 1, 1].item<float>(), 5);
        Assert.Equal(0f, pairs[0, 0, 1, 2].item<float>(), 5);
        // From region 1 to region 0: to the left.
        Assert.Equal(-0.5f, pairs[0, 1, 0, 0].item<float>(), 5);
        // Region 2 is 4.5 times as wide as region 0: log(4.5) / 3 in the width entry; below it: positive y offset.
        Assert.Equal((float)(Math.Log(4.5) / 3), pairs[0, 0, 2, 2].item<float>(), 4);
        Assert.True(pairs[0, 0, 2, 1].item<float>() > 0);
        Assert.True(pairs.Plus(pairs.transpose(1, 2)).abs().max().item<float>() < 1e-6f, "swapping the pair must negate its geometry");
    }

    [Fact]
    public void EmbeddingSinesAreOddAndCosinesEvenInTheDirection()
    {
        using var scope = NewDisposeScope();
        var pairs = RegionGeometryBias.PairGeometry(ThreeBoxes());
        var embedded = RegionGeometryBias.Embed(pairs);
        var swapped = RegionGeometryBias.Embed(pairs.transpose(1, 2));
        var half = RegionGeometryBias.EmbeddingSize / 2;
        var sines = embedded.narrow(-1, 0, half);
        var cosines = embedded.narrow(-1, half, half);
        Assert.True(sines.Plus(swapped.narrow(-1, 0, half)).abs().max().item<float>() < 1e-5f);
        Assert.True(cosines.sub(swapped.narrow(-1, half, half)).abs().max().item<float>() < 1e-5f);
        // The direction is really there: left and right of region 0 do not embed alike.
        Assert.True(sines[0, 0, 1].abs().max().item<float>() > 0.1f);
    }

    [Fact]
    public void BiasTellsLeftFromRightAndLeavesTheWholeImageTokenAndPaddingAlone()
    {
        using var scope = NewDisposeScope();
        using var bias = new RegionGeometryBias(heads: 4);
        manual_seed(11);
        foreach (var (_, parameter) in bias.named_parameters())
        {
            using var noGrad = no_grad();
            parameter.normal_(0, 1);
        }
        // Positions: the whole-image token, three regions, one padded region.
        var locations = cat([tensor(new float[] { 0, 0, 1, 1, 1 }, [1, 1, 5]), ThreeBoxes(), tensor(new float[] { 0.2f, 0.2f, 0.5f, 0.5f, 0.09f }, [1, 1, 5])], 1);
        var regions = tensor(new long[] { 0, 1, 1, 1, 0 }, [1, 5]);
        var (embedding, pairMask) = RegionGeometryBias.Pairs(locations, regions);
        var values = bias.call(embedding, pairMask);
        Assert.Equal([1L, 4, 5, 5], values.shape);
        // Region 1 looking right at region 2 and region 2 looking left at region 1: the same distance, opposite
        // directions, so different biases (a bias from the distance alone would give the same).
        Assert.True(values[0, TensorIndex.Colon, 1, 2].sub(values[0, TensorIndex.Colon, 2, 1]).abs().max().item<float>() > 1e-3f);
        // The whole-image token (position 0) and the padded region (4) get no bias in any head.
        foreach (var position in new[] { 0, 4 })
        {
            Assert.Equal(0f, values[0, TensorIndex.Colon, position, TensorIndex.Colon].abs().max().item<float>());
            Assert.Equal(0f, values[0, TensorIndex.Colon, TensorIndex.Colon, position].abs().max().item<float>());
        }
        // Moving a region changes its row and column only.
        var moved = locations.clone();
        moved[0, 3] = tensor(new float[] { 0.5f, 0.0f, 0.6f, 0.1f, 0.01f });
        var (movedEmbedding, movedMask) = RegionGeometryBias.Pairs(moved, regions);
        var changed = bias.call(movedEmbedding, movedMask).sub(values).abs().sum([0, 1]);
        Assert.Equal(0f, changed[1, 2].item<float>());
        Assert.True(changed[1, 3].item<float>() > 0 && changed[3, 2].item<float>() > 0);
        // A model's image positions: the whole-image token in front, without a bias, as written out above.
        var (modelEmbedding, modelMask) = RegionGeometryBias.ImagePositionPairs(locations.narrow(1, 1, 4), regions.narrow(1, 1, 4));
        Assert.Equal(0f, modelEmbedding.sub(embedding).abs().max().item<float>());
        Assert.Equal(0f, modelMask.sub(pairMask).abs().max().item<float>());
    }

    [Fact]
    public void ANewBiasLeavesThePretrainedFunctionAndItsGradientsReachTheMap()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        using var plain = new InterBertModel(TestInputs.TinyNoDropout);
        using var biased = new InterBertModel(WithBias);
        var missing = biased.load_state_dict(plain.state_dict(), strict: false).missing_keys;
        Assert.Equal(["geometry_bias.projection.bias", "geometry_bias.projection.weight", "v_geometry_bias.projection.bias", "v_geometry_bias.projection.weight"], missing.Order(StringComparer.Ordinal));
        var text = TestInputs.Text(plain.Config, [5, 3], 6, seed: 1);
        var image = TestInputs.Image(plain.Config, [4, 2], 5, seed: 1);
        var expected = plain.MatchingLogits(plain.Forward(text, image));
        var actual = biased.MatchingLogits(biased.Forward(text, image));
        Assert.True(actual.sub(expected).abs().max().item<float>() < 1e-6f, "a zero bias must leave the model's function as it was");

        // Training reaches the bias from its zero start, in both the single stream and the image stream.
        TestInputs.PretrainingLossSum(biased, text, image, seed: 2).backward();
        foreach (var name in new[] { "geometry_bias.projection.weight", "v_geometry_bias.projection.weight" })
        {
            var gradient = biased.named_parameters().Single(p => p.name == name).parameter.grad;
            Assert.True(gradient is not null && gradient.abs().sum().item<float>() > 0, $"{name} gets no gradient");
        }
        Assert.Equal("image", InterBertBackbone.PartOf("geometry_bias.projection.weight"));
        Assert.Equal("image", InterBertBackbone.PartOf("v_geometry_bias.projection.weight"));
    }

    [Fact]
    public void WithABiasPaddingStillDoesNotMatterAndTextAloneIsUntouched()
    {
        using var scope = NewDisposeScope();
        manual_seed(9);
        using var model = new InterBertModel(WithBias);
        foreach (var (name, parameter) in model.named_parameters().Where(p => p.name.Contains("geometry_bias")))
        {
            using var noGrad = no_grad();
            parameter.normal_(0, 1);
        }
        var text = TestInputs.Text(model.Config, [5, 3], 6, seed: 3);
        var image = TestInputs.Image(model.Config, [4, 2], 5, seed: 3);
        var logits = model.MatchingLogits(model.Forward(text, image));
        var padded = model.MatchingLogits(model.Forward(TestInputs.PadText(text, 2, 4), TestInputs.PadImage(image, 3, 4)));
        Assert.True(padded.sub(logits).abs().max().item<float>() < 1e-4f, "padded regions and tokens must not change the result");

        // Image-only and text-only forwards run too (search's vectors), the latter untouched by the bias.
        Assert.NotNull(model.Forward(null, image).PooledImage);
        using var plain = new InterBertModel(TestInputs.TinyNoDropout);
        plain.load_state_dict(model.state_dict(), strict: false);
        var textOnly = model.Forward(text, null).PooledText!;
        Assert.True(textOnly.sub(plain.Forward(text, null).PooledText!).abs().max().item<float>() < 1e-6f);
    }

    [Fact]
    public void TheSettingSurvivesTheConfigurationFile()
    {
        Assert.True(InterBertConfig.FromJson(WithBias.ToJson()).GeometryAttentionBias);
        Assert.False(InterBertConfig.FromJson(TestInputs.TinyNoDropout.ToJson()).GeometryAttentionBias);
        Assert.Contains("\"geometry_attention_bias\": true", WithBias.ToJson());
    }
}
