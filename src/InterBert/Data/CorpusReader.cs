
namespace InterBert.Data;

/// <summary>Reads the texts of a corpus file: a dataset (its captions), a TSV (its last column), or plain text (one text per line).</summary>
public static class CorpusReader
{
    /// <summary>The texts of <paramref name="path"/>.</summary>
    public static IEnumerable<string> Read(string path)
    {
        if (!File.Exists(path)) throw new InterBertException($"{path}: corpus file not found");
        if (path.EndsWith(".json", StringComparison.Ordinal) || path.EndsWith(".jsonl", StringComparison.Ordinal))
            return DatasetReader.Read(path, new DatasetReadOptions { SkipBad = true }).SelectMany(i => i.Captions);
        if (path.EndsWith(".tsv", StringComparison.Ordinal))
            return File.ReadLines(path).Where(l => l.Length > 0).Select(l => l[(l.LastIndexOf('\t') + 1)..]);
        return File.ReadLines(path).Where(l => !string.IsNullOrWhiteSpace(l));
    }
}
