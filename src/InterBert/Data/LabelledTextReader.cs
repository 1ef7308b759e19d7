namespace InterBert.Data;

/// <summary>
/// Reads GLUE-style TSV: <c>sentence[&lt;TAB&gt;sentence2]&lt;TAB&gt;label</c>, one example per line; a first line whose last
/// field is <c>label</c> is a header. Errors name the file and line.
/// </summary>
public static class LabelledTextReader
{
    /// <summary>The examples of <paramref name="path"/>.</summary>
    public static List<LabelledText> Read(string path)
    {
        if (!File.Exists(path)) throw new InterBertException($"{path}: classification file not found");
        var examples = new List<LabelledText>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var fields = line.Split('\t');
            if (lineNumber == 1 && fields[^1].Trim().Equals("label", StringComparison.OrdinalIgnoreCase)) continue;
            if (fields.Length is < 2 or > 3)
                throw new InterBertException($"{path}: line {lineNumber}: {fields.Length} tab-separated fields; expected sentence<TAB>label or sentence<TAB>sentence2<TAB>label");
            var label = fields[^1].Trim();
            if (label.Length == 0) throw new InterBertException($"{path}: line {lineNumber}: empty label");
            if (string.IsNullOrWhiteSpace(fields[0])) throw new InterBertException($"{path}: line {lineNumber}: empty sentence");
            examples.Add(new LabelledText(fields[0], fields.Length == 3 ? fields[1] : null, label));
        }
        if (examples.Count == 0) throw new InterBertException($"{path}: no examples");
        return examples;
    }
}
