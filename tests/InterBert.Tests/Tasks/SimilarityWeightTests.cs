using InterBert.Tasks;

namespace InterBert.Tests.Tasks;

/// <summary>The relevance calibration's fit of the cosine's weight in score + similarity, on scores made by hand.</summary>
public sealed class SimilarityWeightTests
{
    /// <summary>
    /// Four captions, caption c describing image c, every image a candidate. Caption 0's photo wins only when the
    /// cosine weighs more than 3.33 (score 0 + 0.5 w against 1 + 0.2 w), caption 1's only below 6.67 (2 + 0.2 w against
    /// 0.5 w); captions 2 and 3 win at any weight. So weights 4 and 6 find all four photos, 1 and 8 three of them.
    /// </summary>
    private static TwoStageRetrievalEvaluation.Result Evaluation()
    {
        const int n = 4;
        var scores = new float[n, n];
        var similarity = new float[n, n];
        for (var c = 0; c < n; c++)
            for (var i = 0; i < n; i++)
                (scores[c, i], similarity[c, i]) = c == i ? (3f, 0.6f) : (-5f, 0f);
        (scores[0, 0], similarity[0, 0], scores[0, 1], similarity[0, 1]) = (0f, 0.5f, 1f, 0.2f);
        (scores[1, 1], similarity[1, 1], scores[1, 0], similarity[1, 0]) = (2f, 0.2f, 0f, 0.5f);
        var all = new bool[n, n];
        for (var c = 0; c < n; c++)
            for (var i = 0; i < n; i++) all[c, i] = true;
        int[] imageOf = [0, 1, 2, 3];
        var scoreOnly = RetrievalMetrics.FromTwoStage(scores, similarity, all, all, imageOf);
        var fused = new float[n, n];
        for (var c = 0; c < n; c++)
            for (var i = 0; i < n; i++) fused[c, i] = scores[c, i] + similarity[c, i];
        var plain = RetrievalMetrics.FromTwoStage(fused, similarity, all, all, imageOf);
        return new TwoStageRetrievalEvaluation.Result(plain, n, n, n * n)
        {
            ScoreOnly = scoreOnly, ScorePlusSimilarity = plain, Unimodal = RetrievalMetrics.FromScores(similarity, imageOf),
            Scores = fused, PairScores = scores, Similarity = similarity, SimilarityScale = 1, ImageOf = imageOf, TextCandidates = all, ImageCandidatesOf = all,
        };
    }

    [Fact]
    public void ReRankingAtAWeightUsesTheCosineAtThatWeight()
    {
        var evaluation = Evaluation();
        Assert.Equal(75.0, evaluation.ScorePlusWeightedSimilarity(1).TextToImage.R1, 6);
        Assert.Equal(evaluation.ScorePlusSimilarity, evaluation.ScorePlusWeightedSimilarity(1));
        Assert.Equal(100.0, evaluation.ScorePlusWeightedSimilarity(4).TextToImage.R1, 6);
        Assert.Equal(100.0, evaluation.ScorePlusWeightedSimilarity(6).TextToImage.R1, 6);
        Assert.Equal(75.0, evaluation.ScorePlusWeightedSimilarity(8).TextToImage.R1, 6);
        Assert.Equal(75.0, evaluation.Unimodal!.TextToImage.R1, 6); // the cosine alone misses caption 1's photo
    }

    [Fact]
    public void TheFitKeepsTheWeightThatRanksBestTheFirstListedOnATieAndRanksByIt()
    {
        using var folder = new TempFolder();
        var weights = Path.Combine(folder.Path, "model.safetensors");
        File.WriteAllBytes(weights, [1, 2, 3]);
        var fitted = RelevanceCalibration.Fit(Evaluation(), weights, "hand-made");
        Assert.Equal(4f, fitted.SimilarityWeight); // 4 and 6 tie; 4 is listed first
        Assert.Equal(RelevanceCalibration.SimilarityWeights.Count, fitted.TextToImageBySimilarityWeight!.Count);
        Assert.Equal(75.0, fitted.TextToImageBySimilarityWeight["1"][0], 6);
        Assert.Equal(100.0, fitted.TextToImageBySimilarityWeight["6"][0], 6);
        Assert.Equal("score+similarity", fitted.Ranking);
        Assert.Equal(100.0, fitted.TextToImageByRanking!["score+similarity"][0], 6);
        Assert.Equal(75.0, fitted.TextToImageByRanking["first-stage"][0], 6);
        // The curve is fitted on the fused scores at that weight: each caption's photo is the most relevant of its row.
        var evaluation = Evaluation();
        for (var c = 0; c < 4; c++)
        {
            double Relevance(int i) => fitted.ScorePlusSimilarity.Probability(evaluation.PairScores[c, i] + 4 * evaluation.Similarity[c, i]);
            Assert.All(Enumerable.Range(0, 4).Where(i => i != c), i => Assert.True(Relevance(c) > Relevance(i)));
        }
        // A weight below zero is refused before anything is scored.
        Assert.Throws<ArgumentException>(() => TwoStageRetrievalEvaluation.Evaluate(null!, null!, 4, false, similarityWeight: -1));
    }
}
