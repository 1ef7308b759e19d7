using System.Text.Json;
using System.Text.Json.Nodes;
using InterBert.Text;

namespace InterBert.Data;

/// <summary>
/// Reads the <c>hard_negatives</c> a Karpathy-style dataset may list per image (captions one change away from the
/// truth, as the synthetic scenes carry): for evaluating with them and for training with them as known-false captions.
/// </summary>
public static class HardNegativeReader
{
    /// <summary>The hard negatives of each image of a split, by image id (file name without extension).</summary>
    public static Dictionary<string, List<HardNegativeCaption>> ReadHardNegatives(string datasetPath, string split)
    {
        var result = new Dictionary<string, List<HardNegativeCaption>>();
        // Only Karpathy-style JSON carries them; a folder or a caption file (Flickr's distributions) has none.
        if (Directory.Exists(datasetPath) || !datasetPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return result;
        if (!File.Exists(datasetPath)) throw new InterBertException($"{datasetPath}: dataset not found");
        try
        {
            foreach (var image in JsonNode.Parse(File.ReadAllText(datasetPath))?["images"]?.AsArray() ?? [])
            {
                if (image?["split"]?.GetValue<string>() != split || image["hard_negatives"] is not JsonArray negatives) continue;
                var id = Path.GetFileNameWithoutExtension(image["filename"]!.GetValue<string>());
                result[id] = negatives.Select(n => new HardNegativeCaption(n!["raw"]!.GetValue<string>(), n["true_sentence"]!.GetValue<int>(), n["changed"]!.GetValue<string>())).ToList();
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
        {
            throw new InterBertException($"{datasetPath}: malformed hard negatives ({e.Message.Split('\n')[0]})");
        }
        return result;
    }

    /// <summary>
    /// The hard-negative caption texts of the images of <paramref name="splits"/>, by image id (for training with them);
    /// with <paramref name="kind"/>, only those whose <c>changed</c> is that kind (<c>relation</c>, <c>attribute</c>).
    /// </summary>
    public static Dictionary<string, IReadOnlyList<string>> HardNegativeTexts(string datasetPath, IEnumerable<string> splits, string? kind = null) =>
        splits.SelectMany(split => ReadHardNegatives(datasetPath, split))
            .Select(p => (p.Key, Texts: (IReadOnlyList<string>)p.Value.Where(n => kind is null || n.Changed == kind).Select(n => n.Raw).ToList()))
            .Where(p => p.Texts.Count > 0)
            .ToDictionary(p => p.Key, p => p.Texts);

    /// <summary>Refuses a kind of own negatives without a rate that uses them (it would choose among captions never drawn).</summary>
    public static void CheckKindHasRate(string? kind, double rate)
    {
        if (kind is not null && rate <= 0)
            throw new ArgumentException($"--own-negatives {kind} chooses among the images' own wrong captions, which only --own-negative-rate (above 0) uses");
    }

    /// <summary>
    /// <paramref name="corpus"/> with the <c>hard_negatives</c> of its images in <paramref name="datasetPath"/> as their
    /// known-false captions (for training with own negatives), only those of <paramref name="kind"/> when given; an error
    /// when the splits have none.
    /// </summary>
    public static CaptionCorpus WithOwnNegatives(CaptionCorpus corpus, string datasetPath, IEnumerable<string> splits, WordPieceTokenizer tokenizer, int maxTokens, string option, string? kind = null)
    {
        var falseCaptions = HardNegativeTexts(datasetPath, splits, kind);
        if (falseCaptions.Count == 0)
            throw new InterBertException($"{datasetPath}: {option} needs \"hard_negatives\"{(kind is null ? "" : $" whose \"changed\" is {kind}")} on the training images, and there are none");
        return corpus.WithImageNegatives(falseCaptions, tokenizer, maxTokens);
    }
}
