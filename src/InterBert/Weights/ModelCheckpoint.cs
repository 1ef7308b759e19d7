using InterBert.Modeling;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace InterBert.Weights;

/// <summary>
/// Reads and writes model weights as safetensors. Files written here carry the model configuration in the
/// safetensors <c>__metadata__</c> (key <c>interbert_config</c>), so a weights file is self-describing and
/// readable by PyTorch's <c>safetensors.torch.load_file</c>. Hugging Face BERT files load into the text path.
/// </summary>
public static class ModelCheckpoint
{
    /// <summary>Metadata key holding the configuration JSON.</summary>
    public const string ConfigKey = "interbert_config";

    /// <summary>
    /// Metadata key recording the matching head's "matched" class (<see cref="InterBertModel.MatchedIndex"/>); files of
    /// this project that lack it are older, with "matched" at 1, and their head is put in today's order on loading.
    /// </summary>
    public const string MatchedIndexKey = "itm_matched_index";

    /// <summary>File keys the model derives from other weights, skipped without being reported as unexpected.</summary>
    private static readonly HashSet<string> DerivedKeys =
    [
        "embeddings.position_ids",
        // BERT's MLM decoder is tied to the word embeddings; our segment head uses them directly.
        "cls.predictions.decoder.weight",
        "cls.predictions.decoder.bias",
    ];

    /// <summary>Saves the model's weights (a backbone's alone, or with the heads) and configuration atomically, with optional extra metadata.</summary>
    public static void Save(InterBertBackbone model, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var meta = new Dictionary<string, string> { ["format"] = "pt", [ConfigKey] = model.Config.ToJson(), [MatchedIndexKey] = InterBertModel.MatchedIndex.ToString() };
        if (metadata is not null) foreach (var (k, v) in metadata) if (k != MatchedIndexKey) meta[k] = v;
        var state = model.state_dict();
        var plain = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.plain");
        Directory.CreateDirectory(Path.GetDirectoryName(plain)!);
        try
        {
            using (var stream = File.Create(plain)) Safetensors.SaveStateDict(stream, state);
            AtomicFile.Write(path, temporary => SafetensorsHeader.CopyWithMetadata(plain, temporary, meta));
        }
        finally
        {
            File.Delete(plain);
        }
    }

    /// <summary>The metadata of a weights file (empty for files written elsewhere).</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path) => SafetensorsHeader.Read(path).Metadata;

    /// <summary>
    /// Whether a model's pair scores come from its matching head (matched minus unmatched logit) rather than its score
    /// head: every model but one fine-tuned for retrieval, whose score head is what the fine-tuning trained.
    /// </summary>
    public static bool ScoresWithMatchingHead(IReadOnlyDictionary<string, string> metadata) =>
        !metadata.TryGetValue("finetune_task", out var task) || task != "retrieval";

    /// <summary>The configuration recorded in a weights file written by this project.</summary>
    public static InterBertConfig ReadConfig(string path)
    {
        var metadata = ReadMetadata(path);
        if (!metadata.TryGetValue(ConfigKey, out var json))
            throw new CheckpointException($"{path}: no InterBERT configuration in its metadata (not written by interbert); give a preset or a configuration file");
        try
        {
            return InterBertConfig.FromJson(json, $"{path} (configuration in metadata)");
        }
        catch (FormatException e)
        {
            throw new CheckpointException(e.Message);
        }
    }

    /// <summary>
    /// Builds the model recorded in a weights file and loads every weight; a missing key is an error. With
    /// <paramref name="regionJudgeWeight"/>, the model's <see cref="InterBertConfig.RegionJudgeWeight"/> is that instead of the file's.
    /// </summary>
    public static InterBertModel Load(string path, double? regionJudgeWeight = null)
    {
        var config = ReadConfig(path);
        var model = new InterBertModel(regionJudgeWeight is { } weight ? config with { RegionJudgeWeight = weight } : config);
        var report = LoadWeights(model, path);
        // Files from before the contrastive loss existed lack its temperature; it keeps its initial value.
        var missing = report.Missing.Where(k => k != InterBertModel.LogitScaleKey).ToList();
        if (missing.Count > 0)
        {
            model.Dispose();
            throw new CheckpointException($"{path}: {missing.Count} weights missing, first '{missing[0]}'");
        }
        return model;
    }

