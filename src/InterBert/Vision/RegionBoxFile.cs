using System.Text.Json;
using System.Text.Json.Nodes;

namespace InterBert.Vision;

/// <summary>
/// Reads labelled boxes per image: JSONL lines <c>{"image_id", "bbox": [x, y, w, h], "category"}</c>
/// (the COCO sample's objects.jsonl) or a COCO instances JSON (<c>annotations</c> with <c>category_id</c>, and <c>categories</c>).
/// </summary>
public static class RegionBoxFile
{
    /// <summary>Boxes by image id; errors name the file and line.</summary>
    public static Dictionary<string, List<RegionBox>> Read(string path)
    {
        if (!File.Exists(path)) throw new InterBertException($"{path}: boxes file not found");
        var boxes = new Dictionary<string, List<RegionBox>>();
        void Add(string id, JsonNode? bbox, string? category, string where)
        {
            var values = (bbox as JsonArray ?? throw new InterBertException($"{where}: no \"bbox\" array")).Select(v => v!.GetValue<float>()).ToArray();
            if (values.Length != 4 || values[2] < 0 || values[3] < 0) throw new InterBertException($"{where}: \"bbox\" must be [x, y, width, height]");
            var index = category is null ? -1 : CocoCategories.IndexOf(category);
            var box = new RegionBox(values[0], values[1], values[0] + values[2], values[1] + values[3],
                index >= 0 ? CocoCategories.OneHot(index) : null, index >= 0 ? CocoCategories.Names[index] : category);
            (boxes.TryGetValue(id, out var list) ? list : boxes[id] = []).Add(box);
        }
        if (path.EndsWith(".jsonl", StringComparison.Ordinal))
        {
            var lineNumber = 0;
            foreach (var line in File.ReadLines(path))
            {
                lineNumber++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                var where = $"{path}: line {lineNumber}";
                try
                {
                    var o = JsonNode.Parse(line) ?? throw new InterBertException($"{where}: empty");
                    Add(o["image_id"]?.ToString() ?? throw new InterBertException($"{where}: no \"image_id\""), o["bbox"], o["category"]?.GetValue<string>(), where);
                }
                catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
                {
                    throw new InterBertException($"{where}: not a box line ({e.Message.Split('\n')[0]})");
                }
            }
            return boxes;
        }
        try
        {
            var root = JsonNode.Parse(File.ReadAllText(path)) ?? throw new InterBertException($"{path}: empty");
            var names = (root["categories"] as JsonArray ?? [])
                .ToDictionary(c => c!["id"]!.ToString(), c => c!["name"]!.GetValue<string>());
            var annotations = root["annotations"] as JsonArray ?? throw new InterBertException($"{path}: no \"annotations\": not COCO instances JSON");
            for (var i = 0; i < annotations.Count; i++)
            {
                var a = annotations[i]!;
                var category = a["category_id"] is JsonNode c && names.TryGetValue(c.ToString(), out var name) ? name : null;
                Add(a["image_id"]!.ToString(), a["bbox"], category, $"{path}: annotations[{i}]");
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
        {
            throw new InterBertException($"{path}: not COCO instances JSON ({e.Message.Split('\n')[0]})");
        }
        return boxes;
    }
}
