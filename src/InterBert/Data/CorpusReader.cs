
namespace InterBert.Data;

/// <summary>
/// Reads the texts of a corpus file: a dataset (its captions), a TSV (its last column; a header line is not a text),
/// or plain text (one text per line; blank lines separate). Bad entries (a broken line, an empty or over-long text, a
/// path leaving the dataset's folder) stop the read with a one-line error naming the file and line, or, with
/// <see cref="DatasetReadOptions.SkipBad"/>, are skipped and counted in its report, as the dataset readers do.
/// </summary>
public static class CorpusReader
{
    private static readonly HashSet<string> HeaderNames = new(StringComparer.OrdinalIgnoreCase) { "label", "text", "caption", "sentence", "query", "title" };

    /// <summary>The texts of <paramref name="path"/>.</summary>
    public static IEnumerable<string> Read(string path, DatasetReadOptions? options = null)
    {
        options ??= new DatasetReadOptions();
        if (!File.Exists(path)) throw new InterBertException($"{path}: corpus file not found");
        if (path.EndsWith(".json", StringComparison.Ordinal) || path.EndsWith(".jsonl", StringComparison.Ordinal))
            return DatasetReader.Read(path, options).SelectMany(i => i.Captions);
        return Lines(path, path.EndsWith(".tsv", StringComparison.Ordinal), options);
    }

    private static IEnumerable<string> Lines(string path, bool tsv, DatasetReadOptions options)
    {
        var number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (!tsv && string.IsNullOrWhiteSpace(line)) continue;
            if (tsv && line.Length == 0) continue;
            var text = tsv ? line[(line.LastIndexOf('\t') + 1)..] : line;
            if (tsv && number == 1 && HeaderNames.Contains(text.Trim())) continue;
            var problem = string.IsNullOrWhiteSpace(text) ? "an empty text"
                : text.Length > options.MaxCaptionCharacters ? $"a text of {text.Length} characters (at most {options.MaxCaptionCharacters})" : null;
            if (problem is null)
            {
                yield return text;
                continue;
            }
            var reason = $"{path}: line {number}: {problem}";
            if (!options.SkipBad) throw new InterBertException(reason);
            options.Report.Skip(reason);
        }
    }
}
