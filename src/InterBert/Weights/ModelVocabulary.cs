using System.Security.Cryptography;
using InterBert.Text;

namespace InterBert.Weights;

/// <summary>
/// Keeps a weights file and its vocabulary together: the vocabulary is written beside the weights
/// (<c>NAME.vocab.txt</c> for <c>NAME.safetensors</c>, <c>vocab.txt</c> for <c>model.safetensors</c>) and its SHA-256 recorded in the weights' metadata,
/// so a later command cannot pair the weights with another vocabulary.
/// </summary>
public static class ModelVocabulary
{
    /// <summary>Metadata key: the vocabulary file name, relative to the weights file.</summary>
    public const string FileKey = "vocab_file";
    /// <summary>Metadata key: the vocabulary's SHA-256 (hex).</summary>
    public const string HashKey = "vocab_sha256";
    /// <summary>Metadata key: "true" when the vocabulary is uncased.</summary>
    public const string LowerCaseKey = "do_lower_case";

    /// <summary>
    /// The vocabulary path that belongs beside a weights path: <c>NAME.vocab.txt</c>, and <c>vocab.txt</c> beside a
    /// <c>model.safetensors</c>, as a model folder has it.
    /// </summary>
    public static string PathBeside(string weightsPath)
    {
        var full = Path.GetFullPath(weightsPath);
        if (Path.GetFileName(full) == ModelFolder.WeightsFile) return Path.Combine(Path.GetDirectoryName(full)!, ModelFolder.VocabularyFile);
        var stem = full.EndsWith(".safetensors", StringComparison.Ordinal) ? full[..^".safetensors".Length] : full;
        return stem + ".vocab.txt";
    }

    /// <summary>Writes the vocabulary beside <paramref name="weightsPath"/> (atomically) and returns the metadata that ties them.</summary>
    public static Dictionary<string, string> WriteBeside(string weightsPath, byte[] vocabulary, bool lowerCase)
    {
        var vocabularyPath = PathBeside(weightsPath);
        AtomicFile.Write(vocabularyPath, temporary => File.WriteAllBytes(temporary, vocabulary));
        return Binding(Path.GetFileName(vocabularyPath), vocabulary, lowerCase);
    }

    /// <summary>The metadata that ties weights to the vocabulary file <paramref name="fileName"/> beside them: its name, SHA-256 and casing.</summary>
    public static Dictionary<string, string> Binding(string fileName, byte[] vocabulary, bool lowerCase) => new()
    {
        [FileKey] = fileName,
        [HashKey] = Convert.ToHexStringLower(SHA256.HashData(vocabulary)),
        [LowerCaseKey] = lowerCase ? "true" : "false",
    };

    /// <summary>The tokenizer recorded with a weights file; refuses a missing or altered vocabulary.</summary>
    public static WordPieceTokenizer TokenizerFor(string weightsPath)
    {
        weightsPath = ModelFolder.WeightsPath(weightsPath);
        var metadata = ModelCheckpoint.ReadMetadata(weightsPath);
        if (!metadata.TryGetValue(FileKey, out var fileName))
            throw new InterBertException($"{weightsPath}: no vocabulary is recorded with these weights; create them with 'interbert init'");
        var vocabularyPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(weightsPath))!, fileName);
        if (!File.Exists(vocabularyPath))
            throw new InterBertException($"{vocabularyPath}: the vocabulary of {weightsPath} is missing (it must stay beside the weights)");
        var bytes = File.ReadAllBytes(vocabularyPath);
        if (metadata.TryGetValue(HashKey, out var expected) && Convert.ToHexStringLower(SHA256.HashData(bytes)) != expected)
            throw new InterBertException($"{vocabularyPath}: this is not the vocabulary {weightsPath} was saved with (SHA-256 differs)");
        using var stream = new MemoryStream(bytes);
        return WordPieceTokenizer.Load(stream, vocabularyPath, !metadata.TryGetValue(LowerCaseKey, out var lower) || lower == "true");
    }

    /// <summary>The metadata entries that tie an existing weights file's vocabulary to a new weights file saved elsewhere.</summary>
    public static Dictionary<string, string> CarryOver(string fromWeights, string toWeights)
    {
        var tokenizer = TokenizerFor(fromWeights);
        var bytes = File.ReadAllBytes(tokenizer.Source);
        return WriteBeside(toWeights, bytes, tokenizer.LowerCase);
    }
}
