namespace InterBert.Data;

/// <summary>
/// The regions of one image: boxes [R, 4] in pixels, locations [R, 5] as (x1/W, y1/H, x2/W, y2/H, area/(W·H)),
/// features [R, D] and, when known, class distributions [R, C]. Arrays are row-major; region 0 is the whole image.
/// </summary>
public sealed record ImageRegions(string Id, int Width, int Height, int RegionCount, float[] Boxes, float[] Locations, float[] Features, float[]? Classes)
{
    /// <summary>Feature dimension.</summary>
    public int FeatureSize => RegionCount == 0 ? 0 : Features.Length / RegionCount;

    /// <summary>Number of classes of the distributions (0 when absent).</summary>
    public int ClassCount => Classes is null || RegionCount == 0 ? 0 : Classes.Length / RegionCount;
}
