using InterBert.Modeling;
using InterBert.Weights;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace InterBert.Tests.Weights;

public class BertCheckpointReaderTests
{
    /// <summary>A Hugging Face BERT checkpoint's tensors (random values) for a hidden size and layer count.</summary>
    private static Dictionary<string, Tensor> BertState(int vocab, int hidden, int intermediate, int layers, int seed)
    {
        var g = new Generator((ulong)seed);
        var state = new Dictionary<string, Tensor>
        {
            ["bert.embeddings.word_embeddings.weight"] = randn([vocab, hidden], generator: g),
            ["bert.embeddings.position_embeddings.weight"] = randn([40, hidden], generator: g),
            ["bert.embeddings.token_type_embeddings.weight"] = randn([2, hidden], generator: g),
            ["bert.embeddings.LayerNorm.weight"] = randn([hidden], generator: g),
            ["bert.embeddings.LayerNorm.bias"] = randn([hidden], generator: g),
            ["bert.pooler.dense.weight"] = randn([hidden, hidden], generator: g),
            ["bert.pooler.dense.bias"] = randn([hidden], generator: g),
        };
        for (var l = 0; l < layers; l++)
        {
            var p = $"bert.encoder.layer.{l}.";
            foreach (var n in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense" })
            {
                state[p + n + ".weight"] = randn([hidden, hidden], generator: g);
                state[p + n + ".bias"] = randn([hidden], generator: g);
            }
            state[p + "intermediate.dense.weight"] = randn([intermediate, hidden], generator: g);
            state[p + "intermediate.dense.bias"] = randn([intermediate], generator: g);
            state[p + "output.dense.weight"] = randn([hidden, intermediate], generator: g);
            state[p + "output.dense.bias"] = randn([hidden], generator: g);
            foreach (var n in new[] { "attention.output.LayerNorm", "output.LayerNorm" })
            {
                state[p + n + ".weight"] = randn([hidden], generator: g);
                state[p + n + ".bias"] = randn([hidden], generator: g);
            }
        }
        return state;
    }

    private static void WriteVocabulary(string folder, int size)
    {
        var tokens = new List<string> { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };
        for (var i = tokens.Count; i < size; i++) tokens.Add($"tok{i}");
        File.WriteAllLines(Path.Combine(folder, "vocab.txt"), tokens);
    }

    private static void AssertTextPathEquals(InterBertModel model, Dictionary<string, Tensor> bert)
    {
        var state = model.state_dict();
        foreach (var (key, value) in bert)
        {
            var ours = ModelCheckpoint.NormalizeKey(key);
            if (!state.TryGetValue(ours, out var loaded)) continue;
            Assert.True(loaded.eq(value).all().item<bool>(), $"{ours} differs from the checkpoint");
        }
    }

    [Theory]
    [InlineData("safetensors")]
    [InlineData("sharded")]
    [InlineData("bin")]
    public void HuggingFaceCheckpointLoadsIntoTheTextPathAndTravelsWithItsVocabulary(string format)
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var config = TestInputs.TinyNoDropout with { VocabSize = 64 };
        var bert = BertState(64, config.HiddenSize, config.IntermediateSize, layers: 4, seed: 12);
        switch (format)
        {
            case "safetensors":
                using (var s = File.Create(folder.File("model.safetensors"))) Safetensors.SaveStateDict(s, bert);
                break;
            case "sharded":
                var first = bert.Take(bert.Count / 2).ToDictionary();
                var second = bert.Skip(bert.Count / 2).ToDictionary();
                using (var s = File.Create(folder.File("model-00001-of-00002.safetensors"))) Safetensors.SaveStateDict(s, first);
                using (var s = File.Create(folder.File("model-00002-of-00002.safetensors"))) Safetensors.SaveStateDict(s, second);
                var map = string.Join(",", first.Keys.Select(k => $"\"{k}\": \"model-00001-of-00002.safetensors\"")
                    .Concat(second.Keys.Select(k => $"\"{k}\": \"model-00002-of-00002.safetensors\"")));
                File.WriteAllText(folder.File("model.safetensors.index.json"), $"{{\"metadata\": {{}}, \"weight_map\": {{{map}}}}}");
                break;
            default:
                PyTorchPickler.PickleStateDict(folder.File("pytorch_model.bin"), bert);
                break;
        }
        WriteVocabulary(folder.Path, 64);

        using var encoder = BertCheckpointReader.Read(folder.Path);
        Assert.Equal(4, encoder.LayerCount);
        manual_seed(2);
        // tiny is 2 single-stream + 1 text-stream layers: checkpoint layer 3 has no place.
        var output = folder.File("out/model.safetensors");
        var report = PretrainedInitializer.CreateAndSave(config, encoder, "tiny", output);
        Assert.Contains("bert.encoder.layer.3.output.dense.weight", report.Unexpected);
        Assert.Contains("bert.pooler.dense.weight", report.Unexpected);
        Assert.Contains("encoder.layer.2.attention.self.query.weight", report.Used);
        Assert.Contains("v_embeddings.image_embeddings.weight", report.Missing);

        using var loaded = ModelCheckpoint.Load(output);
        Assert.Equal(40, loaded.Config.MaxPositionEmbeddings); // taken from the checkpoint
        AssertTextPathEquals(loaded, bert);
        var tokenizer = ModelVocabulary.TokenizerFor(output);
        Assert.Equal(64, tokenizer.VocabularySize);
        Assert.Equal(2, tokenizer.ClsId);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AnUntiedInteractionStartsItsJointLayersFromTheEncodersLayers(bool extraction)
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var config = TestInputs.TinyNoDropout with { UntiedInteraction = true, UntiedExtraction = extraction };
        var bert = BertState(64, config.HiddenSize, config.IntermediateSize, layers: 3, seed: 7);
        WriteVocabulary(folder.Path, 64);
        using var encoder = new PretrainedTextEncoder("test encoder", bert, File.ReadAllBytes(folder.File("vocab.txt")), lowerCase: true, attentionHeads: null);
        var output = folder.File("out/model.safetensors");
        var report = PretrainedInitializer.CreateAndSave(config, encoder, "tiny", output);
        Assert.DoesNotContain(report.Missing, k => k.StartsWith("encoder.joint_layer.", StringComparison.Ordinal));

        using var loaded = ModelCheckpoint.Load(output);
        Assert.True(loaded.Config.UntiedInteraction);
        var state = loaded.state_dict();
        var pretrained = InterBert.Weights.PretrainedKeys.Read(output);
        // Each of the 2 single-stream layers is copied, the text stream's layer 2 is not.
        foreach (var layer in new[] { 0, 1 })
        {
            var key = $"encoder.layer.{layer}.attention.self.query.weight";
            var joint = $"encoder.joint_layer.{layer}.attention.self.query.weight";
            Assert.True(state[joint].equal(state[key]).all().item<bool>());
            Assert.True(state[joint].equal(bert[$"bert.encoder.layer.{layer}.attention.self.query.weight"]).all().item<bool>());
            Assert.Contains(joint, pretrained);
        }
        if (!extraction)
        {
            Assert.DoesNotContain("encoder.joint_layer.2.attention.self.query.weight", state.Keys);
            return;
        }
        // Untied extraction: the text stream's copy is filled from the encoder too; the image stream's and the
        // poolers' copies equal their random originals, and are not counted as pretrained.
        Assert.True(state["encoder.joint_layer.2.attention.self.query.weight"].equal(bert["bert.encoder.layer.2.attention.self.query.weight"]).all().item<bool>());
        Assert.Contains("encoder.joint_layer.2.attention.self.query.weight", pretrained);
        Assert.True(state["encoder.joint_v_layer.0.attention.self.query.weight"].equal(state["encoder.v_layer.0.attention.self.query.weight"]).all().item<bool>());
        Assert.DoesNotContain("encoder.joint_v_layer.0.attention.self.query.weight", pretrained);
        Assert.True(state["joint_v_pooler.dense.weight"].equal(state["v_pooler.dense.weight"]).all().item<bool>());
    }

