namespace InterBert.Synthetic;

/// <summary>A synthetic scene: its id, Karpathy split, size in pixels and objects (in drawing order).</summary>
public sealed record Scene(string Id, string Split, int Width, int Height, IReadOnlyList<SceneObject> Objects);
