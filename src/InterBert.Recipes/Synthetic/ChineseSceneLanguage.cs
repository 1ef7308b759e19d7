namespace InterBert.Synthetic;

/// <summary>Chinese captions: "一个小的红色圆形在一个蓝色正方形的左边，还有一个绿色星形".</summary>
public sealed class ChineseSceneLanguage : SceneLanguage
{
    private static readonly string[] Counts = ["零", "一", "两", "三", "四", "五"];

    /// <inheritdoc/>
    public override string Code => "zh";

    /// <inheritdoc/>
    public override string Colour(string key) => key switch
    {
        "red" => "红色", "green" => "绿色", "blue" => "蓝色", "yellow" => "黄色", "purple" => "紫色",
        _ => throw new ArgumentException($"unknown colour '{key}'"),
    };

    /// <inheritdoc/>
    public override string Shape(string key) => key switch
    {
        "circle" => "圆形", "square" => "正方形", "triangle" => "三角形", "star" => "星形",
        _ => throw new ArgumentException($"unknown shape '{key}'"),
    };

    /// <inheritdoc/>
    public override string Size(string key) => key switch
    {
        "small" => "小", "large" => "大",
        _ => throw new ArgumentException($"unknown size '{key}'"),
    };

    /// <inheritdoc/>
    public override string ObjectPhrase(string englishPhrase) => englishPhrase.Split(' ') is [var colour, var shape]
        ? Colour(colour) + Shape(shape)
        : throw new ArgumentException($"'{englishPhrase}': expected a colour and a shape");

    /// <summary>The word for a relation key (placed after 的).</summary>
    public static string RelationWord(string relation) => relation switch
    {
        "left" => "左边", "right" => "右边", "above" => "上面", "below" => "下面",
        _ => throw new ArgumentException($"unknown relation '{relation}'"),
    };

    /// <inheritdoc/>
    public override string Render(CaptionPlan plan)
    {
        var m = plan.Mentions;
        return plan.Kind switch
        {
            "list" => List(m),
            "count" => $"{Counts[m.Count]}个图形：{List(m)}",
            "relation" => $"{Mention(m[0])}在{Mention(m[1])}的{RelationWord(plan.Relation!)}" + (m.Count > 2 ? $"，还有{List(m.Skip(2).ToList())}" : ""),
            "scene" => $"画面里有{List(m)}",
            "single" => $"只有{Mention(m[0])}",
            "only" => $"图中有{Mention(m[0])}",
            _ => throw new ArgumentException($"unknown caption kind '{plan.Kind}'"),
        };
    }

    private string Mention(CaptionMention m) => "一个" + (m.Size is null ? "" : Size(m.Size) + "的") + Colour(m.Colour) + Shape(m.Shape);

    private string List(IReadOnlyList<CaptionMention> mentions) => mentions.Count switch
    {
        1 => Mention(mentions[0]),
        _ => string.Join("、", mentions.Take(mentions.Count - 1).Select(Mention)) + "和" + Mention(mentions[^1]),
    };
}
