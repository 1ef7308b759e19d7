using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>
/// RoI align as region features are pooled here: each box is divided into bins x bins cells, each sampled bilinearly
/// at its centre, and the cells are averaged. A box covering the whole image samples every map cell's centre: the
/// global average pool. One sampling grid per image is computed once from its boxes; pooling is then one
/// <c>grid_sample</c> for a whole batch, differentiable with respect to the map.
/// </summary>
public static class RoiAlign
{
    /// <summary>Bins per side of a box.</summary>
    public const int Bins = 7;

    /// <summary>
    /// The sampling grid [count, bins, bins, 2] (flattened) of <paramref name="count"/> boxes (x1, y1, x2, y2 in pixels
    /// of a <paramref name="width"/> x <paramref name="height"/> image) over a map of <paramref name="mapWidth"/> x
    /// <paramref name="mapHeight"/> cells, in <c>grid_sample</c>'s coordinates (align_corners false).
    /// </summary>
    public static float[] Grid(ReadOnlySpan<float> boxes, int count, int width, int height, long mapWidth, long mapHeight, int bins = Bins)
    {
        var grid = new float[count * bins * bins * 2];
        var i = 0;
        for (var r = 0; r < count; r++)
        {
            // Continuous map coordinates (cell j spans [j, j+1]); grid_sample with align_corners=false maps x to 2x/W - 1.
            var x1 = boxes[4 * r] / width * mapWidth;
            var y1 = boxes[4 * r + 1] / height * mapHeight;
            var binWidth = Math.Max(boxes[4 * r + 2] / width * mapWidth - x1, 1e-3f) / bins;
            var binHeight = Math.Max(boxes[4 * r + 3] / height * mapHeight - y1, 1e-3f) / bins;
            for (var by = 0; by < bins; by++)
            {
                for (var bx = 0; bx < bins; bx++)
                {
                    grid[i++] = 2 * (x1 + (bx + 0.5f) * binWidth) / mapWidth - 1;
                    grid[i++] = 2 * (y1 + (by + 0.5f) * binHeight) / mapHeight - 1;
                }
            }
        }
        return grid;
    }

    /// <summary>Pools maps [B, C, H, W] at grids [B, R, bins, bins, 2] (from <see cref="Grid"/>): region features [B, R, C].</summary>
    public static Tensor Pool(Tensor maps, Tensor grids)
    {
        var (batch, regions, bins) = (grids.shape[0], grids.shape[1], grids.shape[2]);
        var sampled = nn.functional.grid_sample(maps, grids.view(batch, regions * bins, bins, 2).to_type(maps.dtype),
            mode: GridSampleMode.Bilinear, padding_mode: GridSamplePaddingMode.Border, align_corners: false);
        // [B, C, R*bins, bins] → [B, R, C]
        return sampled.view(batch, maps.shape[1], regions, bins * bins).mean([3]).transpose(1, 2);
    }
}
