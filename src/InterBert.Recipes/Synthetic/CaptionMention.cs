namespace InterBert.Synthetic;

/// <summary>An object as a caption mentions it: shape and colour, and its size word when the caption states it.</summary>
public sealed record CaptionMention(string Shape, string Colour, string? Size)
{
    /// <summary>The mention of an object, with or without its size.</summary>
    public static CaptionMention Of(SceneObject o, bool withSize) => new(o.Shape, o.Colour, withSize ? o.Size : null);
}
