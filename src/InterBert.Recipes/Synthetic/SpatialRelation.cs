namespace InterBert.Synthetic;

/// <summary>
/// The four spatial relations the captions use, decided from box centres: a relation holds only when the offset along
/// its axis is clear (at least <see cref="MinimumOffset"/> pixels and 1.5 times the offset along the other axis),
/// so a caption never states a relation a viewer could dispute, and its reverse is always false.
/// </summary>
public static class SpatialRelation
{
    /// <summary>The relation keys: <c>left</c>, <c>right</c>, <c>above</c>, <c>below</c> (subject relative to object).</summary>
    public static IReadOnlyList<string> All { get; } = ["left", "right", "above", "below"];

    /// <summary>Smallest centre offset, in pixels, along the relation's axis.</summary>
    public const float MinimumOffset = 24;

    /// <summary>Whether <paramref name="relation"/> holds with <paramref name="subject"/> relative to <paramref name="reference"/>.</summary>
    public static bool Holds(string relation, SceneObject subject, SceneObject reference)
    {
        var dx = subject.CenterX - reference.CenterX;
        var dy = subject.CenterY - reference.CenterY;
        bool Clear(float along, float across) => along >= MinimumOffset && along >= 1.5f * Math.Abs(across);
        return relation switch
        {
            "left" => Clear(-dx, dy),
            "right" => Clear(dx, dy),
            "above" => Clear(-dy, dx),
            "below" => Clear(dy, dx),
            _ => throw new ArgumentException($"unknown relation '{relation}'"),
        };
    }

    /// <summary>The relation that clearly holds between two objects, or null.</summary>
    public static string? Between(SceneObject subject, SceneObject reference) => All.FirstOrDefault(r => Holds(r, subject, reference));

    /// <summary>The reverse relation (left ↔ right, above ↔ below).</summary>
    public static string Inverse(string relation) => relation switch
    {
        "left" => "right", "right" => "left", "above" => "below", "below" => "above",
        _ => throw new ArgumentException($"unknown relation '{relation}'"),
    };
}
