using System.Text.Json;
using System.Text.Json.Serialization;

namespace InterBert.Tasks;

/// <summary>
/// A model's relevance calibration (<c>relevance.json</c> beside its weights): for each way search ranks candidates
/// (the cross-modal score, or the score plus the scaled cosine), a curve from the ranking score to the probability that
/// a candidate is the photo the query describes, fitted on a dev split's two-stage candidates. A search then keeps only
/// results above a minimum relevance, possibly none. It belongs to one weights file (by SHA-256).
/// </summary>
public sealed record RelevanceCalibration
{
    /// <summary>The file's name, beside the weights.</summary>
    public const string FileName = Weights.ModelFolder.RelevanceFile;
    private const string FormatName = "interbert-relevance";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Marks the file as this tool's (a file of that name without it is a user's, never replaced).</summary>
    [JsonPropertyName("format")] public string Format { get; init; } = FormatName;
    /// <summary>The SHA-256 of the weights the curves were fitted for.</summary>
    [JsonPropertyName("weights_sha256")] public string WeightsSha256 { get; init; } = "";
    /// <summary>What the curves were fitted on (dataset and split).</summary>
    [JsonPropertyName("fitted_on")] public string FittedOn { get; init; } = "";
    /// <summary>Captions and first-stage candidates per caption of the fit.</summary>
    [JsonPropertyName("captions")] public int Captions { get; init; }
    /// <summary>First-stage candidates per caption of the fit.</summary>
    [JsonPropertyName("candidates")] public int Candidates { get; init; }
    /// <summary>The curve of the cross-modal score alone.</summary>
    [JsonPropertyName("score")] public RelevanceCurve Score { get; init; } = new(0, 0);
    /// <summary>The curve of the score plus the scaled first-stage cosine (times <see cref="SimilarityWeight"/>).</summary>
    [JsonPropertyName("score_plus_similarity")] public RelevanceCurve ScorePlusSimilarity { get; init; } = new(0, 0);
    /// <summary>
    /// The multiplier of the scaled cosine in score + similarity that ranked the fit's split best (of
    /// <see cref="SimilarityWeights"/>; 1, BLIP-2's plain sum, in calibrations older than the fit of it).
    /// </summary>
    [JsonPropertyName("similarity_weight")] public float SimilarityWeight { get; init; } = 1;
    /// <summary>Text-to-image R@1, R@5, R@10 of score + similarity on the fit's split, by similarity weight: why <see cref="SimilarityWeight"/> was chosen.</summary>
    [JsonPropertyName("text_to_image_by_similarity_weight")] public Dictionary<string, double[]>? TextToImageBySimilarityWeight { get; init; }

    /// <summary>The similarity weights a fit tries, 1 (the plain sum) first so that it wins a tie.</summary>
    public static IReadOnlyList<float> SimilarityWeights { get; } = [1, 0.25f, 0.5f, 0.75f, 1.5f, 2, 3, 4, 6, 8];
    /// <summary>The curve of the first-stage cosine alone (absent from calibrations older than that ranking).</summary>
    [JsonPropertyName("similarity")] public RelevanceCurve? Similarity { get; init; }
    /// <summary>The curve of word-region matching plus the cosine on the logit scale (absent when the fit did not measure it).</summary>
    [JsonPropertyName("word_region_plus_similarity")] public RelevanceCurve? WordRegionPlusSimilarity { get; init; }
    /// <summary>The curve of the score plus word-region matching and the cosine on the logit scale (absent when the fit did not measure it).</summary>
    [JsonPropertyName("score_plus_word_region_plus_similarity")] public RelevanceCurve? ScorePlusWordRegionPlusSimilarity { get; init; }
    /// <summary>
    /// The ranking that found the described photos best on the fit's split (text-to-image R@1 + R@5 + R@10; on a tie the
    /// cheaper), which search uses unless told otherwise; absent from older calibrations.
    /// </summary>
    [JsonPropertyName("ranking")] public string? Ranking { get; init; }
    /// <summary>Text-to-image R@1, R@5, R@10 of each ranking on the fit's split, by ranking name: why <see cref="Ranking"/> was chosen.</summary>
    [JsonPropertyName("text_to_image_by_ranking")] public Dictionary<string, double[]>? TextToImageByRanking { get; init; }

    /// <summary>The curve of a ranking; null for the first stage in a calibration fitted before it had one.</summary>
    public RelevanceCurve? For(SearchRanking ranking) => ranking switch
    {
        SearchRanking.Score => Score,
        SearchRanking.ScoreAndSimilarity => ScorePlusSimilarity,
        SearchRanking.WordRegionAndSimilarity => WordRegionPlusSimilarity,
        SearchRanking.ScoreWordRegionAndSimilarity => ScorePlusWordRegionPlusSimilarity,
        _ => Similarity,
    };

    /// <summary>The ranking measured best when the calibration was fitted, if it says.</summary>
    [JsonIgnore] public SearchRanking? MeasuredBest => Ranking is { } name && SearchRankingNames.All.TryGetValue(name, out var ranking) ? ranking : null;

    /// <summary>
    /// Fits the curves on a two-stage evaluation's candidates (each caption's own photo against the others proposed
    /// with it), and the similarity weight: the one of <see cref="SimilarityWeights"/> whose score + similarity ranks
    /// the split best (text-to-image R@1 + R@5 + R@10), from the evaluation's scores.
    /// </summary>
    public static RelevanceCalibration Fit(TwoStageRetrievalEvaluation.Result evaluation, string weightsPath, string fittedOn)
    {
        // Keyed by the printed weight for relevance.json; the weight itself is looked up, not parsed back.
        var weightOf = SimilarityWeights.ToDictionary(w => w.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture), StringComparer.Ordinal);
        var byWeight = weightOf.ToDictionary(p => p.Key,
            p => p.Value == evaluation.SimilarityWeight && evaluation.ScorePlusSimilarity is { } same ? same : evaluation.ScorePlusWeightedSimilarity(p.Value), StringComparer.Ordinal);
        var textToImageByWeight = byWeight.ToDictionary(p => p.Key, p => new[] { p.Value.TextToImage.R1, p.Value.TextToImage.R5, p.Value.TextToImage.R10 }, StringComparer.Ordinal);
        var bestWeight = Best(textToImageByWeight)!;
        var weight = weightOf[bestWeight];
        var matching = evaluation.WordRegionScores;
        // Each ranking's examples for its curve, scored as search scores it (word-region rankings when the evaluation computed them).
        var rankings = new[] { SearchRanking.Score, SearchRanking.ScoreAndSimilarity, SearchRanking.FirstStage, SearchRanking.WordRegionAndSimilarity, SearchRanking.ScoreWordRegionAndSimilarity }
            .Where(r => matching is not null || !r.NeedsWordRegion()).ToList();
        var examples = rankings.ToDictionary(r => r, _ => new List<(double, bool)>());
        foreach (var (caption, image, relevant) in CandidatePairs(evaluation))
            foreach (var ranking in rankings) examples[ranking].Add((ScoreOf(evaluation, ranking, weight, caption, image), relevant));
        var measured = new Dictionary<string, double[]>(StringComparer.Ordinal);
        // Cheapest first, so that a tie goes to the cheaper ranking.
        foreach (var (ranking, metrics) in new[] { (SearchRanking.FirstStage, evaluation.Unimodal), (SearchRanking.WordRegionAndSimilarity, evaluation.WordRegionPlusSimilarity),
            (SearchRanking.ScoreAndSimilarity, byWeight[bestWeight]), (SearchRanking.Score, evaluation.ScoreOnly), (SearchRanking.ScoreWordRegionAndSimilarity, evaluation.ScorePlusWordRegionPlusSimilarity) })
            if (metrics is { TextToImage: var t }) measured[ranking.Name()] = [t.R1, t.R5, t.R10];
        return new RelevanceCalibration
        {
            WeightsSha256 = FileHash.Sha256(Weights.ModelFolder.WeightsPath(weightsPath)), FittedOn = fittedOn, Captions = evaluation.ImageOf.Count, Candidates = evaluation.ImageCandidates,
            Score = RelevanceCurve.Fit(examples[SearchRanking.Score]), ScorePlusSimilarity = RelevanceCurve.Fit(examples[SearchRanking.ScoreAndSimilarity]), Similarity = RelevanceCurve.Fit(examples[SearchRanking.FirstStage]),
            WordRegionPlusSimilarity = matching is null ? null : RelevanceCurve.Fit(examples[SearchRanking.WordRegionAndSimilarity]),
            ScorePlusWordRegionPlusSimilarity = matching is null ? null : RelevanceCurve.Fit(examples[SearchRanking.ScoreWordRegionAndSimilarity]),
            SimilarityWeight = weight, TextToImageBySimilarityWeight = textToImageByWeight,
            Ranking = Best(measured), TextToImageByRanking = measured,
        };
    }

    /// <summary>The ranking with the highest R@1 + R@5 + R@10, the cheaper on a tie (listed cheapest first); null when none was measured.</summary>
    public static string? Best(IReadOnlyDictionary<string, double[]> measured) =>
        measured.Count == 0 ? null : measured.Select((p, order) => (p.Key, Sum: Math.Round(p.Value.Sum(), 6), order))
            .OrderByDescending(r => r.Sum).ThenBy(r => r.order).First().Key;

    /// <summary>
    /// What a cut-off at <paramref name="minimum"/> does on an evaluation (a test split): the share of captions whose
    /// photo is kept (among the candidates and above the cut-off), and, leaving each caption's photo out of its
    /// candidates, the share for which nothing is returned.
    /// </summary>
    public (double KeptWhenIndexed, double EmptyWhenLeftOut) CutOff(TwoStageRetrievalEvaluation.Result evaluation, SearchRanking ranking, double minimum)
    {
        var curve = For(ranking) ?? throw new InterBertException($"the relevance calibration has no curve for the {ranking.Name()} ranking; fit it again");
        if (ranking.NeedsWordRegion() && evaluation.WordRegionScores is null) throw new ArgumentException("the evaluation did not compute word-region matching");
        var captions = evaluation.ImageOf.Count;
        var kept = new bool[captions];
        var anyOther = new bool[captions];
        foreach (var (caption, image, relevant) in CandidatePairs(evaluation))
        {
            var score = ScoreOf(evaluation, ranking, SimilarityWeight, caption, image);
            if (curve.Probability(score) < minimum) continue;
            if (relevant) kept[caption] = true;
            else anyOther[caption] = true;
        }
        return (100.0 * kept.Count(k => k) / captions, 100.0 * anyOther.Count(a => !a) / captions);
    }

    /// <summary>
    /// <see cref="CutOff"/> at minimum relevances 0.3, 0.5 and 0.7, as JSON (<c>{"0.3": {"kept_when_indexed",
    /// "empty_when_left_out"}, ...}</c>), each line also given to <paramref name="log"/>.
    /// </summary>
    public System.Text.Json.Nodes.JsonObject CutOffs(TwoStageRetrievalEvaluation.Result evaluation, SearchRanking ranking, Action<string> log)
    {
        var cutOffs = new System.Text.Json.Nodes.JsonObject();
        foreach (var minimum in new[] { 0.3, 0.5, 0.7 })
        {
            var (kept, empty) = CutOff(evaluation, ranking, minimum);
            cutOffs[minimum.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)] = new System.Text.Json.Nodes.JsonObject { ["kept_when_indexed"] = Math.Round(kept, 1), ["empty_when_left_out"] = Math.Round(empty, 1) };
            log($"  minimum relevance {minimum:0.0}: keeps the true photo for {kept:F1}% of captions; with each caption's photo left out, returns nothing for {empty:F1}%");
        }
        return cutOffs;
    }

    /// <summary>A candidate pair's score under a ranking, as search computes it (<c>TwoStageSearcher</c>), the cosine of score + similarity at <paramref name="similarityWeight"/>.</summary>
    private static double ScoreOf(TwoStageRetrievalEvaluation.Result evaluation, SearchRanking ranking, float similarityWeight, int caption, int image)
    {
        var cosine = evaluation.Similarity[caption, image];
        return ranking switch
        {
            SearchRanking.Score => evaluation.PairScores[caption, image],
            SearchRanking.ScoreAndSimilarity => evaluation.PairScores[caption, image] + similarityWeight * evaluation.SimilarityScale * cosine,
            SearchRanking.FirstStage => cosine,
            SearchRanking.WordRegionAndSimilarity => evaluation.SimilarityScale * (evaluation.WordRegionScores![caption, image] + cosine),
            _ => evaluation.PairScores[caption, image] + evaluation.SimilarityScale * (evaluation.WordRegionScores![caption, image] + cosine),
        };
    }

    private static IEnumerable<(int Caption, int Image, bool Relevant)> CandidatePairs(TwoStageRetrievalEvaluation.Result evaluation)
    {
        var images = evaluation.TextCandidates.GetLength(1);
        for (var c = 0; c < evaluation.ImageOf.Count; c++)
            for (var i = 0; i < images; i++)
                if (evaluation.TextCandidates[c, i]) yield return (c, i, evaluation.ImageOf[c] == i);
    }

    /// <summary>Writes the calibration beside <paramref name="weightsPath"/>, replacing only an earlier calibration.</summary>
    public string WriteBeside(string weightsPath)
    {
        weightsPath = Weights.ModelFolder.WeightsPath(weightsPath);
        var path = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(weightsPath))!, FileName);
        OutputFolder.ClaimFile(path, "a relevance calibration (JSON with \"format\": \"interbert-relevance\")", p => TryRead(p)?.Format == FormatName);
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Json) + "\n");
        return path;
    }

    /// <summary>
    /// The calibration beside <paramref name="weightsPath"/> when there is one for these very weights; otherwise null and,
    /// in <paramref name="missing"/>, why (no file, or a file fitted for other weights).
    /// </summary>
    public static RelevanceCalibration? ReadFor(string weightsPath, out string missing)
    {
        weightsPath = Weights.ModelFolder.WeightsPath(weightsPath);
        var path = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(weightsPath))!, FileName);
        var fit = $"fit one with: interbert evaluate --task retrieval --split val --candidates 16 --fit-relevance --weights {weightsPath} ...";
        if (!File.Exists(path))
        {
            missing = $"{weightsPath}: the model has no relevance calibration ({FileName} beside it); {fit}";
            return null;
        }
        var calibration = TryRead(path) ?? throw new InterBertException($"{path}: not a relevance calibration");
        if (calibration.WeightsSha256 != FileHash.Sha256(weightsPath))
        {
            missing = $"{path}: fitted for other weights than {weightsPath}; {fit}";
            return null;
        }
        missing = "";
        return calibration;
    }

    private static RelevanceCalibration? TryRead(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<RelevanceCalibration>(File.ReadAllText(path)) is { Format: FormatName } read ? read : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

}
