using InterBert.Data;
using InterBert.Vision;

namespace InterBert.Pretraining;

/// <summary>
/// Masked region modeling's corruption: a fraction of regions become anchors, and the features of each anchor
/// and of every region overlapping it by more than the IoU threshold are zeroed, since an overlapping region would
/// give the answer away. Paper: 15% anchors, IoU &gt; 0.4; reference code: 10%, IoU ≥ 0.4.
/// </summary>
public sealed record RegionMasker
{
    /// <summary>Fraction of regions that become anchors.</summary>
    public double AnchorRate { get; init; } = 0.15;

    /// <summary>Overlap above which a region is masked with its anchor.</summary>
    public double IouThreshold { get; init; } = 0.4;

    /// <summary>Whether an IoU equal to the threshold also masks (the reference code's ≥).</summary>
    public bool InclusiveThreshold { get; init; }

    /// <summary>Whether regions overlapping an anchor are masked with it (the paper's grouping); off, exactly the anchors are masked.</summary>
    public bool Grouping { get; init; } = true;

    /// <summary>What happens to region 0 when it is the whole image and a region inside it is masked.</summary>
    public WholeImageRegionMasking WholeImageRegion { get; init; }

    /// <summary>The reference code's variant.</summary>
    public static RegionMasker Reference => new() { AnchorRate = 0.10, InclusiveThreshold = true };

    /// <summary>The anchor regions among <paramref name="count"/>: a stochastically rounded <see cref="AnchorRate"/> of them.</summary>
    public List<int> ChooseAnchors(int count, Random random) =>
        SegmentMasker.SampleWithoutReplacement(count, SegmentMasker.StochasticRound(AnchorRate * count, random), random).ToList();

    /// <summary>Which of the first <paramref name="count"/> regions are masked.</summary>
    public bool[] Mask(ImageRegions regions, int count, Random random) => Mask(regions, count, ChooseAnchors(count, random));

    /// <summary>Masks the given anchors and every region overlapping one of them above the threshold.</summary>
    public bool[] Mask(ImageRegions regions, int count, IReadOnlyList<int> anchors)
    {
        var masked = new bool[count];
        var boxes = Enumerable.Range(0, count).Select(r => new RegionBox(regions.Boxes[r * 4], regions.Boxes[r * 4 + 1], regions.Boxes[r * 4 + 2], regions.Boxes[r * 4 + 3])).ToArray();
        foreach (var anchor in anchors)
        {
            masked[anchor] = true;
            if (!Grouping) continue;
            for (var r = 0; r < count; r++)
            {
                var iou = boxes[anchor].IoU(boxes[r]);
                if (iou > IouThreshold || (InclusiveThreshold && iou >= IouThreshold)) masked[r] = true;
            }
        }
        if (Grouping && WholeImageRegion == WholeImageRegionMasking.Masked && anchors.Count > 0 && count > 0 && CoversWholeImage(regions)) masked[0] = true;
        return masked;
    }

    /// <summary>Whether region 0 is the whole image (feature extraction puts it first; stores read from other tools may not).</summary>
    private static bool CoversWholeImage(ImageRegions regions) =>
        regions.Boxes[0] <= 0.5f && regions.Boxes[1] <= 0.5f && regions.Boxes[2] >= regions.Width - 0.5f && regions.Boxes[3] >= regions.Height - 0.5f;
}
