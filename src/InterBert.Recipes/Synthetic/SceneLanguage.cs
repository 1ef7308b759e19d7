namespace InterBert.Synthetic;

/// <summary>Renders caption plans as text in one language (English or Chinese).</summary>
public abstract class SceneLanguage
{
    /// <summary>Language code: <c>en</c> or <c>zh</c>.</summary>
    public abstract string Code { get; }

    /// <summary>The word for a colour key.</summary>
    public abstract string Colour(string key);

    /// <summary>The word for a shape key.</summary>
    public abstract string Shape(string key);

    /// <summary>The word for a size key.</summary>
    public abstract string Size(string key);

    /// <summary>How a caption names an object by colour and shape ("purple circle" → "紫色圆形"), from the English phrase of a class name.</summary>
    public abstract string ObjectPhrase(string englishPhrase);

    /// <summary>The caption text of a plan.</summary>
    public abstract string Render(CaptionPlan plan);

    /// <summary>The language for a code.</summary>
    public static SceneLanguage For(string code) => code switch
    {
        "en" => new EnglishSceneLanguage(),
        "zh" => new ChineseSceneLanguage(),
        _ => throw new InterBertException($"language '{code}': expected en or zh"),
    };
}
