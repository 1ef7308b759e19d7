using InterBert.Tasks;

namespace InterBert.Tests.Tasks;

public sealed class SimilarityNegativesTests
{
    // Three captions of images 0, 1, 1 and a fourth of image 2, against the batch's three images.
    private static readonly float[,] Similarity = { { 0.9f, 0.5f, 0.1f }, { 0.2f, 0.8f, 0.6f }, { 0.3f, 0.7f, 0.4f }, { 0.0f, 0.3f, 0.9f } };
    private static readonly int[] ImageOfText = [0, 1, 1, 2];

    /// <summary>The softmax of scale x cosine over the candidates, computed here from its definition.</summary>
    private static double[] Softmax(IEnumerable<(int Index, double Cosine)> candidates, int size, double scale)
    {
        var list = candidates.ToList();
        var total = list.Sum(c => Math.Exp(scale * c.Cosine));
        var result = new double[size];
        foreach (var (index, cosine) in list) result[index] = Math.Exp(scale * cosine) / total;
        return result;
    }

    [Fact]
    public void WrongImagesFollowTheSoftmaxOfTheSimilarityAndNeverTheCaptionsOwn()
    {
        const int draws = 40_000;
        const double scale = 5;
        var random = new Random(11);
        var counts = new int[4, 3];
        for (var d = 0; d < draws; d++)
        {
            var chosen = SimilarityNegatives.ImagesForCaptions(Similarity, ImageOfText, scale, random);
            for (var t = 0; t < 4; t++) counts[t, chosen[t]]++;
        }
        for (var t = 0; t < 4; t++)
        {
            Assert.Equal(0, counts[t, ImageOfText[t]]);
            var expected = Softmax(Enumerable.Range(0, 3).Where(i => i != ImageOfText[t]).Select(i => (i, (double)Similarity[t, i])), 3, scale);
            for (var i = 0; i < 3; i++) Assert.InRange((double)counts[t, i] / draws, expected[i] - 0.01, expected[i] + 0.01);
        }
        // Caption 1 (image 1) is far likelier to be paired with image 2 (cosine 0.6) than with image 0 (0.2): not uniform.
        Assert.True(counts[1, 2] > 4 * counts[1, 0]);
    }

    [Fact]
    public void WrongCaptionsFollowTheSoftmaxOverTheCaptionsOfOtherImages()
    {
        const int draws = 40_000;
        const double scale = 5;
        var random = new Random(12);
        var counts = new int[3, 4];
        for (var d = 0; d < draws; d++)
        {
            var chosen = SimilarityNegatives.CaptionsForImages(Similarity, ImageOfText, scale, random);
            for (var i = 0; i < 3; i++) counts[i, chosen[i]]++;
        }
        for (var i = 0; i < 3; i++)
        {
            var expected = Softmax(Enumerable.Range(0, 4).Where(t => ImageOfText[t] != i).Select(t => (t, (double)Similarity[t, i])), 4, scale);
            for (var t = 0; t < 4; t++)
            {
                if (ImageOfText[t] == i) Assert.Equal(0, counts[i, t]); // neither of image 1's two captions is its negative
                Assert.InRange((double)counts[i, t] / draws, expected[t] - 0.01, expected[t] + 0.01);
            }
        }
    }

    [Fact]
    public void ABatchOfOneImageHasNoNegativeToDraw()
    {
        var chosen = SimilarityNegatives.ImagesForCaptions(new float[,] { { 0.5f }, { 0.4f } }, [0, 0], 10, new Random(1));
        Assert.Equal([-1, -1], chosen);
        Assert.Equal([-1], SimilarityNegatives.CaptionsForImages(new float[,] { { 0.5f }, { 0.4f } }, [0, 0], 10, new Random(1)));
    }

    [Fact]
    public void TheDrawsReplaceTheWrongImageAndCaptionOfEachExampleAndKeepOwnNegatives()
    {
        // Two examples before this rank's share; its three examples are captions 40, 41, 42 of images 7, 9, 9 (batch images 0, 1, 1).
        int[] examples = [40, 41, 42];
        int[] imageOfText = [0, 1, 1];
        int[] batchImages = [7, 9];
        const int captionCount = 100;
        var captionIds = new List<long>();
        var imageIds = new List<long>();
        for (var e = 0; e < 5; e++)
        {
            captionIds.AddRange([e, 50 + e, e, e]);
            imageIds.AddRange([e, e, 60 + e, 70 + e]);
        }
        captionIds[4 * 4 + 1] = captionCount + 3; // example 2 (the rank's third) drew one of its image's own known-false captions
        var similarity = new float[,] { { 0.9f, 0.5f }, { 0.1f, 0.8f }, { 0.2f, 0.7f } };
        // Two images only: each caption's wrong image is the other one; image 0's wrong caption is one of image 1's
        // (41 or 42), image 1's is caption 40, whatever the scale.
        SimilarityNegatives.Replace(captionIds, imageIds, 2, examples.Length, examples, imageOfText, batchImages, similarity, 3, new Random(5), captionCount);
        Assert.Equal([9L, 7, 7], new[] { imageIds[4 * 2 + 2], imageIds[4 * 3 + 2], imageIds[4 * 4 + 2] });
        Assert.Contains(captionIds[4 * 2 + 1], new long[] { 41, 42 });
        Assert.Equal(40, captionIds[4 * 3 + 1]);
        Assert.Equal(captionCount + 3, captionIds[4 * 4 + 1]);
        // Positives, hard images and the other ranks' pairs are left as they were.
        for (var e = 0; e < 5; e++)
        {
            Assert.Equal(e, captionIds[4 * e]);
            Assert.Equal(e, imageIds[4 * e]);
            Assert.Equal(70 + e, imageIds[4 * e + 3]);
        }
        Assert.Equal([50L, 51], new[] { captionIds[1], captionIds[4 + 1] });
        Assert.Equal([60L, 61], new[] { imageIds[2], imageIds[4 + 2] });
    }

