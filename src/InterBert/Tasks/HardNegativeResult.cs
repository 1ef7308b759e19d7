using System.Text.Json.Serialization;

namespace InterBert.Tasks;

/// <summary>How often hard-negative captions score below the true caption they were made from, in percent.</summary>
public sealed record HardNegativeResult(
    [property: JsonPropertyName("images")] int Images,
    [property: JsonPropertyName("attribute_below_true")] double AttributeBelowTrue,
    [property: JsonPropertyName("attribute_comparisons")] int AttributeComparisons,
    [property: JsonPropertyName("relation_below_true")] double RelationBelowTrue,
    [property: JsonPropertyName("relation_comparisons")] int RelationComparisons,
    [property: JsonPropertyName("images_all_below_true")] double ImagesAllBelowTrue);
