using System.Buffers.Binary;
using System.Text.Json.Nodes;
using InterBert.Modeling;
using InterBert.Weights;

namespace InterBert.Tests.Weights;

public sealed class ModelFolderTests
{
    [Fact]
    public void AModelFolderReadsBackWithAPlainSafetensorsParseAndConfigJson()
    {
        using var folder = new TempFolder();
        TorchSharp.torch.manual_seed(11);
        using var model = new InterBertModel(InterBertConfig.Tiny);
        var vocabulary = MiniLmOnnxReader.ReadVocabularyBytes();
        var modelFolder = folder.File("model");
        ModelFolder.Save(model, modelFolder, vocabulary, lowerCase: true);

        // What a Python user does with safetensors and json alone: 8-byte header length, JSON header, raw little-endian tensors.
        var bytes = File.ReadAllBytes(Path.Combine(modelFolder, "model.safetensors"));
        var headerLength = (int)BinaryPrimitives.ReadInt64LittleEndian(bytes);
        var header = JsonNode.Parse(bytes.AsSpan(8, headerLength))!.AsObject();
        var dataStart = 8 + headerLength;
        var state = model.state_dict();
        Assert.Equal(state.Keys.Order(StringComparer.Ordinal), header.Where(p => p.Key != "__metadata__").Select(p => p.Key).Order(StringComparer.Ordinal));
        foreach (var (key, tensor) in state)
        {
            var entry = header[key]!;
            Assert.Equal("F32", entry["dtype"]!.GetValue<string>());
            Assert.Equal(tensor.shape, entry["shape"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray());
            var offsets = entry["data_offsets"]!.AsArray().Select(o => o!.GetValue<int>()).ToArray();
            var values = new float[(offsets[1] - offsets[0]) / 4];
            Buffer.BlockCopy(bytes, dataStart + offsets[0], values, 0, values.Length * 4);
            Assert.Equal(tensor.contiguous().data<float>().ToArray(), values);
        }
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(modelFolder, "config.json")))!;
        Assert.Equal("interbert", config["model_type"]!.GetValue<string>());
        Assert.Equal(InterBertConfig.Tiny.HiddenSize, config["hidden_size"]!.GetValue<int>());
        Assert.Equal(InterBertConfig.Tiny.VFeatureSize, config["v_feature_size"]!.GetValue<int>());
        Assert.True(JsonNode.Parse(File.ReadAllText(Path.Combine(modelFolder, "tokenizer_config.json")))!["do_lower_case"]!.GetValue<bool>());
        Assert.Equal(vocabulary, File.ReadAllBytes(Path.Combine(modelFolder, "vocab.txt")));

        // The project reads the folder wherever it takes a weights file.
        using var loaded = ModelCheckpoint.Load(modelFolder);
        foreach (var (key, tensor) in loaded.state_dict()) Assert.Equal(state[key].contiguous().data<float>().ToArray(), tensor.contiguous().data<float>().ToArray());
        Assert.Equal(Path.Combine(modelFolder, "vocab.txt"), ModelVocabulary.TokenizerFor(modelFolder).Source);
    }

    [Fact]
    public void ModelExportWritesAFolderThatTheVerbsRead()
    {
        using var folder = new TempFolder();
        TorchSharp.torch.manual_seed(12);
        var weights = folder.File("tiny.safetensors");
        using (var model = new InterBertModel(InterBertConfig.Tiny))
        {
            var metadata = ModelVocabulary.WriteBeside(weights, MiniLmOnnxReader.ReadVocabularyBytes(), lowerCase: true);
            metadata["finetune_task"] = "multiple-choice";
            ModelCheckpoint.Save(model, weights, metadata);
        }
        var (code, output, error) = CliProcess.Run("model", "export", "--weights", weights, "--out", folder.File("exported"));
        Assert.True(code == 0, output + error);
        (code, output, error) = CliProcess.Run("model", "info", "--weights", folder.File("exported"));
        Assert.True(code == 0, output + error);
        Assert.Contains("metadata vocab_file: vocab.txt", output);
        Assert.Contains("metadata finetune_task: multiple-choice", output); // what the file recorded is kept
        // A folder without weights is refused in one line.
        Directory.CreateDirectory(folder.File("empty"));
        (code, _, error) = CliProcess.Run("model", "info", "--weights", folder.File("empty"));
        Assert.Equal(1, code);
        Assert.Equal($"error: {folder.File("empty")}: not a model folder (no model.safetensors)", error.Trim());
    }
}
