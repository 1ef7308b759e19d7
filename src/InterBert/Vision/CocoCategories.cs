namespace InterBert.Vision;

/// <summary>
/// The 80 COCO object categories in the order detectors trained on COCO output them, under their COCO 2017
/// names; older names used by some releases (e.g. YOLOX's <c>motorbike</c>, <c>tvmonitor</c>) are aliases.
/// </summary>
public static class CocoCategories
{
    /// <summary>Category names by index.</summary>
    public static IReadOnlyList<string> Names { get; } =
    [
        "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
        "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
        "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
        "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
        "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
        "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed",
        "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven",
        "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
    ];

    private static readonly Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["motorbike"] = "motorcycle", ["aeroplane"] = "airplane", ["sofa"] = "couch", ["pottedplant"] = "potted plant",
        ["diningtable"] = "dining table", ["tvmonitor"] = "tv",
    };

    private static readonly Dictionary<string, int> Index =
        Names.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.OrdinalIgnoreCase);

    /// <summary>The COCO 2017 name of a category name or alias, or null when it is not a COCO category.</summary>
    public static string? Canonical(string name) =>
        Aliases.TryGetValue(name, out var canonical) ? canonical : Index.ContainsKey(name) ? Index.Keys.First(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase)) : null;

    /// <summary>The index of a category name or alias, or -1.</summary>
    public static int IndexOf(string name) => Canonical(name) is { } canonical ? Index[canonical] : -1;

    /// <summary>A one-hot distribution over the 80 categories.</summary>
    public static float[] OneHot(int index)
    {
        var distribution = new float[Names.Count];
        distribution[index] = 1;
        return distribution;
    }
}
