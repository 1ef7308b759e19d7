using System.Text.Json.Nodes;
using InterBert.Modeling;

namespace InterBert.Weights;

/// <summary>
/// A model as Hugging Face lays it out: a folder with <c>config.json</c> (the configuration, with
/// <c>"model_type": "interbert"</c>), <c>model.safetensors</c> (the weights, the configuration also in their
/// metadata), <c>vocab.txt</c> and <c>tokenizer_config.json</c>. Readable in Python with <c>safetensors</c> and
/// <c>json</c> alone. Everywhere a weights file is taken, such a folder is taken too.
/// </summary>
public static class ModelFolder
{
    /// <summary>The weights file of a folder.</summary>
    public const string WeightsFile = "model.safetensors";
    /// <summary>The vocabulary file of a folder.</summary>
    public const string VocabularyFile = "vocab.txt";
    /// <summary>The <c>model_type</c> written into <c>config.json</c>.</summary>
    public const string ModelType = "interbert";

    /// <summary>The configuration as <c>config.json</c> holds it: the reference field names and <c>"model_type": "interbert"</c>.</summary>
    public static string ConfigJson(InterBertConfig config)
    {
        var json = JsonNode.Parse(config.ToJson())!.AsObject();
        json["model_type"] = ModelType;
        return json.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>The weights file a path names: the path itself, or a model folder's <c>model.safetensors</c>.</summary>
    public static string WeightsPath(string path)
    {
        if (!Directory.Exists(path)) return path;
        var weights = Path.Combine(path, WeightsFile);
        return File.Exists(weights) ? weights : throw new CheckpointException($"{path}: not a model folder (no {WeightsFile})");
    }

    /// <summary>
    /// Writes the weights file <paramref name="weightsPath"/> as a model folder, keeping everything its metadata
    /// records (pretrained keys, precision, task, ...) but its vocabulary binding, which the folder renews.
    /// </summary>
    public static void Export(string weightsPath, string folder)
    {
        var tokenizer = ModelVocabulary.TokenizerFor(weightsPath);
        using var model = ModelCheckpoint.Load(weightsPath);
        Save(model, folder, File.ReadAllBytes(tokenizer.Source), tokenizer.LowerCase, ModelCheckpoint.ReadMetadata(weightsPath));
    }

    /// <summary>
    /// Writes <paramref name="model"/> as a model folder, all files at once: into a temporary folder beside it, then
    /// renamed, so an interrupted save leaves the previous folder whole.
    /// </summary>
    public static void Save(InterBertModel model, string folder, byte[] vocabulary, bool lowerCase, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var full = Path.GetFullPath(folder);
        var parent = Directory.CreateDirectory(Path.GetDirectoryName(full)!).FullName;
        var temporary = Path.Combine(parent, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(temporary);
        try
        {
            var weights = Path.Combine(temporary, WeightsFile);
            // The vocabulary is vocab.txt, as Hugging Face names it, tied to the weights as a file's is beside them.
            File.WriteAllBytes(Path.Combine(temporary, VocabularyFile), vocabulary);
            var tied = ModelVocabulary.Binding(VocabularyFile, vocabulary, lowerCase);
            if (metadata is not null) foreach (var (k, v) in metadata) if (!tied.ContainsKey(k)) tied[k] = v;
            ModelCheckpoint.Save(model, weights, tied);
            File.WriteAllText(Path.Combine(temporary, "config.json"), ConfigJson(model.Config));
            var tokenizer = new JsonObject
            {
                ["tokenizer_class"] = "BertTokenizer", ["do_lower_case"] = lowerCase,
                ["model_max_length"] = Math.Min(model.Config.MaxSeqLength, model.Config.MaxPositionEmbeddings),
            };
            File.WriteAllText(Path.Combine(temporary, "tokenizer_config.json"), tokenizer.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            var previous = Directory.Exists(full) ? Path.Combine(parent, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.old") : null;
            if (previous is not null) Directory.Move(full, previous);
            Directory.Move(temporary, full);
            if (previous is not null) Directory.Delete(previous, recursive: true);
        }
        finally
        {
            if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        }
    }
}
