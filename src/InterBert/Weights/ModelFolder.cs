using System.Text.Json.Nodes;
using InterBert.Data;
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
    /// <summary>The configuration file of a folder.</summary>
    public const string ConfigFile = "config.json";
    /// <summary>The tokenizer settings file of a folder.</summary>
    public const string TokenizerConfigFile = "tokenizer_config.json";
    /// <summary>The relevance calibration of the weights beside it (written by <c>evaluate --fit-relevance</c>).</summary>
    public const string RelevanceFile = "relevance.json";
    /// <summary>The <c>model_type</c> written into <c>config.json</c>.</summary>
    public const string ModelType = "interbert";

    /// <summary>The configuration as <c>config.json</c> holds it: the reference field names and <c>"model_type": "interbert"</c>.</summary>
    public static string ConfigJson(InterBertConfig config)
    {
        var json = JsonNode.Parse(config.ToJson())!.AsObject();
        json["model_type"] = ModelType;
        return json.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>The tokenizer settings as <c>tokenizer_config.json</c> holds them (Hugging Face's BertTokenizer fields).</summary>
    public static string TokenizerConfigJson(InterBertConfig config, bool lowerCase) => new JsonObject
    {
        ["tokenizer_class"] = "BertTokenizer", ["do_lower_case"] = lowerCase,
        ["model_max_length"] = config.TextLength,
    }.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });

    /// <summary>
    /// Makes a run folder a model folder of the weights file <paramref name="weightsPath"/> inside it (the model a run
    /// hands on: pretraining's weights, fine-tuning's best): <c>config.json</c>, <c>vocab.txt</c>,
    /// <c>tokenizer_config.json</c>, and <c>model.safetensors</c>, which is the weights file itself or a relative
    /// link to it (a copy where links cannot be made), and with <paramref name="preprocessing"/> (how the training photos
    /// became regions) <c>preprocessor_config.json</c>. Each file is replaced atomically.
    /// </summary>
    public static void Complete(string folder, string weightsPath, ImagePreprocessing? preprocessing = null)
    {
        var full = Path.GetFullPath(weightsPath);
        if (Path.GetDirectoryName(full) != Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar))
            throw new ArgumentException($"{weightsPath}: not inside {folder}");
        var tokenizer = ModelVocabulary.TokenizerFor(full);
        var config = ModelCheckpoint.ReadConfig(full);
        var vocabulary = File.ReadAllBytes(tokenizer.Source);
        var vocabularyPath = Path.Combine(folder, VocabularyFile);
        if (!File.Exists(vocabularyPath) || !File.ReadAllBytes(vocabularyPath).AsSpan().SequenceEqual(vocabulary))
            AtomicFile.Write(vocabularyPath, temporary => File.WriteAllBytes(temporary, vocabulary));
        AtomicFile.WriteAllText(Path.Combine(folder, ConfigFile), ConfigJson(config));
        AtomicFile.WriteAllText(Path.Combine(folder, TokenizerConfigFile), TokenizerConfigJson(config, tokenizer.LowerCase));
        preprocessing?.WriteTo(folder);
        var target = Path.Combine(folder, WeightsFile);
        if (Path.GetFileName(full) == WeightsFile) return;
        // A link, not a third copy of the weights; its target's metadata names its vocabulary file, which is beside it.
        var temporaryLink = Path.Combine(folder, $".{WeightsFile}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.CreateSymbolicLink(temporaryLink, Path.GetFileName(full));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            File.Copy(full, temporaryLink);
        }
        File.Move(temporaryLink, target, overwrite: true);
    }

    /// <summary>The weights file a path names: the path itself, or a model folder's <c>model.safetensors</c>.</summary>
    public static string WeightsPath(string path)
    {
        if (!Directory.Exists(path)) return path;
        var weights = Path.Combine(path, WeightsFile);
        return File.Exists(weights) ? weights : throw new CheckpointException($"{path}: not a model folder (no {WeightsFile})");
    }

    /// <summary>
    /// Refuses, before any work, an existing folder that is not a model folder holding only a model folder's files
    /// (a run folder, with its checkpoints, is not one): writing a model folder replaces it whole.
    /// </summary>
    public static void ClaimFolder(string folder) => OutputFolder.ClaimReplaceable(folder, "a model folder", ConfigFile,
        [WeightsFile, VocabularyFile, TokenizerConfigFile, Data.ImagePreprocessing.FileName, "detector.onnx", "coco_classes.txt", RelevanceFile]);

    /// <summary>
    /// Writes the weights file <paramref name="weightsPath"/> as a model folder, keeping everything its metadata
    /// records (pretrained keys, precision, task, ...) but its vocabulary binding, which the folder renews. With
    /// <paramref name="preprocessing"/>, the folder also says how photos become regions, and carries the detector
    /// (<c>detector.onnx</c>) so that it is complete on another machine.
    /// </summary>
    public static void Export(string weightsPath, string folder, ImagePreprocessing? preprocessing = null)
    {
        ClaimFolder(folder);
        var tokenizer = ModelVocabulary.TokenizerFor(weightsPath);
        using var model = ModelCheckpoint.Load(weightsPath);
        // A run folder's own description of its photos goes along unless another is given.
        preprocessing ??= ImagePreprocessing.ReadFrom(Path.GetDirectoryName(Path.GetFullPath(WeightsPath(weightsPath)))!);
        Save(model, folder, File.ReadAllBytes(tokenizer.Source), tokenizer.LowerCase, ModelCheckpoint.ReadMetadata(weightsPath), preprocessing);
    }

    /// <summary>
    /// Writes <paramref name="model"/> as a model folder, all files at once: into a temporary folder beside it, then
    /// renamed, so an interrupted save leaves the previous folder whole.
    /// </summary>
    public static void Save(InterBertModel model, string folder, byte[] vocabulary, bool lowerCase, IReadOnlyDictionary<string, string>? metadata = null, ImagePreprocessing? preprocessing = null)
    {
        ClaimFolder(folder);
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
            File.WriteAllText(Path.Combine(temporary, ConfigFile), ConfigJson(model.Config));
            File.WriteAllText(Path.Combine(temporary, TokenizerConfigFile), TokenizerConfigJson(model.Config, lowerCase));
            if (preprocessing is not null)
            {
                preprocessing.WriteTo(temporary);
                if (preprocessing.Regions.Detector is { } detector && File.Exists(detector))
                {
                    File.Copy(detector, Path.Combine(temporary, "detector.onnx"));
                    var classes = Path.Combine(Path.GetDirectoryName(detector)!, "coco_classes.txt");
                    if (File.Exists(classes)) File.Copy(classes, Path.Combine(temporary, "coco_classes.txt"));
                }
            }
            DurableFiles.ReplaceFolder(temporary, full);
        }
        finally
        {
            if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        }
    }
}
