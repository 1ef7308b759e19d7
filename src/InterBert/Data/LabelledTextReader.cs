namespace InterBert.Data;

/// <summary>
/// Reads GLUE-style TSV: <c>sentence[&lt;TAB&gt;sentence2]&lt;TAB&gt;label</c>, one example per line; a first line with a
/// field <c>label</c> is a header, and where it names that column first (<c>label&lt;TAB&gt;sentence</c>, as some copies
/// of SST-2 have it) the label is read from there. Errors name the file and line; with <see cref="DatasetReadOptions.SkipBad"/> a bad
/// line is skipped and counted instead. A Git LFS pointer committed in place of the data is refused in one line.
/// </summary>
public static class LabelledTextReader
{
    /// <summary>The examples of <paramref name="path"/>.</summary>
    public static List<LabelledText> Read(string path, DatasetReadOptions? options = null)
    {
        options ??= new DatasetReadOptions();
        if (!File.Exists(path)) throw new InterBertException($"{path}: classification file not found");
        var examples = new List<LabelledText>();
        var lineNumber = 0;
        var labelColumn = -1; // the last field, unless a header says otherwise
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (lineNumber == 1 && line.StartsWith("version https://git-lfs", StringComparison.Ordinal))
                throw new InterBertException($"{path}: a Git LFS pointer, not the data (its repository stores the file in LFS: fetch the file itself)");
            if (string.IsNullOrWhiteSpace(line)) continue;
            var fields = line.Split('\t');
            if (lineNumber == 1 && Array.FindIndex(fields, f => f.Trim().Equals("label", StringComparison.OrdinalIgnoreCase)) is var header and >= 0)
            {
                labelColumn = header == fields.Length - 1 ? -1 : header;
                continue;
            }
            try
            {
                examples.Add(Parse(fields, $"{path}: line {lineNumber}", options.Labels, labelColumn));
            }
            catch (InterBertException e) when (options.SkipBad)
            {
                options.Report.Skip(e.Message);
            }
        }
        if (examples.Count == 0) throw new InterBertException($"{path}: no examples");
        return examples;
    }

    private static LabelledText Parse(string[] fields, string where, IReadOnlyCollection<string>? labels, int labelColumn)
    {
        if (fields.Length is < 2 or > 3)
            throw new InterBertException($"{where}: {fields.Length} tab-separated fields; expected sentence<TAB>label or sentence<TAB>sentence2<TAB>label");
        var column = labelColumn < 0 || labelColumn >= fields.Length ? fields.Length - 1 : labelColumn;
        var label = fields[column].Trim();
        fields = [.. fields.Where((_, k) => k != column)];
        if (label.Length == 0) throw new InterBertException($"{where}: empty label");
        if (labels is not null && !labels.Contains(label)) throw new InterBertException($"{where}: label '{label}'; expected {string.Join(" or ", labels)}");
        if (string.IsNullOrWhiteSpace(fields[0])) throw new InterBertException($"{where}: empty sentence");
        return new LabelledText(fields[0], fields.Length == 2 ? fields[1] : null, label);
    }
}
