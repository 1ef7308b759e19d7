
namespace InterBert.Modeling;

/// <summary>Clean (unmasked) captions, the distinct images they belong to, and caption t's image index <c>ImageOfText[t]</c>.</summary>
public sealed record ContrastiveBatch(TextBatch Text, ImageBatch Images, int[] ImageOfText)
{
    /// <summary>
    /// The distinct images of some captions (in first-seen order) and, for each caption, its image's position in that
    /// list: the layout <see cref="ContrastiveLoss"/> expects.
    /// </summary>
    public static (List<int> Images, int[] ImageOfText) Layout(IEnumerable<int> imageOfCaption)
    {
        var images = new List<int>();
        var position = new Dictionary<int, int>();
        var imageOfText = new List<int>();
        foreach (var image in imageOfCaption)
        {
            if (!position.TryGetValue(image, out var p))
            {
                position[image] = p = images.Count;
                images.Add(image);
            }
            imageOfText.Add(p);
        }
        return (images, imageOfText.ToArray());
    }

    /// <summary>
    /// The captions of a step's contrastive loss: the examples, then distinct other captions of the
    /// <paramref name="captionCount"/> training captions drawn with <paramref name="random"/> until there are
    /// <paramref name="size"/> (all of them at most); the examples alone when <paramref name="size"/> is not above their count.
    /// </summary>
    public static List<int> Captions(IReadOnlyList<int> examples, int size, int captionCount, Random random)
    {
        var wanted = Math.Min(size, captionCount);
        var captions = new List<int>(examples);
        if (wanted <= captions.Count) return captions;
        var chosen = new HashSet<int>(examples);
        while (captions.Count < wanted)
        {
            var caption = random.Next(captionCount);
            if (chosen.Add(caption)) captions.Add(caption);
        }
        return captions;
    }
}
