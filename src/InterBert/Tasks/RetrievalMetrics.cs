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
    public static RetrievalMetrics FromScores(float[,] scores, IReadOnlyList<int> imageOf)
    {
        var captions = scores.GetLength(0);
        var images = scores.GetLength(1);
        var textRanks = new int[captions];
        for (var c = 0; c < captions; c++)
        {
            var truth = imageOf[c];
            var s = scores[c, truth];
            var rank = 0;
            for (var i = 0; i < images; i++)
                if (scores[c, i] > s || (scores[c, i] == s && i < truth)) rank++;
            textRanks[c] = rank;
        }
        var imageRanks = Enumerable.Repeat(int.MaxValue, images).ToArray();
        for (var i = 0; i < images; i++)
        {
            for (var c = 0; c < captions; c++)
            {
                if (imageOf[c] != i) continue;
                var s = scores[c, i];
                var rank = 0;
                for (var o = 0; o < captions; o++)
                    if (scores[o, i] > s || (scores[o, i] == s && o < c)) rank++;
                imageRanks[i] = Math.Min(imageRanks[i], rank);
            }
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
