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
        var (tied, text, image, pairScores, textVectors, imageVectors) = TiedModel(TestInputs.TinyNoDropout, seed: 11);
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

    [Fact]
    public void UntiedExtractionLeavesTheSearchVectorsOnlyTheEmbeddingsToShareWithTheJointPass()
    {
        using var scope = NewDisposeScope();
        var (tied, text, image, pairScores, textVectors, imageVectors) = TiedModel(TestInputs.TinyNoDropout with { PairScore = InterBertConfig.JointCosineScore }, seed: 12);
        var pretrained = new HashSet<string> { "encoder.layer.2.output.dense.bias", "encoder.v_layer.0.attention.self.query.weight", "t_pooler.dense.weight" };
        // Untying the interaction first and the extraction after keeps the joint pass's single-stream copy as it was.
        using var interactionOnly = ModelLoading.Untie(tied, pretrained);
        using (no_grad())
            foreach (var (_, parameter) in interactionOnly.named_parameters().Where(p => p.name.StartsWith("encoder.joint_layer.0.", StringComparison.Ordinal))) parameter.add_(0.01);
        var trainedCopy = interactionOnly.state_dict()["encoder.joint_layer.0.attention.self.query.weight"].clone();
        using var untied = ModelLoading.Untie(interactionOnly, pretrained, extraction: true);
        Assert.True(untied.Config.UntiedExtraction);
        Assert.Same(untied, ModelLoading.Untie(untied, pretrained, extraction: true));
        var state = untied.state_dict();
        Assert.Equal(0f, state["encoder.joint_layer.0.attention.self.query.weight"].sub(trainedCopy).abs().max().item<float>());

        // Every layer above the embeddings and both poolers have a joint copy (the tiny preset: 2 + 1 text layers, 1 image layer), pretrained where their originals are.
        var keys = state.Keys.ToList();
        Assert.Equal(3 * keys.Count(k => k.StartsWith("encoder.layer.0.", StringComparison.Ordinal)), keys.Count(k => k.StartsWith("encoder.joint_layer.", StringComparison.Ordinal)));
        Assert.Equal(keys.Count(k => k.StartsWith("encoder.v_layer.", StringComparison.Ordinal)), keys.Count(k => k.StartsWith("encoder.joint_v_layer.", StringComparison.Ordinal)));
        Assert.Equal(keys.Count(k => k.StartsWith("t_pooler.", StringComparison.Ordinal) || k.StartsWith("v_pooler.", StringComparison.Ordinal)), keys.Count(k => k.StartsWith("joint_", StringComparison.Ordinal)));
        Assert.Contains("encoder.joint_layer.2.output.dense.bias", pretrained);
        Assert.Contains("encoder.joint_v_layer.0.attention.self.query.weight", pretrained);
        Assert.Contains("joint_t_pooler.dense.weight", pretrained);
        Assert.Equal("image", InterBertBackbone.PartOf("encoder.joint_v_layer.0.attention.self.query.weight"));

        // The unimodal vectors are those of the tied model; the joint pass differs only by the changed single-stream copy.
        using (no_grad())
        {
            Assert.True(UnimodalEmbedding.Text(untied, text).sub(textVectors).abs().max().item<float>() < 1e-6f);
            Assert.True(UnimodalEmbedding.Image(untied, image).sub(imageVectors).abs().max().item<float>() < 1e-6f);
            Assert.True(untied.Score(untied.Forward(text, image)).sub(pairScores).abs().max().item<float>() > 1e-4f);
        }

        // A loss on the joint cosine reaches no weight of the search vectors but the embeddings; one on the vectors, no joint copy.
        var searchOnly = new[] { "encoder.layer.", "encoder.v_layer.", "t_pooler.", "v_pooler." };
        var jointOnly = new[] { "encoder.joint_layer.", "encoder.joint_v_layer.", "joint_t_pooler.", "joint_v_pooler." };
        bool Reached(string name) => untied.named_parameters().Single(p => p.name == name).parameter.grad is { } g && g.abs().sum().item<float>() > 0;
        IEnumerable<string> Names(string[] prefixes) => untied.named_parameters().Select(p => p.name).Where(n => prefixes.Any(prefix => n.StartsWith(prefix, StringComparison.Ordinal)));
        untied.Score(untied.Forward(text, image)).sum().backward();
        Assert.DoesNotContain(Names(searchOnly), Reached);
        Assert.True(Reached("joint_t_pooler.dense.weight") && Reached("joint_v_pooler.dense.weight") && Reached("encoder.joint_v_layer.0.attention.self.query.weight") && Reached("encoder.joint_layer.2.output.dense.weight"));
        Assert.True(Reached("embeddings.word_embeddings.weight"));
        untied.zero_grad();
        (untied.Forward(text, null).PooledText!.sum() + untied.Forward(null, image).PooledImage!.sum()).backward();
        Assert.DoesNotContain(Names(jointOnly), Reached);
        Assert.True(Reached("t_pooler.dense.weight") && Reached("encoder.v_layer.0.attention.self.query.weight"));

        // The setting survives the configuration file, and needs the interaction untied.
        Assert.True(InterBertConfig.FromJson(untied.Config.ToJson()).UntiedExtraction);
        Assert.Throws<FormatException>(() => (TestInputs.TinyNoDropout with { UntiedExtraction = true }).Validate());
    }

    /// <summary>A tied model of <paramref name="config"/>, two pairs, and its pair scores and unimodal vectors before any untying.</summary>
    private static (InterBertModel Model, TextBatch Text, ImageBatch Image, Tensor PairScores, Tensor TextVectors, Tensor ImageVectors) TiedModel(InterBertConfig config, int seed)
    {
        manual_seed(seed);
        var model = new InterBertModel(config);
        var text = TestInputs.Text(config, [5, 3], 6, seed: seed);
        var image = TestInputs.Image(config, [4, 2], 5, seed: seed);
        using (no_grad())
            return (model, text, image, model.Score(model.Forward(text, image)), UnimodalEmbedding.Text(model, text), UnimodalEmbedding.Image(model, image));
    }
}
