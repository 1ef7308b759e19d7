using System.Text.Json.Serialization;

namespace InterBert.Tasks;

/// <summary>Recall at 1, 5 and 10, in percent.</summary>
public sealed record RecallAtK(
    [property: JsonPropertyName("R@1")] double R1,
    [property: JsonPropertyName("R@5")] double R5,
    [property: JsonPropertyName("R@10")] double R10);

/// <summary>Retrieval results both ways and their mean recall, in percent (the JSON that <c>evaluate --metrics-out</c> writes).</summary>
public sealed record RetrievalMetrics(
    [property: JsonPropertyName("text_to_image")] RecallAtK TextToImage,
    [property: JsonPropertyName("image_to_text")] RecallAtK ImageToText,
    [property: JsonPropertyName("mean_recall")] double MeanRecall,
    [property: JsonPropertyName("captions")] int Captions,
    [property: JsonPropertyName("images")] int Images)
{
    /// <summary>
    /// Ranks from a score matrix [captions, images]: for each caption, the rank of its image; for each image, the best
    /// rank of its captions. Ties are broken by index (a lower index ranks first), so results are deterministic.
    /// </summary>
    public static RetrievalMetrics FromScores(float[,] scores, IReadOnlyList<int> imageOf) => FromOrders(
        scores.GetLength(0), scores.GetLength(1), imageOf,
        (c, i, truth) => scores[c, i] > scores[c, truth],
        (i, o, c) => scores[o, i] > scores[c, i]);

    /// <summary>
    /// Ranks of a two-stage evaluation: for a caption, the images it re-scored (<paramref name="textCandidates"/>) rank
    /// first, by their cross-modal <paramref name="scores"/>, and the rest after them by the unimodal
    /// <paramref name="similarity"/>; likewise for an image and the captions it re-scored (<paramref name="imageCandidates"/>).
    /// With every pair a candidate both ways, the ranks are those of <see cref="FromScores"/>.
    /// </summary>
    public static RetrievalMetrics FromTwoStage(float[,] scores, float[,] similarity, bool[,] textCandidates, bool[,] imageCandidates, IReadOnlyList<int> imageOf)
    {
        bool Above(bool[,] candidates, int c, int i, int otherC, int otherI)
        {
            var first = candidates[c, i];
            var second = candidates[otherC, otherI];
            if (first != second) return first;
            return first ? scores[c, i] > scores[otherC, otherI] : similarity[c, i] > similarity[otherC, otherI];
        }
        return FromOrders(scores.GetLength(0), scores.GetLength(1), imageOf,
            (c, i, truth) => Above(textCandidates, c, i, c, truth),
            (i, o, c) => Above(imageCandidates, o, i, c, i));
    }

    /// <summary>
    /// Ranks from two orders: <paramref name="imageAbove"/>(c, i, j) says whether image i ranks strictly above image j for
    /// caption c; <paramref name="captionAbove"/>(i, o, c) whether caption o ranks strictly above caption c for image i.
    /// Equal items are ordered by index.
    /// </summary>
    private static RetrievalMetrics FromOrders(int captions, int images, IReadOnlyList<int> imageOf, Func<int, int, int, bool> imageAbove, Func<int, int, int, bool> captionAbove)
    {
        var textRanks = new int[captions];
        for (var c = 0; c < captions; c++)
        {
            var truth = imageOf[c];
            var rank = 0;
            for (var i = 0; i < images; i++)
                if (i != truth && (imageAbove(c, i, truth) || (i < truth && !imageAbove(c, truth, i)))) rank++;
            textRanks[c] = rank;
        }
        var imageRanks = Enumerable.Repeat(int.MaxValue, images).ToArray();
        for (var c = 0; c < captions; c++)
        {
            var i = imageOf[c];
            var rank = 0;
            for (var o = 0; o < captions; o++)
                if (o != c && (captionAbove(i, o, c) || (o < c && !captionAbove(i, c, o)))) rank++;
            imageRanks[i] = Math.Min(imageRanks[i], rank);
        }
        RecallAtK Recall(IEnumerable<int> ranks)
        {
            var list = ranks.Where(r => r != int.MaxValue).ToList();
            double At(int k) => list.Count == 0 ? 0 : 100.0 * list.Count(r => r < k) / list.Count;
            return new RecallAtK(At(1), At(5), At(10));
        }
        var t2i = Recall(textRanks);
        var i2t = Recall(imageRanks);
        return new RetrievalMetrics(t2i, i2t, (t2i.R1 + t2i.R5 + t2i.R10 + i2t.R1 + i2t.R5 + i2t.R10) / 6, captions, images);
    }
}
