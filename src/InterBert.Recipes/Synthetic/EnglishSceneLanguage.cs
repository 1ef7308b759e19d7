namespace InterBert.Synthetic;

/// <summary>English captions: "a small red circle to the left of a blue square, plus a green star".</summary>
public sealed class EnglishSceneLanguage : SceneLanguage
{
    private static readonly string[] Counts = ["no", "one", "two", "three", "four", "five"];

    /// <inheritdoc/>
    public override string Code => "en";

    /// <inheritdoc/>
    public override string Colour(string key) => key;

    /// <inheritdoc/>
    public override string Shape(string key) => key;

    /// <inheritdoc/>
    public override string Size(string key) => key;

    /// <inheritdoc/>
    public override string ObjectPhrase(string englishPhrase) => englishPhrase;

    /// <summary>The phrase for a relation key.</summary>
    public static string RelationPhrase(string relation) => relation switch
    {
        "left" => "to the left of", "right" => "to the right of", "above" => "above", "below" => "below",
        _ => throw new ArgumentException($"unknown relation '{relation}'"),
    };

    /// <inheritdoc/>
    public override string Render(CaptionPlan plan)
    {
        var m = plan.Mentions;
        return plan.Kind switch
        {
            "list" => List(m),
            "count" => $"{Counts[m.Count]} {(m.Count == 1 ? "shape" : "shapes")}: {List(m)}",
            "relation" => $"{Mention(m[0])} {RelationPhrase(plan.Relation!)} {Mention(m[1])}" + (m.Count > 2 ? $", plus {List(m.Skip(2).ToList())}" : ""),
            "scene" => $"an image with {List(m)}",
            "single" => $"a single {Bare(m[0])}",
            "only" => $"there is only {Mention(m[0])}",
            _ => throw new ArgumentException($"unknown caption kind '{plan.Kind}'"),
        };
    }

    private static string Bare(CaptionMention m) => (m.Size is null ? "" : m.Size + " ") + $"{m.Colour} {m.Shape}";

    private static string Mention(CaptionMention m) => "a " + Bare(m);

    private static string List(IReadOnlyList<CaptionMention> mentions) => mentions.Count switch
    {
        1 => Mention(mentions[0]),
        _ => string.Join(", ", mentions.Take(mentions.Count - 1).Select(Mention)) + " and " + Mention(mentions[^1]),
    };
}
