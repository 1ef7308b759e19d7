using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace InterBert.Weights;

/// <summary>
/// Reads a Hugging Face BERT checkpoint from disk: <c>model.safetensors</c>, sharded safetensors
/// (<c>model.safetensors.index.json</c>) or <c>pytorch_model.bin</c>, with <c>vocab.txt</c> beside it and,
/// when present, <c>config.json</c> and <c>tokenizer_config.json</c>.
/// </summary>
public static class BertCheckpointReader
{
    /// <summary>Reads the checkpoint at <paramref name="path"/> (a folder or one of its weight files).</summary>
    public static PretrainedTextEncoder Read(string path)
    {
        string folder;
        string weights;
        if (Directory.Exists(path))
        {
            folder = path;
            weights = new[] { "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin" }
                .Select(f => Path.Combine(folder, f)).FirstOrDefault(File.Exists)
                ?? throw new InterBertException($"{path}: no model.safetensors, model.safetensors.index.json or pytorch_model.bin in this folder");
        }
        else if (File.Exists(path))
        {
            weights = path;
            folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        }
        else
        {
            throw new InterBertException($"{path}: checkpoint not found");
        }

        var vocabularyPath = Path.Combine(folder, "vocab.txt");
        if (!File.Exists(vocabularyPath))
            throw new InterBertException($"{vocabularyPath}: the checkpoint's vocabulary is missing (vocab.txt must sit beside the weights)");

        var state = ReadWeights(weights);
        var tokenizerConfig = ReadJson(Path.Combine(folder, "tokenizer_config.json"));
        var modelConfig = ReadJson(Path.Combine(folder, "config.json"));
        var lowerCase = tokenizerConfig?["do_lower_case"]?.GetValue<bool>() ?? true;
        var heads = modelConfig?["num_attention_heads"]?.GetValue<int>();
        return new PretrainedTextEncoder(weights, state, File.ReadAllBytes(vocabularyPath), lowerCase, heads);
    }

    private static Dictionary<string, Tensor> ReadWeights(string weights)
    {
        if (weights.EndsWith(".index.json", StringComparison.Ordinal))
        {
            var index = ReadJson(weights) ?? throw new InterBertException($"{weights}: empty index");
            var shards = index["weight_map"]?.AsObject().Select(p => p.Value!.GetValue<string>()).Distinct().ToList()
                ?? throw new InterBertException($"{weights}: no weight_map in the shard index");
            var merged = new Dictionary<string, Tensor>();
            foreach (var shard in shards)
            {
                var shardPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(weights))!, shard);
                if (!File.Exists(shardPath)) throw new InterBertException($"{shardPath}: shard named in {weights} is missing");
                foreach (var (k, v) in ReadSafetensors(shardPath)) merged[k] = v;
            }
            return merged;
        }
        if (weights.EndsWith(".safetensors", StringComparison.Ordinal)) return ReadSafetensors(weights);
        try
        {
            var table = PyTorchUnpickler.UnpickleStateDict(weights);
            var state = new Dictionary<string, Tensor>();
            foreach (System.Collections.DictionaryEntry entry in table)
                if (entry.Value is Tensor t) state[(string)entry.Key] = t;
            return state;
        }
        catch (Exception e) when (e is not InterBertException)
        {
            throw new CheckpointException($"{weights}: cannot read a PyTorch state dict ({e.Message})");
        }
    }

    private static Dictionary<string, Tensor> ReadSafetensors(string path)
    {
        SafetensorsHeader.Read(path);
        return Safetensors.LoadStateDict(path);
    }

    private static JsonNode? ReadJson(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            return JsonNode.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new InterBertException($"{path}: not valid JSON ({e.Message})");
        }
    }
}
