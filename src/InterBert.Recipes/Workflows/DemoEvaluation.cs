using System.Text.Json.Serialization;
using InterBert.Tasks;

namespace InterBert.Workflows;

/// <summary>One model's results on the synthetic test split: retrieval, hard negatives, the top-5 images of a few queries, and (pretrained models) the grounding probe.</summary>
public sealed record DemoEvaluation(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("retrieval")] RetrievalMetrics Retrieval,
    [property: JsonPropertyName("hard_negatives")] HardNegativeResult HardNegatives,
    [property: JsonPropertyName("top5")] IReadOnlyList<RankedQuery> Top,
    [property: JsonPropertyName("seconds")] double Seconds,
    [property: JsonPropertyName("grounding")] GroundingResult? Grounding = null);
