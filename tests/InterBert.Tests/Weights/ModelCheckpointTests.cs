using InterBert.Modeling;
using InterBert.Weights;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace InterBert.Tests.Weights;

public class ModelCheckpointTests
{
    [Fact]
    public void SaveThenLoadGivesBitIdenticalOutputs()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        manual_seed(21);
        using var model = new InterBertModel(TestInputs.TinyNoDropout with { PredictFeature = true });
        model.eval();
        var text = TestInputs.Text(model.Config, [4, 6], 6, seed: 8);
        var image = TestInputs.Image(model.Config, [3, 5], 5, seed: 8);
        var expected = model.Forward(text, image);
        var path = folder.File("model.safetensors");
        ModelCheckpoint.Save(model, path, new Dictionary<string, string> { ["note"] = "test" });

        manual_seed(999); // a different random initialisation, fully overwritten by the load
        using var loaded = ModelCheckpoint.Load(path);
        loaded.eval();
        Assert.Equal(model.Config, loaded.Config);
        var actual = loaded.Forward(text, image);
        Assert.True(expected.TextSequence!.eq(actual.TextSequence!).all().item<bool>());
        Assert.True(expected.ImageSequence!.eq(actual.ImageSequence!).all().item<bool>());
        Assert.True(model.MatchingLogits(expected).eq(loaded.MatchingLogits(actual)).all().item<bool>());
        Assert.Equal("test", ModelCheckpoint.ReadMetadata(path)["note"]);
        Assert.DoesNotContain(Directory.GetFiles(folder.Path), f => f.EndsWith(".tmp") || f.EndsWith(".plain"));
    }

    [Fact]
    public void MatchingHeadFollowsTheReferenceOrderAndOlderFilesAreTurnedRound()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        manual_seed(22);
        using var model = new InterBertModel(TestInputs.TinyNoDropout);
        model.eval();
        var text = TestInputs.Text(model.Config, [4, 6], 6, seed: 9);
        var image = TestInputs.Image(model.Config, [3, 5], 5, seed: 9);
        var logits = model.MatchingLogits(model.Forward(text, image));
        // Zero-shot scores are the margin of class 0 ("matched", the reference's and BERT's next-sentence order).
        var scores = model.PairScores(text, image, zeroShot: true);
        Assert.True(scores.eq(logits.select(1, 0) - logits.select(1, 1)).all().item<bool>());

        var path = folder.File("today.safetensors");
        ModelCheckpoint.Save(model, path);
        Assert.Equal("0", ModelCheckpoint.ReadMetadata(path)[ModelCheckpoint.MatchedIndexKey]);

        // An older version's file: the same model with "matched" at index 1 and no convention in its metadata.
        var state = model.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().clone());
        foreach (var key in new[] { "cls.bi_seq_relationship.weight", "cls.bi_seq_relationship.bias" }) state[key] = state[key].flip(0);
        var plain = folder.File("old.plain");
        using (var stream = File.Create(plain)) Safetensors.SaveStateDict(stream, state);
        var old = folder.File("old.safetensors");
        SafetensorsHeader.CopyWithMetadata(plain, old, new Dictionary<string, string> { ["format"] = "pt", [ModelCheckpoint.ConfigKey] = model.Config.ToJson() });
        using var loaded = ModelCheckpoint.Load(old);
        loaded.eval();
        Assert.True(loaded.MatchingLogits(loaded.Forward(text, image)).eq(logits).all().item<bool>(), "an older file's matching head was not turned round");
        // Saved again, it carries today's convention and loads unchanged.
        var resaved = folder.File("resaved.safetensors");
        ModelCheckpoint.Save(loaded, resaved, ModelCheckpoint.ReadMetadata(old));
        using var again = ModelCheckpoint.Load(resaved);
        again.eval();
        Assert.True(again.MatchingLogits(again.Forward(text, image)).eq(logits).all().item<bool>());
    }

    [Fact]
    public void SavedFileIsPlainSafetensorsWithConfigInMetadata()
    {
        using var folder = new TempFolder();
        manual_seed(1);
        using var model = new InterBertModel(TestInputs.TinyNoDropout);
        var path = folder.File("m.safetensors");
        ModelCheckpoint.Save(model, path);
        // Another reader (the library's own, which ignores metadata) sees every tensor with BERT's names.
        var state = Safetensors.LoadStateDict(path);
        Assert.Contains("embeddings.word_embeddings.weight", state.Keys);
        Assert.Contains("encoder.layer.0.attention.self.query.weight", state.Keys);
        Assert.Contains("encoder.v_layer.0.attention.self.query.weight", state.Keys);
        Assert.Contains("v_embeddings.image_location_embeddings.weight", state.Keys);
        Assert.Contains("t_pooler.dense.weight", state.Keys);
        Assert.Contains("cls.bi_seq_relationship.weight", state.Keys);
        Assert.Equal(model.state_dict().Count, state.Count);
        Assert.Equal(model.parameters().Count(), state.Count); // no key twice under another name
        Assert.DoesNotContain(state.Keys, k => k.Contains("wordEmbeddings") || k.Contains("vLayer"));
        var header = SafetensorsHeader.Read(path);
        Assert.Equal(0, (8 + header.HeaderBytes) % 8);
        Assert.Equal(32, InterBertConfig.FromJson(header.Metadata[ModelCheckpoint.ConfigKey]).HiddenSize);
    }

    [Fact]
    public void HuggingFaceBertKeysLoadIntoTheTextPath()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var config = TestInputs.TinyNoDropout;
        var h = config.HiddenSize;
        var generator = new Generator(5);
        // A BERT checkpoint as Hugging Face writes it: "bert." prefix, 3 layers (2 single-stream + 1 text stream), TF-style LayerNorm names in one place, pooler and NSP head.
        var bert = new Dictionary<string, Tensor>
        {
            ["bert.embeddings.word_embeddings.weight"] = randn([config.VocabSize, h], generator: generator),
            ["bert.embeddings.position_embeddings.weight"] = randn([config.MaxPositionEmbeddings, h], generator: generator),
            ["bert.embeddings.token_type_embeddings.weight"] = randn([2, h], generator: generator),
            ["bert.embeddings.LayerNorm.gamma"] = randn([h], generator: generator),
            ["bert.embeddings.LayerNorm.beta"] = randn([h], generator: generator),
            ["bert.embeddings.position_ids"] = arange(config.MaxPositionEmbeddings).unsqueeze(0),
            ["bert.pooler.dense.weight"] = randn([h, h], generator: generator),
            ["cls.seq_relationship.weight"] = randn([2, h], generator: generator),
            ["cls.predictions.decoder.weight"] = randn([config.VocabSize, h], generator: generator),
            ["cls.predictions.bias"] = randn([config.VocabSize], generator: generator),
        };
        for (var layer = 0; layer < 3; layer++)
        {
            var p = $"bert.encoder.layer.{layer}.";
            foreach (var name in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense" })
            {
                bert[p + name + ".weight"] = randn([h, h], generator: generator);
                bert[p + name + ".bias"] = randn([h], generator: generator);
            }
            bert[p + "intermediate.dense.weight"] = randn([config.IntermediateSize, h], generator: generator);
            bert[p + "intermediate.dense.bias"] = randn([config.IntermediateSize], generator: generator);
            bert[p + "output.dense.weight"] = randn([h, config.IntermediateSize], generator: generator);
            bert[p + "output.dense.bias"] = randn([h], generator: generator);
            foreach (var ln in new[] { "attention.output.LayerNorm", "output.LayerNorm" })
            {
                bert[p + ln + ".weight"] = randn([h], generator: generator);
                bert[p + ln + ".bias"] = randn([h], generator: generator);
            }
        }
        var path = folder.File("model.safetensors");
        using (var stream = File.Create(path)) Safetensors.SaveStateDict(stream, bert);

        manual_seed(3);
        using var model = new InterBertModel(config);
        var imageBefore = model.state_dict()["encoder.v_layer.0.attention.self.query.weight"].clone();
        var report = ModelCheckpoint.LoadWeights(model, path);

        var state = model.state_dict();
        Assert.True(state["embeddings.word_embeddings.weight"].eq(bert["bert.embeddings.word_embeddings.weight"]).all().item<bool>());
        Assert.True(state["embeddings.LayerNorm.weight"].eq(bert["bert.embeddings.LayerNorm.gamma"]).all().item<bool>());
        Assert.True(state["encoder.layer.0.attention.self.query.weight"].eq(bert["bert.encoder.layer.0.attention.self.query.weight"]).all().item<bool>());
        // BERT layer 2 is the first text-stream layer of a 2 + 1 model.
        Assert.True(state["encoder.layer.2.output.dense.weight"].eq(bert["bert.encoder.layer.2.output.dense.weight"]).all().item<bool>());
        Assert.True(state["cls.predictions.bias"].eq(bert["cls.predictions.bias"]).all().item<bool>());
        Assert.True(state["encoder.v_layer.0.attention.self.query.weight"].eq(imageBefore).all().item<bool>());

        Assert.Equal(["bert.pooler.dense.weight", "cls.seq_relationship.weight"], report.Unexpected.Order());
        Assert.Contains("cls.predictions.decoder.weight", report.Ignored);
        Assert.Contains("bert.embeddings.position_ids", report.Ignored);
        Assert.Contains("v_embeddings.image_embeddings.weight", report.Missing);
        Assert.Contains("cls.imagePredictions.decoder.weight", report.Missing);
        Assert.DoesNotContain(report.Missing, k => k.StartsWith("encoder.layer.") || k.StartsWith("embeddings."));
        Assert.Equal(bert.Count - 4, report.Used.Count);
    }

    [Fact]
    public void ShapeMismatchIsRefusedNamingTheKeyAndBothShapes()
    {
        using var folder = new TempFolder();
        var path = folder.File("wide.safetensors");
        var state = new Dictionary<string, Tensor>
        {
            ["bert.embeddings.LayerNorm.weight"] = ones(32),
            ["bert.encoder.layer.0.attention.self.query.weight"] = ones(64, 64),
        };
        using (var stream = File.Create(path)) Safetensors.SaveStateDict(stream, state);
        manual_seed(1);
        using var model = new InterBertModel(TestInputs.TinyNoDropout);
        var layerNormBefore = model.state_dict()["embeddings.LayerNorm.weight"].clone();
        var error = Assert.Throws<CheckpointException>(() => ModelCheckpoint.LoadWeights(model, path));
        Assert.Contains("encoder.layer.0.attention.self.query.weight", error.Message);
        Assert.Contains("[64, 64]", error.Message);
        Assert.Contains("[32, 32]", error.Message);
        Assert.Contains(path, error.Message);
        Assert.DoesNotContain('\n', error.Message);
        // Nothing was half-loaded.
        Assert.True(model.state_dict()["embeddings.LayerNorm.weight"].eq(layerNormBefore).all().item<bool>());
    }

    [Fact]
    public void TruncatedAndCorruptFilesGiveClearErrors()
    {
        using var folder = new TempFolder();
        manual_seed(1);
        using var model = new InterBertModel(TestInputs.TinyNoDropout);
        var path = folder.File("m.safetensors");
        ModelCheckpoint.Save(model, path);
        var bytes = File.ReadAllBytes(path);

        var truncated = folder.File("truncated.safetensors");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var error = Assert.Throws<CheckpointException>(() => ModelCheckpoint.Load(truncated));
        Assert.Contains("truncated", error.Message);
        Assert.Contains(truncated, error.Message);

        var empty = folder.File("empty.safetensors");
        File.WriteAllBytes(empty, []);
        Assert.Contains("too short", Assert.Throws<CheckpointException>(() => ModelCheckpoint.Load(empty)).Message);

        var text = folder.File("text.safetensors");
        File.WriteAllText(text, "this is not a weights file at all, just some text");
        Assert.Contains(text, Assert.Throws<CheckpointException>(() => ModelCheckpoint.Load(text)).Message);

        Assert.Contains("not found", Assert.Throws<CheckpointException>(() => ModelCheckpoint.Load(folder.File("absent.safetensors"))).Message);
    }
}
