using InterBert.Modeling;
using static TorchSharp.torch;

namespace InterBert.Benchmarks;

/// <summary>
/// The smallest scenes that need a caption's relation word to be bound to boxes: two objects whose features are hidden
/// (only their boxes are seen), plus the whole-image region, and the caption "a A to the REL of a B" with REL left or
/// right. Naming each box's object needs the caption, the boxes' order and the relation word together: the region head
/// cannot beat chance (50%) from any one or two of them. With <see cref="FixedRelation"/> every caption says "left", so
/// no composition with the relation word is needed; with <see cref="VisibleFeatures"/> each box shows its object.
/// </summary>
public sealed class BindingScenes(int classes, bool fixedRelation, bool visibleFeatures, int seed)
{
    /// <summary>Word ids: [CLS], [SEP], "a", "left", "right", "of", "to", "the"; object words start at <see cref="FirstObjectWord"/>.</summary>
    public const long Cls = 1, Sep = 2, A = 3, Left = 4, Right = 5, Of = 6, To = 7, The = 8, FirstObjectWord = 10;

    /// <summary>Tokens per caption.</summary>
    public const int CaptionLength = 10;

    /// <summary>Regions per scene: the whole image, then the two objects.</summary>
    public const int RegionCount = 3;

    /// <summary>The length of each region's (one-hot, when visible) feature vector.</summary>
    public const int FeatureSize = 16;

    private readonly Random random = new(seed);

    // The changed captions' absent classes come from their own source, so that the scenes are the same with or without them.
    private readonly Random absentClasses = new(seed + 7919);

    /// <summary>Object classes in play (at most <see cref="FeatureSize"/>).</summary>
    public int Classes { get; } = classes is >= 3 and <= FeatureSize ? classes : throw new ArgumentOutOfRangeException(nameof(classes), $"expected 3 to {FeatureSize} classes");

    /// <summary>Whether every caption says "left".</summary>
    public bool FixedRelation { get; } = fixedRelation;

    /// <summary>Whether each object's box carries its class as a one-hot feature (a sanity check: then the boxes alone suffice).</summary>
    public bool VisibleFeatures { get; } = visibleFeatures;

    /// <summary>
    /// A batch of scenes: the model's inputs, each object box's class, the rows of the image sequence (global token
    /// first) that hold the object boxes, two per scene, each caption with its two objects swapped, and each caption with
    /// its subject changed to a class not in the scene (both false of their scene).
    /// </summary>
    public sealed record Batch(TextBatch Text, ImageBatch Image, long[] Targets, long[] ObjectRows, float[] ObjectCentres, long[] Captions, TextBatch SwappedText, TextBatch ChangedText);

    /// <summary>Draws <paramref name="scenes"/> scenes.</summary>
    public Batch Next(int scenes)
    {
        var ids = new long[scenes * CaptionLength];
        var swappedIds = new long[scenes * CaptionLength];
        var changedIds = new long[scenes * CaptionLength];
        var locations = new float[scenes * RegionCount * 5];
        var features = new float[scenes * RegionCount * FeatureSize];
        var targets = new long[scenes * 2];
        var rows = new long[scenes * 2];
        var centres = new float[scenes * 2];
        for (var i = 0; i < scenes; i++)
        {
            int first = random.Next(Classes), second;
            do second = random.Next(Classes); while (second == first);
            double firstX, secondX;
            // Objects far enough apart that left and right are plain.
            do { firstX = 0.1 + 0.8 * random.NextDouble(); secondX = 0.1 + 0.8 * random.NextDouble(); } while (Math.Abs(firstX - secondX) < 0.15);
            var left = FixedRelation || random.Next(2) == 0;
            // "a S to the left of a O": the subject is the object on the left (on the right with "right").
            var firstIsSubject = left ? firstX < secondX : firstX > secondX;
            var (subject, @object) = firstIsSubject ? (first, second) : (second, first);
            long[] caption = [Cls, A, FirstObjectWord + subject, To, The, left ? Left : Right, Of, A, FirstObjectWord + @object, Sep];
            Array.Copy(caption, 0, ids, i * CaptionLength, CaptionLength);
            long[] swapped = [Cls, A, FirstObjectWord + @object, To, The, left ? Left : Right, Of, A, FirstObjectWord + subject, Sep];
            Array.Copy(swapped, 0, swappedIds, i * CaptionLength, CaptionLength);
            int absent;
            do absent = absentClasses.Next(Classes); while (absent == first || absent == second);
            Array.Copy(caption, 0, changedIds, i * CaptionLength, CaptionLength);
            changedIds[i * CaptionLength + 2] = FirstObjectWord + absent;
            // Which object is the first box is drawn too, so the box order says nothing.
            var boxes = random.Next(2) == 0 ? new[] { (first, firstX), (second, secondX) } : [(second, secondX), (first, firstX)];
            SetBox(locations, i * RegionCount, 0.5, 0.5, 1, 1);
            for (var k = 0; k < 2; k++)
            {
                var (objectClass, x) = boxes[k];
                SetBox(locations, i * RegionCount + 1 + k, x, 0.2 + 0.6 * random.NextDouble(), 0.1 + 0.2 * random.NextDouble(), 0.1 + 0.2 * random.NextDouble());
                targets[i * 2 + k] = objectClass;
                centres[i * 2 + k] = (float)x;
                // The image sequence is [global ; regions]: scene i's object k sits at row i * (regions + 1) + 2 + k.
                rows[i * 2 + k] = i * (RegionCount + 1) + 2 + k;
                if (VisibleFeatures) features[((i * RegionCount) + 1 + k) * FeatureSize + objectClass] = 1;
            }
        }
        var inputIds = tensor(ids).reshape(scenes, CaptionLength);
        var swappedInputIds = tensor(swappedIds).reshape(scenes, CaptionLength);
        var changedInputIds = tensor(changedIds).reshape(scenes, CaptionLength);
        return new Batch(new TextBatch(inputIds, ones_like(inputIds)),
            new ImageBatch(tensor(features).reshape(scenes, RegionCount, FeatureSize), tensor(locations).reshape(scenes, RegionCount, 5), ones(scenes, RegionCount)),
            targets, rows, centres, ids, new TextBatch(swappedInputIds, ones_like(swappedInputIds)), new TextBatch(changedInputIds, ones_like(changedInputIds)));
    }

    /// <summary>The paper's five box numbers (x1, y1, x2, y2, area), clipped to the image.</summary>
    private static void SetBox(float[] locations, int region, double centreX, double centreY, double width, double height)
    {
        var o = region * 5;
        locations[o] = (float)Math.Max(0, centreX - width / 2);
        locations[o + 1] = (float)Math.Max(0, centreY - height / 2);
        locations[o + 2] = (float)Math.Min(1, centreX + width / 2);
        locations[o + 3] = (float)Math.Min(1, centreY + height / 2);
        locations[o + 4] = (locations[o + 2] - locations[o]) * (locations[o + 3] - locations[o + 1]);
    }
}