    [Fact]
    public void TransplantedVocabularyKeepsTheLayersAndTheRowsOfSharedTokens()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var config = TestInputs.TinyNoDropout;
        var bert = BertState(64, config.HiddenSize, config.IntermediateSize, layers: 3, seed: 5);
        WriteVocabulary(folder.Path, 64);
        using var encoder = new PretrainedTextEncoder("test encoder", bert, File.ReadAllBytes(folder.File("vocab.txt")), lowerCase: true, attentionHeads: null);
        // Special tokens in another order, two shared tokens, two characters the encoder never saw.
        string[] tokens = ["[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]", "新", "tok20", "字", "tok10"];
        File.WriteAllLines(folder.File("zh.txt"), tokens);

        var transplant = VocabularyTransplant.Apply(encoder, File.ReadAllBytes(folder.File("zh.txt")), lowerCase: true, folder.File("zh.txt"));
        Assert.Equal((7, 2), (transplant.SharedTokens, transplant.NewTokens));
        var output = folder.File("out/model.safetensors");
        manual_seed(3);
        using (var transplanted = transplant.Encoder) PretrainedInitializer.CreateAndSave(config, transplanted, "tiny", output);

        using var loaded = ModelCheckpoint.Load(output);
        var words = loaded.state_dict()["embeddings.word_embeddings.weight"];
        Assert.Equal([tokens.Length, config.HiddenSize], words.shape);
        var old = bert["bert.embeddings.word_embeddings.weight"];
        foreach (var (newId, oldId) in new[] { (0, 2), (1, 3), (2, 0), (3, 4), (4, 1), (6, 20), (8, 10) })
            Assert.True(words[newId].eq(old[oldId]).all().item<bool>(), $"row {newId} ({tokens[newId]}) is not the encoder's row {oldId}");
        foreach (var fresh in new[] { 5, 7 })
        {
            Assert.False(old.eq(words[fresh]).all(1).any().item<bool>(), $"{tokens[fresh]} copied an encoder row");
            // Drawn at the scale of the encoder's rows (randn here: spread about 1), not BERT's 0.02.
            var spread = words[fresh].std().item<float>();
            Assert.InRange(spread, 0.4, 2.5);
        }
        AssertTextPathEquals(loaded, bert.Where(p => !p.Key.Contains("word_embeddings")).ToDictionary());
        Assert.True(bert["bert.encoder.layer.0.attention.self.query.weight"].isfinite().all().item<bool>(), "the encoder's own tensors were disposed with the transplant");