    /// <summary>
    /// Builds the backbone recorded in a weights file and loads its weights, leaving out the task heads (the pretraining
    /// heads, the score head, the temperature) that a full model's file also holds; a missing backbone key is an error.
    /// </summary>
    public static InterBertBackbone LoadBackbone(string path)
    {
        var backbone = new InterBertBackbone(ReadConfig(path));
        var report = LoadWeights(backbone, path);
        if (report.Missing.Count > 0)
        {
            backbone.Dispose();
            throw new CheckpointException($"{path}: {report.Missing.Count} weights of the backbone missing, first '{report.Missing[0]}'");
        }
        return backbone;
    }

    /// <summary>
    /// Loads the tensors of a safetensors file into <paramref name="model"/>, mapping Hugging Face BERT names
    /// (<c>bert.</c> prefix, <c>gamma</c>/<c>beta</c>). A shape mismatch throws, naming the key and both shapes.
    /// </summary>
    public static LoadReport LoadWeights(InterBertBackbone model, string path)
    {
        path = ModelFolder.WeightsPath(path);
        var header = SafetensorsHeader.Read(path);
        Dictionary<string, Tensor> state;
        try
        {
            state = Safetensors.LoadStateDict(path);
        }
        catch (Exception e) when (e is IOException or NotImplementedException or ArgumentException or System.Text.Json.JsonException)
        {
            throw new CheckpointException($"{path}: cannot read tensors ({e.Message})");
        }
        try
        {
            // Files written before the matching head followed the reference's order have "matched" at index 1.
            if (header.Metadata.ContainsKey(ConfigKey) && !header.Metadata.ContainsKey(MatchedIndexKey)) SwapMatchingClasses(state);
            return LoadState(model, state, path);
        }
        finally
        {
            foreach (var tensor in state.Values) tensor.Dispose();
        }
    }

    /// <summary>Copies a name → tensor map into the model (see <see cref="LoadWeights"/>); <paramref name="source"/> names the origin in errors.</summary>
    public static LoadReport LoadState(InterBertBackbone model, IReadOnlyDictionary<string, Tensor> state, string source)
    {
        var targets = model.state_dict();
        var used = new List<string>();
        var unexpected = new List<string>();
        var ignored = new List<string>();
        var pending = new List<(Tensor Target, Tensor Value)>();
        foreach (var (fileKey, value) in state)
        {
            var key = NormalizeKey(fileKey);
            if (DerivedKeys.Contains(key))
            {
                ignored.Add(fileKey);
                continue;
            }
            if (!targets.TryGetValue(key, out var target))
            {
                unexpected.Add(fileKey);
                continue;
            }
            if (!target.shape.SequenceEqual(value.shape))
                throw new CheckpointException(
                    $"{source}: key '{fileKey}' has shape [{string.Join(", ", value.shape)}] in the file but [{string.Join(", ", target.shape)}] in the model");
            pending.Add((target, value));
            used.Add(key);
        }
        // Copy only after every shape is checked, so a refused file leaves the model as it was.
        using (no_grad())
        {
            foreach (var (target, value) in pending) target.copy_(value);
        }
        var missing = targets.Keys.Except(used).ToList();
        return new LoadReport(used, missing, unexpected, ignored);
    }

    private static void SwapMatchingClasses(Dictionary<string, Tensor> state)
    {
        foreach (var key in new[] { "cls.bi_seq_relationship.weight", "cls.bi_seq_relationship.bias" })
        {
            if (!state.TryGetValue(key, out var value) || value.shape[0] != 2) continue;
            using var order = tensor(new long[] { 1, 0 });
            state[key] = value.index_select(0, order);
            value.Dispose();
        }
    }

    /// <summary>Maps a Hugging Face BERT key to this model's key (drops <c>bert.</c>, renames TF-style LayerNorm names).</summary>
    public static string NormalizeKey(string key)
    {
        if (key.StartsWith("bert.", StringComparison.Ordinal)) key = key["bert.".Length..];
        if (key.EndsWith("LayerNorm.gamma", StringComparison.Ordinal)) key = key[..^"gamma".Length] + "weight";
        if (key.EndsWith("LayerNorm.beta", StringComparison.Ordinal)) key = key[..^"beta".Length] + "bias";
        return key;
    }
}
