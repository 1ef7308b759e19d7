using InterBert.Modeling;
using static TorchSharp.torch;

namespace InterBert.Data;

/// <summary>Collates the regions of several images into a padded <see cref="ImageBatch"/> (and the tensors masked region modeling needs).</summary>
public static class RegionCollator
{
    /// <summary>
    /// Pads to the largest region count (at most <paramref name="maxRegions"/>; extra regions are dropped from the end).
    /// Refuses images whose feature size differs from <paramref name="featureSize"/>, naming the image.
    /// </summary>
    public static ImageBatch Collate(IReadOnlyList<ImageRegions> images, int featureSize, int maxRegions = 36)
    {
        var r = Math.Max(1, images.Max(i => Math.Min(i.RegionCount, maxRegions)));
        var features = new float[images.Count * r * featureSize];
        var locations = new float[images.Count * r * 5];
        var mask = new long[images.Count * r];
        for (var b = 0; b < images.Count; b++)
        {
            var image = images[b];
            if (image.FeatureSize != featureSize)
                throw new InterBertException($"image {image.Id}: {image.FeatureSize}-d region features, but the model expects v_feature_size {featureSize}");
            var count = Math.Min(image.RegionCount, r);
            Array.Copy(image.Features, 0, features, b * r * featureSize, count * featureSize);
            Array.Copy(image.Locations, 0, locations, b * r * 5, count * 5);
            for (var i = 0; i < count; i++) mask[b * r + i] = 1;
        }
        // Class distributions come along when every image has them, of one size (a store of labelled or detected boxes).
        var classCount = images[0].ClassCount;
        var classes = classCount > 0 && images.All(i => i.Classes is not null && i.ClassCount == classCount) ? ClassTargets(images, classCount, r) : null;
        return new ImageBatch(tensor(features, [images.Count, r, featureSize]), tensor(locations, [images.Count, r, 5]), tensor(mask, [images.Count, r])) { Classes = classes };
    }

    /// <summary>Class distributions [B, R, C] padded like <see cref="Collate"/> (zeros where absent).</summary>
    public static Tensor ClassTargets(IReadOnlyList<ImageRegions> images, int classCount, int regions)
    {
        var targets = new float[images.Count * regions * classCount];
        for (var b = 0; b < images.Count; b++)
        {
            var image = images[b];
            if (image.Classes is null || image.ClassCount != classCount) continue;
            var count = Math.Min(image.RegionCount, regions);
            Array.Copy(image.Classes, 0, targets, b * regions * classCount, count * classCount);
        }
        return tensor(targets, [images.Count, regions, classCount]);
    }
}