        var keys = ModelCheckpoint.ReadMetadata(output)["pretrained_keys"].Split(',');
        Assert.Contains("encoder.layer.0.attention.self.query.weight", keys);
        Assert.DoesNotContain("embeddings.word_embeddings.weight", keys);
        Assert.Equal(tokens.Length, ModelVocabulary.TokenizerFor(output).VocabularySize);
        Assert.Equal(0, ModelVocabulary.TokenizerFor(output).ClsId);
    }

    [Fact]
    public void AlignedTokensStartFromTheRowsTheyAlignTo()
    {
        using var folder = new TempFolder();
        using var scope = NewDisposeScope();
        var bert = BertState(64, 32, 64, layers: 1, seed: 6);
        WriteVocabulary(folder.Path, 64);
        using var encoder = new PretrainedTextEncoder("test encoder", bert, File.ReadAllBytes(folder.File("vocab.txt")), lowerCase: true, attentionHeads: null);
        string[] tokens = ["[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]", "新", "tok20", "字", "tok10"];
        File.WriteAllLines(folder.File("zh.txt"), tokens);
        // 新 aligns to tok30; tok10, which the encoder has, aligns to tok11, which wins; 字 aligns to a token the encoder lacks.
        var alignment = new Dictionary<string, string> { ["新"] = "tok30", ["tok10"] = "tok11", ["字"] = "missing" };

        var transplant = VocabularyTransplant.Apply(encoder, File.ReadAllBytes(folder.File("zh.txt")), lowerCase: true, folder.File("zh.txt"), alignment);
        Assert.Equal((8, 1, 2), (transplant.SharedTokens, transplant.NewTokens, transplant.AlignedTokens));
        var words = transplant.Encoder.State.Single(p => p.Key.EndsWith("word_embeddings.weight", StringComparison.Ordinal)).Value;
        var old = bert["bert.embeddings.word_embeddings.weight"];
        foreach (var (newId, oldId) in new[] { (5, 30), (6, 20), (8, 11) })
            Assert.True(words[newId].eq(old[oldId]).all().item<bool>(), $"row {newId} ({tokens[newId]}) is not the encoder's row {oldId}");
        Assert.False(old.eq(words[7]).all(1).any().item<bool>(), "字 copied an encoder row");
        transplant.Encoder.Dispose();
    }

    [Fact]
    public void HiddenSizeThatDoesNotFitThePresetIsAClearError()
    {
        using var folder = new TempFolder();
        var bert = BertState(64, 48, 96, layers: 1, seed: 3);
        using (var s = File.Create(folder.File("model.safetensors"))) Safetensors.SaveStateDict(s, bert);
        WriteVocabulary(folder.Path, 64);
        using var encoder = BertCheckpointReader.Read(folder.Path);
        var error = Assert.Throws<CheckpointException>(() => PretrainedInitializer.CreateAndSave(TestInputs.TinyNoDropout, encoder, "preset tiny", folder.File("x.safetensors")));
        Assert.Contains("hidden size 48", error.Message);
        Assert.Contains("hidden_size 32", error.Message);
        Assert.False(File.Exists(folder.File("x.safetensors")));
    }

    [Fact]
    public void MissingVocabularyOrWeightsAreClearErrors()
    {
        using var folder = new TempFolder();
        Assert.Contains("no model.safetensors", Assert.Throws<InterBertException>(() => BertCheckpointReader.Read(folder.Path)).Message);
        using (var s = File.Create(folder.File("model.safetensors"))) Safetensors.SaveStateDict(s, BertState(8, 32, 64, 1, 1));
        Assert.Contains("vocab.txt", Assert.Throws<InterBertException>(() => BertCheckpointReader.Read(folder.Path)).Message);
    }

    [Fact]
    public void AlteredVocabularyIsRefused()
    {
        using var folder = new TempFolder();
        using (var s = File.Create(folder.File("model.safetensors"))) Safetensors.SaveStateDict(s, BertState(64, 32, 64, 1, 1));
        WriteVocabulary(folder.Path, 64);
        using var encoder = BertCheckpointReader.Read(folder.Path);
        var output = folder.File("m.safetensors");
        manual_seed(1);
        PretrainedInitializer.CreateAndSave(TestInputs.TinyNoDropout, encoder, "tiny", output);
        File.AppendAllText(ModelVocabulary.PathBeside(output), "extra\n");
        Assert.Contains("SHA-256", Assert.Throws<InterBertException>(() => ModelVocabulary.TokenizerFor(output)).Message);
        File.Delete(ModelVocabulary.PathBeside(output));
        Assert.Contains("missing", Assert.Throws<InterBertException>(() => ModelVocabulary.TokenizerFor(output)).Message);
    }
}
