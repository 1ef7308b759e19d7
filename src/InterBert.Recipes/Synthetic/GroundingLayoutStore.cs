using InterBert.Data;
using InterBert.Vision;

namespace InterBert.Synthetic;

/// <summary>
/// The grounding curriculum's scenes as a feature store that needs no rendering: grounding hides every region's
/// features, so a scene's record needs only its boxes and its objects' classes. Each two-object training or validation
/// scene of the options (<see cref="SceneGenerator.Layout"/>, the same layouts <see cref="SyntheticDataset.Write"/>
/// renders) becomes a record of the whole image and its two boxes, with zero features and one-hot classes.
/// </summary>
public static class GroundingLayoutStore
{
    /// <summary>What the extractor field of such a store says.</summary>
    public const string Extractor = "scene layouts: boxes and classes, features zero (grounding hides them)";

    /// <summary>
    /// Writes the records into <paramref name="folder"/>, with the feature size and class names of
    /// <paramref name="like"/> (the rendered scenes' store, whose classes a model predicts); a scene with an object of
    /// a class <paramref name="like"/> lacks is skipped. Returns the number of scenes written and of those skipped.
    /// </summary>
    public static (int Written, int Skipped) Write(string folder, SyntheticDataset.Options options, FeatureStoreManifest like, CancellationToken cancel = default)
    {
        if (like.ClassNames is not { Count: > 0 } names)
            throw new InterBertException($"{folder}: the scenes' feature store names no classes, so grounding has no classes to predict");
        var classOf = names.Select((name, index) => (name, index)).ToDictionary(p => p.name, p => p.index, StringComparer.Ordinal);
        var (written, skipped) = (0, 0);
        using var writer = new FeatureStoreWriter(folder, like with { Extractor = Extractor, Regions = null, VisualStage = null, MapShape = null });
        for (var index = options.TestImages; index < options.Images; index++)
        {
            cancel.ThrowIfCancellationRequested();
            var scene = SceneGenerator.Layout(options.Seed, index, SyntheticDataset.SplitOf(options, index));
            if (scene.Objects.Count != 2) continue;
            if (!scene.Objects.All(o => classOf.ContainsKey(o.Label)))
            {
                skipped++;
                continue;
            }
            var boxes = scene.Objects.Select(o =>
            {
                var distribution = new float[names.Count];
                distribution[classOf[o.Label]] = 1;
                return new RegionBox(o.X1, o.Y1, o.X2, o.Y2, distribution, o.Label).ClipTo(scene.Width, scene.Height);
            }).ToList();
            boxes.Insert(0, RegionBox.WholeImageOf(scene.Width, scene.Height, boxes));
            writer.Add(RegionBox.RecordOf(scene.Id, scene.Width, scene.Height, boxes, new float[boxes.Count * like.FeatureSize]));
            written++;
        }
        return (written, skipped);
    }
}
