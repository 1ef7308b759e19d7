using System.Text.Json.Serialization;
using InterBert.Tasks;

namespace InterBert.Workflows;

/// <summary>One model's results on the Flickr8k test split: R@K both ways (two-stage), the protocol's sizes, the top-5 photos of a few captions.</summary>
public sealed record Flickr8kEvaluation(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("retrieval")] RetrievalMetrics Retrieval,
    [property: JsonPropertyName("candidates")] int Candidates,
    [property: JsonPropertyName("caption_candidates")] int CaptionCandidates,
    [property: JsonPropertyName("pairs_scored")] long PairsScored,
    [property: JsonPropertyName("top5")] IReadOnlyList<RankedQuery> Top,
    [property: JsonPropertyName("seconds")] double Seconds);
