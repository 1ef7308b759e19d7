using InterBert.Modeling;
using InterBert.Search;
using InterBert.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace InterBert.Tests.Search;

public sealed class ContrastiveLossTests
{
    [Fact]
    public void LossMatchesAHandComputationWithSeveralCaptionsPerImage()
    {
        // Captions 0 and 1 belong to image 0, caption 2 to image 1.
        double[][] text = [[1, 0], [0.6, 0.8], [0, 1]];
        double[][] image = [[0.8, 0.6], [-0.6, 0.8]];
        int[] imageOf = [0, 0, 1];
        var logScale = Math.Log(5.0);
        double Logit(int t, int i) => 5.0 * (text[t][0] * image[i][0] + text[t][1] * image[i][1]);
        double LogSumExp(IEnumerable<double> values) { var list = values.ToList(); var max = list.Max(); return max + Math.Log(list.Sum(v => Math.Exp(v - max))); }
        var textToImage = Enumerable.Range(0, 3).Average(t => LogSumExp([Logit(t, 0), Logit(t, 1)]) - Logit(t, imageOf[t]));
        var imageToText = Enumerable.Range(0, 2).Average(i =>
            LogSumExp(Enumerable.Range(0, 3).Select(t => Logit(t, i))) - LogSumExp(Enumerable.Range(0, 3).Where(t => imageOf[t] == i).Select(t => Logit(t, i))));
        var expected = (textToImage + imageToText) / 2;

        var loss = ContrastiveLoss.FromVectors(
            tensor(text.SelectMany(r => r).Select(v => (float)v).ToArray(), [3, 2]), tensor(image.SelectMany(r => r).Select(v => (float)v).ToArray(), [2, 2]),
            imageOf, full(1, logScale)).item<float>();
        Assert.Equal(expected, loss, 4);
    }

    [Fact]
    public void TheTemperatureIsLearnedAndOlderFilesWithoutItStillLoad()
    {
        using var folder = new TempFolder();
        manual_seed(3);
        using var model = new InterBertModel(TestInputs.TinyNoDropout);
        Assert.Equal(InterBertModel.InitialLogitScale, model.LogitScale.item<float>(), 4);
        var text = TestInputs.Text(model.Config, [5, 4, 6], 6, 1);
        var image = TestInputs.Image(model.Config, [3, 3, 2], 3, 2);
        ContrastiveLoss.Compute(model, text, image, [0, 1, 2]).backward();
        Assert.NotEqual(0f, model.LogitScale.grad!.abs().item<float>());

        // A file written before the contrastive loss existed has no logit_scale: it loads with the initial value.
        var path = folder.File("old.safetensors");
        var state = model.state_dict().Where(p => p.Key != InterBertModel.LogitScaleKey).ToDictionary(p => p.Key, p => p.Value);
        using (var stream = File.Create(path + ".plain")) TorchSharp.PyBridge.Safetensors.SaveStateDict(stream, state);
        SafetensorsHeader.CopyWithMetadata(path + ".plain", path, new Dictionary<string, string> { ["format"] = "pt", [ModelCheckpoint.ConfigKey] = model.Config.ToJson() });
        using var loaded = ModelCheckpoint.Load(path);
        Assert.Equal(InterBertModel.InitialLogitScale, loaded.LogitScale.item<float>(), 4);
    }

    [Fact]
    public void TrainingWithTheContrastiveLossAlignsTextAndImageVectors()
    {
        // Eight concepts: a caption is one concept word, an image one region near that concept's feature vector.
        manual_seed(11);
        var config = TestInputs.TinyNoDropout;
        using var model = new InterBertModel(config);
        var concepts = randn(8, config.VFeatureSize, generator: new Generator(5));
        TextBatch Captions(long[] ids) => new(tensor(ids.SelectMany(c => new long[] { 101, 1000 + c, 102 }).ToArray(), [ids.Length, 3]), ones(ids.Length, 3, dtype: ScalarType.Int64));
        ImageBatch Images(long[] ids, int seed)
        {
            var features = (concepts.index_select(0, tensor(ids)) + randn([ids.Length, config.VFeatureSize], generator: new Generator((ulong)seed)) * 0.3).unsqueeze(1);
            var locations = tensor(new float[] { 0.1f, 0.1f, 0.6f, 0.6f, 0.25f }).expand(ids.Length, 1, 5);
            return new ImageBatch(features, locations, ones(ids.Length, 1, dtype: ScalarType.Int64));
        }
        double Accuracy()
        {
            using var scope = NewDisposeScope();
            model.eval();
            var all = Enumerable.Range(0, 8).Select(i => (long)i).ToArray();
            var similarity = matmul(UnimodalEmbedding.Text(model, Captions(all)), UnimodalEmbedding.Image(model, Images(all, 999)).t());
            return similarity.argmax(1).eq(tensor(all)).to_type(ScalarType.Float32).mean().item<float>();
        }
        var before = Accuracy();
        var optimizer = optim.Adam(model.parameters(), 1e-3);
        var random = new Random(2);
        for (var step = 0; step < 60; step++)
        {
            using var scope = NewDisposeScope();
            model.train();
            var ids = Enumerable.Range(0, 8).OrderBy(_ => random.Next()).Take(6).Select(i => (long)i).ToArray();
            optimizer.zero_grad();
            ContrastiveLoss.Compute(model, Captions(ids), Images(ids, step), Enumerable.Range(0, 6).ToArray()).backward();
            optimizer.step();
        }
        var after = Accuracy();
        Assert.True(after >= 0.875 && after > before + 0.3, $"text→image accuracy by vectors {before:P0} before, {after:P0} after");
    }
}
