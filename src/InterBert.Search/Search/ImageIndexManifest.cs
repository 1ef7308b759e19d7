using System.Text.Json.Serialization;

namespace InterBert.Search;

/// <summary>The description of an image index (<c>index.json</c>): the model it was built with and how it searches.</summary>
public sealed record ImageIndexManifest
{
    /// <summary>Format name.</summary>
    [JsonPropertyName("format")] public string Format { get; init; } = "interbert-index";
    /// <summary>Format version.</summary>
    [JsonPropertyName("version")] public int Version { get; init; } = 1;
    /// <summary>The weights file the vectors were computed with (absolute path).</summary>
    [JsonPropertyName("weights")] public string Weights { get; init; } = "";
    /// <summary>SHA-256 of that file: queries from any other model are refused.</summary>
    [JsonPropertyName("weights_sha256")] public string WeightsSha256 { get; init; } = "";
    /// <summary>The feature store of the indexed images, read for re-ranking: absolute once opened; an index folder records it relative to itself where it can, so the two move together.</summary>
    [JsonPropertyName("features")] public string Features { get; init; } = "";
    /// <summary>Vector dimension.</summary>
    [JsonPropertyName("dimension")] public int Dimension { get; init; }
    /// <summary>Number of indexed images.</summary>
    [JsonPropertyName("count")] public int Count { get; init; }
    /// <summary>"score-head" (a retrieval fine-tuned model) or "matching-head" (pretrained only): the re-ranking score.</summary>
    [JsonPropertyName("score")] public string Score { get; init; } = "score-head";
    /// <summary>The arithmetic the vectors were computed in: "fp32" or "bf16" (absent in older indexes: fp32).</summary>
    [JsonPropertyName("precision")] public string Precision { get; init; } = "fp32";
    /// <summary>Whether the model was trained with the contrastive loss (its unimodal vectors are aligned).</summary>
    [JsonPropertyName("contrastive")] public bool Contrastive { get; init; }
    /// <summary>HNSW graph degree.</summary>
    [JsonPropertyName("connectivity")] public int Connectivity { get; init; } = 16;
    /// <summary>HNSW candidate list size while building.</summary>
    [JsonPropertyName("expansion_add")] public int ExpansionAdd { get; init; } = 128;
    /// <summary>HNSW candidate list size while searching.</summary>
    [JsonPropertyName("expansion_search")] public int ExpansionSearch { get; init; } = 128;
    /// <summary>Collections of at most this many images are searched exactly unless asked otherwise.</summary>
    [JsonPropertyName("exact_below")] public int ExactBelow { get; init; } = 20_000;

    /// <summary>The folders the indexed image files were in when the index was built: the only ones the service serves files from.</summary>
    [JsonPropertyName("image_roots")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? ImageRoots { get; init; }

    /// <summary>The folders holding <paramref name="images"/>' files (absolute), those inside another listed folder left out.</summary>
    public static IReadOnlyList<string> RootsOf(IEnumerable<IndexedImage> images) =>
        Roots(images.Select(i => i.ImagePath).OfType<string>().Select(p => Path.GetDirectoryName(Path.GetFullPath(p))!));

    /// <summary><paramref name="folders"/> (absolute) without repeats and without those inside another of them.</summary>
    public static IReadOnlyList<string> Roots(IEnumerable<string> folders)
    {
        var roots = new List<string>();
        foreach (var folder in folders.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            if (!roots.Any(r => IsInside(folder, r))) roots.Add(folder);
        return roots;
    }

    /// <summary>Whether <paramref name="path"/> (absolute, normalised) is <paramref name="folder"/> or lies inside it.</summary>
    public static bool IsInside(string path, string folder)
    {
        folder = folder.TrimEnd(Path.DirectorySeparatorChar);
        return path == folder || path.StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal);
    }

    /// <summary>Refuses a model other than the one the index at <paramref name="location"/> was built with.</summary>
    public void CheckModel(string location, string weightsPath, string? fingerprint = null)
    {
        fingerprint ??= ImageIndex.Fingerprint(weightsPath);
        if (fingerprint != WeightsSha256)
            throw new InterBertException(
                $"{location}: built with the model {Weights} (sha256 {WeightsSha256[..12]}), not {weightsPath} (sha256 {fingerprint[..12]}); " +
                "vectors of different models are not comparable: rebuild the index with 'interbert index --weights' for this model");
    }
}
