using System.Text.Json;
using System.Text.Json.Nodes;

namespace InterBert.Data;

/// <summary>
/// Reads VCR's JSONL: <c>question</c>, <c>answer_choices</c> and <c>rationale_choices</c> are token lists in which an
/// object reference is a list of indices into <c>objects</c>; each referenced object becomes its tag word (the object's
/// class and its 1-based index, e.g. <c>person2</c> for <c>objects[1] = "person"</c>) linked to that region, and several
/// references in one list are joined with "and". <c>img_fn</c>'s file stem is the image id in the feature store, whose
/// regions must follow the metadata's box order (region 0 is the whole image, so object i is region i + 1).
/// </summary>
public static class MultipleChoiceReader
{
    /// <summary>The items of a VCR JSONL file; errors name the file and line.</summary>
    public static List<MultipleChoiceItem> Read(string path)
    {
        if (!File.Exists(path)) throw new InterBertException($"{path}: multiple-choice file not found");
        var items = new List<MultipleChoiceItem>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var where = $"{path}: line {lineNumber}";
            try
            {
                var o = JsonNode.Parse(line) as JsonObject ?? throw new InterBertException($"{where}: not a JSON object");
                var objects = (o["objects"] as JsonArray)?.Select(x => x!.GetValue<string>()).ToList() ?? [];
                LinkedText Text(JsonNode? node, string field) => Parse(node as JsonArray ?? throw new InterBertException($"{where}: no \"{field}\" token list"), objects, $"{where}: {field}");
                List<LinkedText> Choices(string field)
                {
                    var list = o[field] as JsonArray ?? throw new InterBertException($"{where}: no \"{field}\"");
                    if (list.Count < 2) throw new InterBertException($"{where}: \"{field}\" has {list.Count} choices");
                    return list.Select((c, i) => Text(c, $"{field}[{i}]")).ToList();
                }
                var answers = Choices("answer_choices");
                var rationales = Choices("rationale_choices");
                var answerLabel = o["answer_label"]?.GetValue<int>() ?? throw new InterBertException($"{where}: no \"answer_label\"");
                var rationaleLabel = o["rationale_label"]?.GetValue<int>() ?? throw new InterBertException($"{where}: no \"rationale_label\"");
                if (answerLabel < 0 || answerLabel >= answers.Count || rationaleLabel < 0 || rationaleLabel >= rationales.Count)
                    throw new InterBertException($"{where}: answer_label {answerLabel} or rationale_label {rationaleLabel} is outside the choices");
                var image = o["img_fn"]?.GetValue<string>() ?? throw new InterBertException($"{where}: no \"img_fn\"");
                items.Add(new MultipleChoiceItem(Path.GetFileNameWithoutExtension(image), Text(o["question"], "question"), answers, rationales, answerLabel, rationaleLabel));
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
            {
                throw new InterBertException($"{where}: not a VCR line ({e.Message.Split('\n')[0]})");
            }
        }
        if (items.Count == 0) throw new InterBertException($"{path}: no questions");
        return items;
    }

    /// <summary>Turns a VCR token list into words, replacing each object reference by its linked tag word.</summary>
    public static LinkedText Parse(JsonArray tokens, IReadOnlyList<string> objects, string where)
    {
        var words = new List<string>();
        var regions = new List<int>();
        foreach (var token in tokens)
        {
            if (token is JsonArray references)
            {
                var first = true;
                foreach (var reference in references)
                {
                    var index = reference!.GetValue<int>();
                    if (index < 0 || index >= objects.Count) throw new InterBertException($"{where}: object reference {index} but the image has {objects.Count} objects");
                    if (!first) { words.Add("and"); regions.Add(-1); }
                    words.Add($"{objects[index]}{index + 1}");
                    regions.Add(index + 1); // region 0 of a store is the whole image
                    first = false;
                }
            }
            else
            {
                words.Add(token!.GetValue<string>());
                regions.Add(-1);
            }
        }
        return new LinkedText(words, regions);
    }
}
