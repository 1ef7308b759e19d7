using InterBert.Modeling;
using InterBert.Workflows;
using static TorchSharp.torch;

namespace InterBert.Tests.Modeling;

/// <summary>The joint pass on its own copy of the single-stream layers: the same function at first, then each loss on layers of its own.</summary>
public class UntiedInteractionTests
{
    [Fact]
    public void AnUntiedModelStartsAsTheTiedOneAndTheJointPassTrainsOnlyItsOwnLayers()
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        var tied = new InterBertModel(TestInputs.TinyNoDropout);
        var text = TestInputs.Text(tied.Config, [5, 3], 6, seed: 1);
        var image = TestInputs.Image(tied.Config, [4, 2], 5, seed: 1);
        Tensor pairScores, textVectors, imageVectors;
        using (no_grad())
        {
            pairScores = tied.Score(tied.Forward(text, image));
            textVectors = UnimodalEmbedding.Text(tied, text);
            imageVectors = UnimodalEmbedding.Image(tied, image);
        }
        var pretrained = new HashSet<string> { "encoder.layer.0.attention.self.query.weight", "encoder.layer.1.output.dense.bias", "embeddings.word_embeddings.weight" };
        using var untied = ModelLoading.Untie(tied, pretrained);
        Assert.True(untied.Config.UntiedInteraction);
        Assert.Same(untied, ModelLoading.Untie(untied, pretrained));

        // The copies are pretrained where their originals are; only the single-stream layers (the tiny preset has 2) are copied.
        Assert.Contains("encoder.joint_layer.0.attention.self.query.weight", pretrained);
        Assert.Contains("encoder.joint_layer.1.output.dense.bias", pretrained);
        Assert.Equal(5, pretrained.Count);
        var keys = untied.state_dict().Keys.ToList();
        Assert.Equal(2 * keys.Count(k => k.StartsWith("encoder.layer.0.", StringComparison.Ordinal)), keys.Count(k => k.StartsWith("encoder.joint_layer.", StringComparison.Ordinal)));
        Assert.Equal("text", InterBertBackbone.PartOf("encoder.joint_layer.0.attention.self.query.weight"));

        // The same function at first: pair scores and both unimodal vectors.
        using (no_grad())
        {
            Assert.True(untied.Score(untied.Forward(text, image)).sub(pairScores).abs().max().item<float>() < 1e-6f);
            Assert.True(UnimodalEmbedding.Text(untied, text).sub(textVectors).abs().max().item<float>() < 1e-6f);
            Assert.True(UnimodalEmbedding.Image(untied, image).sub(imageVectors).abs().max().item<float>() < 1e-6f);
        }

        // A loss on the joint pass reaches the joint copy and not the shared layers; one on the unimodal vectors, the reverse.
        Tensor? Gradient(string name) => untied.named_parameters().Single(p => p.name == name).parameter.grad;
        untied.Score(untied.Forward(text, image)).sum().backward();
        Assert.True(Gradient("encoder.joint_layer.0.attention.self.query.weight") is { } joint && joint.abs().sum().item<float>() > 0);
        Assert.True(Gradient("encoder.layer.0.attention.self.query.weight") is not { } shared || shared.abs().sum().item<float>() == 0);
        untied.zero_grad();
        (untied.Forward(text, null).PooledText!.sum() + untied.Forward(null, image).PooledImage!.sum()).backward();
        Assert.True(Gradient("encoder.layer.0.attention.self.query.weight") is { } unimodal && unimodal.abs().sum().item<float>() > 0);
        Assert.True(Gradient("encoder.joint_layer.0.attention.self.query.weight") is not { } untouched || untouched.abs().sum().item<float>() == 0);

        // Once the joint copy differs, the pair scores change and the unimodal vectors do not.
        using (no_grad())
            foreach (var (name, parameter) in untied.named_parameters().Where(p => p.name.StartsWith("encoder.joint_layer.", StringComparison.Ordinal))) parameter.add_(randn_like(parameter) * 0.05);
        using (no_grad())
        {
            Assert.True(untied.Score(untied.Forward(text, image)).sub(pairScores).abs().max().item<float>() > 1e-4f);
            Assert.True(UnimodalEmbedding.Text(untied, text).sub(textVectors).abs().max().item<float>() < 1e-6f);
        }

        // The setting survives the configuration file; a tied configuration writes no key.
        Assert.True(InterBertConfig.FromJson(untied.Config.ToJson()).UntiedInteraction);
        Assert.DoesNotContain("untied_interaction", TestInputs.TinyNoDropout.ToJson());
    }
}
