using InterBert.Vision;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace InterBert.Tests.Vision;

/// <summary>The packaged ResNet-18 converted into TorchSharp modules: the same function, and weights that can learn.</summary>
public class TrainableResNet18Tests(ITestOutputHelper output)
{
    private static float[] Pixels(string file)
    {
        using var image = new ImageDecoder().Decode(SharedData.Path("data", "coco-sample", "images", file));
        return image.ToPlanar(224, 224, 224, 224, bgr: false);
    }

    [Fact]
    public void ComputesThePackagedGraphsFeatureMapAndLearnsFromARegionLoss()
    {
        using var scope = NewDisposeScope();
        var files = new[] { "000000000790.jpg", "000000000139.jpg" };
        var pixels = files.Select(Pixels).ToList();
        using var extractor = new ResNetFeatureExtractor();
        var reference = stack(pixels.Select(extractor.FeatureMap).ToList());

        using var network = TrainableResNet18.FromPackagedGraphs();
        network.eval();
        var batch = tensor(pixels.SelectMany(p => p).ToArray(), [2, 3, 224, 224]);
        Tensor map;
        using (no_grad()) map = network.call(batch);
        Assert.Equal([2L, 512, 7, 7], map.shape);
        var worst = map.sub(reference).abs().max().item<float>();
        var scale = reference.abs().mean().item<float>();
        output.WriteLine($"feature maps of the converted network vs ONNX Runtime: max abs difference {worst:E2} (mean |value| {scale:E2})");
        Assert.True(worst <= 1e-3f * Math.Max(1, reference.abs().max().item<float>()), $"max abs difference {worst}");
        // Two different photos give different maps (the comparison above is not of constants).
        Assert.True(reference[0].sub(reference[1]).abs().mean().item<float>() > 0.1f * scale);

        // From the map after layer3 only layer4 runs, to the same result: a cached earlier stage can feed a trainable last one.
        const string afterLayer3 = "ReLU347_Output_0";
        Tensor layer3, resumed;
        using (no_grad())
        {
            layer3 = network.Run(batch, afterLayer3);
            resumed = network.RunFrom(new Dictionary<string, Tensor> { [afterLayer3] = layer3 }, TrainableResNet18.FeatureMapName);
        }
        Assert.Equal([2L, 256, 14, 14], layer3.shape);
        Assert.Equal(0f, resumed.sub(map).abs().max().item<float>());

        // A loss on RoI-pooled region features reaches the convolutions and the normalisations' scales.
        network.train();
        var regions = ResNetFeatureExtractor.PoolRegions(network.call(batch[0].unsqueeze(0)).squeeze(0), [new RegionBox(0, 0, 320, 211)], 640, 422);
        regions.pow(2).mean().backward();
        var gradients = network.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad);
        Assert.Equal(22 * 3, gradients.Count); // the graph's 22 convolutions' weights, and their normalisations' scales and shifts
        Assert.All(gradients, g => Assert.True(g.Value is not null && g.Value.abs().sum().item<float>() > 0, $"{g.Key} gets no gradient"));
    }
}
