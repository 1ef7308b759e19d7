namespace InterBert.Pretraining;

/// <summary>
/// What masked region modeling does with a store's region 0, the whole image, when a region inside it is masked:
/// the whole image's features contain the masked region's content, so leaving it visible gives part of the answer away.
/// </summary>
public enum WholeImageRegionMasking
{
    /// <summary>Masked only when it overlaps an anchor above the IoU threshold, like any region (a small masked region leaks through it).</summary>
    Visible,
    /// <summary>Masked, and predicted, whenever any region of the image is masked.</summary>
    Masked,
}
