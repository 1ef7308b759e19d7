using InterBert.Modeling;
using InterBert.Weights;
using static TorchSharp.torch;

namespace InterBert.Tests.Modeling;

/// <summary>The box encoded with sines and cosines before its projection (<see cref="InterBertConfig.VLocationFrequencies"/>).</summary>
public class LocationFrequenciesTests
{
    private static readonly float[] Box = [0.25f, 0.5f, 0.75f, 0.9f, 0.2f];

    [Fact]
    public void LocationInputIsTheBoxThenItsSinesThenItsCosines()
    {
        using var scope = NewDisposeScope();
        const int n = 3;
        var input = ImageEmbeddings.LocationInput(tensor(Box, [1, 1, 5]), n).data<float>().ToArray();
        Assert.Equal(5 * (1 + 2 * n), input.Length);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(Box[i], input[i], 6);
            for (var k = 0; k < n; k++)
            {
                var phase = Math.PI * Math.Pow(2, k) * Box[i];
                Assert.Equal(Math.Sin(phase), input[5 + i * n + k], 4);
                Assert.Equal(Math.Cos(phase), input[5 + 5 * n + i * n + k], 4);
            }
        }
        // Without frequencies the input is the paper's five numbers.
        Assert.Equal(Box, ImageEmbeddings.LocationInput(tensor(Box, [1, 1, 5]), 0).data<float>().ToArray());
    }

    [Fact]
    public void ConfigurationsWithoutTheKeyKeepTheFiveNumbersAndWriteNoKey()
    {
        var tiny = TestInputs.TinyNoDropout;
        Assert.Equal(0, tiny.VLocationFrequencies);
        Assert.DoesNotContain("v_location_frequencies", tiny.ToJson());
        using var model = new InterBertModel(tiny);
        Assert.Equal([tiny.VHiddenSize, 5L], model.state_dict()["v_embeddings.image_location_embeddings.weight"].shape);

        var withSines = tiny with { VLocationFrequencies = 4 };
        Assert.Equal(4, InterBertConfig.FromJson(withSines.ToJson()).VLocationFrequencies);
        Assert.Throws<FormatException>(() => (tiny with { VLocationFrequencies = 17 }).Validate());
        Assert.Throws<FormatException>(() => (tiny with { VLocationFrequencies = -1 }).Validate());
    }

    [Fact]
    public void SavedModelReloadsWithItsFrequenciesAndTheSameEmbeddings()
    {
        using var scope = NewDisposeScope();
        using var folder = new TempFolder();
        manual_seed(4);
        using var model = new InterBertModel(TestInputs.TinyNoDropout with { VLocationFrequencies = 4 });
        model.eval();
        Assert.Equal([model.Config.VHiddenSize, 45L], model.state_dict()["v_embeddings.image_location_embeddings.weight"].shape);
        var path = Path.Combine(folder.Path, "model.safetensors");
        ModelCheckpoint.Save(model, path);
        using var loaded = ModelCheckpoint.Load(path);
        loaded.eval();
        Assert.Equal(4, loaded.Config.VLocationFrequencies);
        var features = randn(1, 2, 512, generator: new Generator(2));
        var locations = tensor(Box.Concat(new[] { 0.3f, 0.5f, 0.8f, 0.9f, 0.2f }).ToArray(), [1, 2, 5]);
        var mask = ones(1, 2, dtype: ScalarType.Int64);
        var before = model.RegionEmbeddings.call(features, locations, mask).data<float>().ToArray();
        var after = loaded.RegionEmbeddings.call(features, locations, mask).data<float>().ToArray();
        Assert.Equal(before, after);
    }

    [Fact]
    public void SinesTellTwoNearbyBoxesApartWhereTheRawNumbersBarelyDo()
    {
        using var scope = NewDisposeScope();
        // One object, hidden as masked region modeling hides it (zero features), at two boxes 5% of the width apart.
        var features = zeros(1, 2, 512);
        var locations = tensor(Box.Concat(new[] { 0.30f, 0.5f, 0.80f, 0.9f, 0.2f }).ToArray(), [1, 2, 5]);
        var mask = ones(1, 2, dtype: ScalarType.Int64);
        float Cosine(int frequencies)
        {
            manual_seed(3);
            using var model = new InterBertModel(TestInputs.TinyNoDropout with { VLocationFrequencies = frequencies });
            model.eval();
            var embedded = model.RegionEmbeddings.call(features, locations, mask);
            return nn.functional.cosine_similarity(embedded[0, 1].unsqueeze(0), embedded[0, 2].unsqueeze(0)).item<float>();
        }
        var raw = Cosine(0);
        var sines = Cosine(8);
        Assert.True(raw > 0.98f, $"raw box: cosine {raw}");
        Assert.True(sines < raw - 0.1f, $"with sines: cosine {sines} against {raw}");
    }
}
