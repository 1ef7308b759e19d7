using InterBert.Modeling;
using static TorchSharp.torch;

namespace InterBert.Tests.Modeling;

/// <summary>Whether a model can see where a region is when region features are large (ResNet's have norms near 100).</summary>
public class RegionLocationTests
{
    private const float FeatureScale = 4.4f; // 512 standard-normal values times 4.4: norm about 100

    private static InterBertModel NewModel(bool locationLayerNorm, int seed = 3)
    {
        manual_seed(seed);
        return new InterBertModel(TestInputs.TinyNoDropout with { VLocationLayerNorm = locationLayerNorm });
    }

    private static ImageBatch OneRegionEach(Tensor features, float[] boxes)
    {
        var count = boxes.Length / 4;
        var locations = new float[count * 5];
        for (var i = 0; i < count; i++)
        {
            var (x1, y1, x2, y2) = (boxes[4 * i], boxes[4 * i + 1], boxes[4 * i + 2], boxes[4 * i + 3]);
            new[] { x1, y1, x2, y2, (x2 - x1) * (y2 - y1) }.CopyTo(locations, 5 * i);
        }
        return new ImageBatch(features.view(count, 1, -1), tensor(locations, [count, 1, 5]), ones(count, 1, dtype: ScalarType.Int64));
    }

    [Fact]
    public void WithLocationLayerNormTheSameObjectElsewhereEmbedsDifferently()
    {
        using var scope = NewDisposeScope();
        var feature = randn(1, 512, generator: new Generator(5)) * FeatureScale;
        var image = OneRegionEach(cat([feature, feature]), [0.05f, 0.4f, 0.25f, 0.6f, 0.75f, 0.4f, 0.95f, 0.6f]);
        float Cosine(bool locationLayerNorm)
        {
            using var model = NewModel(locationLayerNorm);
            model.eval();
            // Position 1: the region (0 is the global token).
            var embedded = model.RegionEmbeddings.call(image.Features, image.Locations, image.RegionMask).select(1, 1);
            return nn.functional.cosine_similarity(embedded[0].unsqueeze(0), embedded[1].unsqueeze(0)).item<float>();
        }
        // The paper's LayerNorm of the sum: the box is lost in the feature (nearly identical embeddings).
        var paper = Cosine(false);
        Assert.True(paper > 0.999f, $"paper's formula: cosine {paper}");
        // Normalised apart, a left and a right copy of one object are clearly different tokens.
        var separate = Cosine(true);
        Assert.True(separate < 0.9f, $"separate normalisation: cosine {separate}");
    }

    [Fact]
    public void ModelLearnsWhetherTheObjectIsOnTheLeftOrRightOnlyWithTheBoxNormalisedOnItsOwn()
    {
        var normalised = LeftRightAccuracy(locationLayerNorm: true);
        Assert.True(normalised >= 0.95f, $"left/right accuracy with v_location_layer_norm {normalised:P0}");
        // The paper's LayerNorm of feature + box drowns the box: the same training stays near chance.
        var paper = LeftRightAccuracy(locationLayerNorm: false);
        Assert.True(paper <= 0.65f, $"left/right accuracy with the paper's embedding {paper:P0}");
    }

    private static float LeftRightAccuracy(bool locationLayerNorm)
    {
        // One region with random large features on the left or right half; the text is one word, "left" (5) or
        // "right" (6). Trained to score the true word above the other, the model must read the box.
        using var model = NewModel(locationLayerNorm);
        using var optimizer = optim.AdamW(model.parameters(), lr: 1e-3);
        var random = new Random(7);
        (TextBatch Text, ImageBatch Image, Tensor Target) Batch(int size)
        {
            var boxes = new float[size * 4];
            var left = new long[size];
            for (var b = 0; b < size; b++)
            {
                var isLeft = random.Next(2) == 0;
                var x = isLeft ? 0.05f + 0.25f * (float)random.NextDouble() : 0.55f + 0.25f * (float)random.NextDouble();
                var y = 0.1f + 0.6f * (float)random.NextDouble();
                new[] { x, y, x + 0.2f, y + 0.2f }.CopyTo(boxes, 4 * b);
                left[b] = isLeft ? 0 : 1;
            }
            var image = OneRegionEach(randn(size, 512) * FeatureScale, boxes);
            // Pairs (image b, "left") and (image b, "right"), interleaved.
            var ids = tensor(Enumerable.Range(0, size).SelectMany(_ => new long[] { 1, 5, 2, 1, 6, 2 }).ToArray(), [2 * size, 3]);
            var doubled = new ImageBatch(image.Features.repeat_interleave(2, 0), image.Locations.repeat_interleave(2, 0), image.RegionMask.repeat_interleave(2, 0));
            return (new TextBatch(ids, ones(2 * size, 3, dtype: ScalarType.Int64)), doubled, tensor(left));
        }
        model.train();
        for (var step = 0; step < 150; step++)
        {
            using var scope = NewDisposeScope();
            var (text, image, target) = Batch(16);
            var loss = nn.functional.cross_entropy(model.Score(model.Forward(text, image)).view(16, 2), target);
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
        }
        model.eval();
        using (no_grad())
        using (NewDisposeScope())
        {
            var (text, image, target) = Batch(200);
            var predicted = model.Score(model.Forward(text, image)).view(200, 2).argmax(1);
            return predicted.eq(target).to_type(ScalarType.Float32).mean().item<float>();
        }
    }
}