    [Fact]
    public void ALargerContrastiveBatchOffersItsCaptionsAndImagesAsNegativesButOnlyTheExamplesChange()
    {
        // Two examples (captions 10, 11 of images 3, 4) and two more contrastive captions (12 of image 5, 13 of image 3).
        int[] captions = [10, 11, 12, 13];
        int[] imageOfText = [0, 1, 2, 0];
        int[] batchImages = [3, 4, 5];
        var captionIds = new List<long> { 10, 90, 10, 10, 11, 91, 11, 11 };
        var imageIds = new List<long> { 3, 3, 80, 81, 4, 4, 82, 83 };
        // Each example's caption is far closer to the extra image 5 than to the other example's image, and caption 12
        // (the extra, of image 5) is the closest caption of another image to both example images.
        var similarity = new float[,] { { 0.9f, -0.9f, 0.8f }, { -0.9f, 0.9f, 0.8f }, { 0.8f, 0.8f, 0.9f }, { 0.9f, -0.9f, 0.1f } };
        var scale = 40.0;
        SimilarityNegatives.Replace(captionIds, imageIds, 0, 2, captions, imageOfText, batchImages, similarity, scale, new Random(3), 100);
        // Wrong images: image 5, which only the extra captions brought into the batch.
        Assert.Equal([5L, 5], new[] { imageIds[2], imageIds[6] });
        // Image 3's wrong caption is 12 (caption 13 is its own, never drawn); image 4's is 12 as well.
        Assert.Equal([12L, 12], new[] { captionIds[1], captionIds[5] });
        // Positives and hard images stay; no pair was added for the extra captions.
        Assert.Equal(8, captionIds.Count);
        Assert.Equal([3L, 81, 4, 83], new[] { imageIds[0], imageIds[3], imageIds[4], imageIds[7] });
    }

    [Fact]
    public void SeveralWrongImagesPerCaptionAreDistinctNeverItsOwnAndTheFirstIsTheSingleDraw()
    {
        // Five batch images; caption t belongs to image t (t < 5). Image 4 is the closest to every caption but its own.
        var similarity = new float[5, 5];
        for (var t = 0; t < 5; t++) for (var i = 0; i < 5; i++) similarity[t, i] = i == 4 ? 0.9f : 0.1f * i;
        int[] imageOfText = [0, 1, 2, 3, 4];
        var nearest = 0;
        for (var round = 0; round < 500; round++)
        {
            var several = SimilarityNegatives.ImagesForCaptions(similarity, imageOfText, 10, new Random(round), 3);
            var single = SimilarityNegatives.ImagesForCaptions(similarity, imageOfText, 10, new Random(round));
            for (var t = 0; t < 5; t++)
            {
                Assert.Equal(3, several[t].Distinct().Count());
                Assert.DoesNotContain(t, several[t]);
                if (t < 4 && several[t].Contains(4)) nearest++;
            }
            // The first of several is what the single draw gives from the same source (for caption 0, the first drawn).
            Assert.Equal(single[0], several[0][0]);
        }
        Assert.True(nearest > 0.95 * 500 * 4, $"the nearest image was among three draws {nearest} times of {500 * 4}");
        // Asking for more than the batch has: the rest are -1.
        var all = SimilarityNegatives.ImagesForCaptions(similarity, imageOfText, 10, new Random(1), 6);
        Assert.Equal(4, all[0].Count(i => i >= 0));
        Assert.Equal(2, all[0].Count(i => i == -1));
    }

    [Fact]
    public void ExtraWrongImagesWidenEachExamplesPairsAndComeFromTheBatch()
    {
        int[] examples = [40, 41];
        int[] imageOfText = [0, 1];
        int[] batchImages = [7, 9, 11, 13];
        const int width = 6; // 4 + 2 extra
        var captionIds = new List<long>();
        var imageIds = new List<long>();
        for (var e = 0; e < 2; e++)
        {
            captionIds.AddRange([examples[e], 50 + e, examples[e], examples[e], examples[e], examples[e]]);
            imageIds.AddRange([batchImages[e], batchImages[e], 60 + e, 70 + e, 80 + e, 90 + e]);
        }
        var similarity = new float[,] { { 0.9f, 0.5f, 0.4f, 0.3f }, { 0.1f, 0.8f, 0.6f, 0.2f } };
        SimilarityNegatives.Replace(captionIds, imageIds, 0, examples.Length, examples, imageOfText, batchImages, similarity, 3, new Random(5), 100, extraNegatives: 2);
        for (var e = 0; e < 2; e++)
        {
            var pairs = Enumerable.Range(e * width, width).ToList();
            // The caption is paired with its own image first, then wrong ones; the wrong image and the two extras are
            // three distinct batch images other than its own; the hard image (pair 3) stays.
            Assert.All(pairs.Where(p => p % width != 1), p => Assert.Equal(examples[e], captionIds[p]));
            var drawn = new[] { imageIds[e * width + 2], imageIds[e * width + 4], imageIds[e * width + 5] };
            Assert.Equal(3, drawn.Distinct().Count());
            Assert.All(drawn, i => Assert.Contains(i, batchImages.Where(b => b != batchImages[e]).Select(b => (long)b)));
            Assert.Equal(70 + e, imageIds[e * width + 3]);
        }
    }
}
