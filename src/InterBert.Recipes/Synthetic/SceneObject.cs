namespace InterBert.Synthetic;

/// <summary>One rendered object of a synthetic scene: its shape, colour and size words (canonical English keys) and its box in pixels.</summary>
public sealed record SceneObject(string Shape, string Colour, string Size, float X1, float Y1, float X2, float Y2)
{
    /// <summary>Horizontal centre.</summary>
    public float CenterX => (X1 + X2) / 2;
    /// <summary>Vertical centre.</summary>
    public float CenterY => (Y1 + Y2) / 2;
    /// <summary>The label written to objects.jsonl, e.g. <c>large red circle</c>.</summary>
    public string Label => $"{Size} {Colour} {Shape}";
}
