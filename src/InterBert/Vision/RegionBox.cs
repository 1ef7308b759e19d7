namespace InterBert.Vision;

/// <summary>A region in pixel coordinates (x1, y1, x2, y2), with an optional class distribution and label.</summary>
public sealed record RegionBox(float X1, float Y1, float X2, float Y2, float[]? ClassDistribution = null, string? Label = null, float Score = 1)
{
    /// <summary>Width in pixels (never negative).</summary>
    public float Width => Math.Max(0, X2 - X1);
    /// <summary>Height in pixels (never negative).</summary>
    public float Height => Math.Max(0, Y2 - Y1);
    /// <summary>Area in square pixels.</summary>
    public float Area => Width * Height;

    /// <summary>Intersection over union with another box.</summary>
    public float IoU(RegionBox other)
    {
        var w = Math.Min(X2, other.X2) - Math.Max(X1, other.X1);
        var h = Math.Min(Y2, other.Y2) - Math.Max(Y1, other.Y1);
        if (w <= 0 || h <= 0) return 0;
        var intersection = w * h;
        return intersection / (Area + other.Area - intersection);
    }

    /// <summary>The box clipped to an image of the given size.</summary>
    public RegionBox ClipTo(int width, int height) => this with
    {
        X1 = Math.Clamp(X1, 0, width), Y1 = Math.Clamp(Y1, 0, height), X2 = Math.Clamp(X2, 0, width), Y2 = Math.Clamp(Y2, 0, height),
    };

    /// <summary>The paper's 5-d location: (x1/W, y1/H, x2/W, y2/H, area/(W·H)).</summary>
    public float[] Location(int width, int height) =>
        [X1 / width, Y1 / height, X2 / width, Y2 / height, Area / ((float)width * height)];

    /// <summary>The box covering a whole image.</summary>
    public static RegionBox WholeImage(int width, int height) => new(0, 0, width, height, Label: "image");

    /// <summary>
    /// The whole-image region of an image with these regions: its class distribution is the normalised sum of theirs
    /// when every one has a distribution, else none.
    /// </summary>
    public static RegionBox WholeImageOf(int width, int height, IReadOnlyList<RegionBox> regions)
    {
        if (regions.Count == 0 || regions.Any(r => r.ClassDistribution is null)) return WholeImage(width, height);
        var sum = new float[regions[0].ClassDistribution!.Length];
        foreach (var r in regions) for (var c = 0; c < sum.Length; c++) sum[c] += r.ClassDistribution![c];
        var total = sum.Sum();
        for (var c = 0; c < sum.Length; c++) sum[c] /= total;
        return WholeImage(width, height) with { ClassDistribution = sum };
    }

    /// <summary>
    /// The feature-store record of these regions (region 0 the whole image) with these features [R, D]; the class
    /// distributions are stored when every region has one.
    /// </summary>
    public static Data.ImageRegions RecordOf(string id, int width, int height, IReadOnlyList<RegionBox> regions, float[] features)
    {
        var hasClasses = regions.Count > 0 && regions.All(r => r.ClassDistribution is not null);
        return new Data.ImageRegions(id, width, height, regions.Count,
            regions.SelectMany(r => new[] { r.X1, r.Y1, r.X2, r.Y2 }).ToArray(),
            regions.SelectMany(r => r.Location(width, height)).ToArray(),
            features,
            hasClasses ? regions.SelectMany(r => r.ClassDistribution!).ToArray() : null);
    }
}
