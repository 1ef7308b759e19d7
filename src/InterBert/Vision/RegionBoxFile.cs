using System.Text.Json;
using System.Text.Json.Nodes;

namespace InterBert.Vision;

/// <summary>
/// Reads labelled boxes per image: JSONL lines <c>{"image_id", "bbox": [x, y, w, h], "category"}</c>
/// (the COCO sample's objects.jsonl) or a COCO instances JSON (<c>annotations</c> with <c>category_id</c>, and <c>categories</c>).
/// Categories that are all COCO names become one-hot distributions over the 80 COCO classes; a file with other
/// categories (the synthetic scenes' "large red circle") has its own classes, its distinct categories in ordinal order.
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
            var box = new RegionBox(values[0], values[1], values[0] + values[2], values[1] + values[3], Label: category);
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
            return WithClasses(boxes);
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
        return WithClasses(boxes);
    }

    /// <summary>
    /// The class names of the distributions <see cref="Read"/> gave the boxes, by index: COCO's 80, or the file's own
    /// categories; null when no box has a category.
    /// </summary>
    public static IReadOnlyList<string>? ClassNames(IReadOnlyDictionary<string, List<RegionBox>> boxes)
    {
        var labelled = boxes.Values.SelectMany(b => b).Where(b => b.ClassDistribution is not null).ToList();
        if (labelled.Count == 0) return null;
        var size = labelled[0].ClassDistribution!.Length;
        if (size == CocoCategories.Names.Count && labelled.All(b => CocoCategories.IndexOf(b.Label!) >= 0)) return CocoCategories.Names;
        return labelled.Select(b => b.Label!).Distinct().Order(StringComparer.Ordinal).ToList();
    }

    private static Dictionary<string, List<RegionBox>> WithClasses(Dictionary<string, List<RegionBox>> boxes)
    {
        var categories = boxes.Values.SelectMany(b => b).Select(b => b.Label).OfType<string>().Distinct().ToList();
        if (categories.Count == 0) return boxes;
        if (categories.All(c => CocoCategories.IndexOf(c) >= 0))
            return boxes.ToDictionary(p => p.Key, p => p.Value.Select(b => b.Label is null ? b
                : b with { ClassDistribution = CocoCategories.OneHot(CocoCategories.IndexOf(b.Label)), Label = CocoCategories.Canonical(b.Label) }).ToList());
        var own = categories.Order(StringComparer.Ordinal).Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i, StringComparer.Ordinal);
        return boxes.ToDictionary(p => p.Key, p => p.Value.Select(b =>
        {
            if (b.Label is null) return b;
            var distribution = new float[own.Count];
            distribution[own[b.Label]] = 1;
            return b with { ClassDistribution = distribution };
        }).ToList());
    }
}
