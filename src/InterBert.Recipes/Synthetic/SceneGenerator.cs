namespace InterBert.Synthetic;

/// <summary>
/// Lays out compositional scenes (1-4 objects of distinct colour and shape, small or large, not overlapping, and
/// with at least one clear spatial relation when there are two or more) and plans their captions and hard negatives.
/// Everything is a function of the seed and the image index.
/// </summary>
public static class SceneGenerator
{
    /// <summary>Shape keys.</summary>
    public static IReadOnlyList<string> Shapes { get; } = ["circle", "square", "triangle", "star"];
    /// <summary>Colour keys.</summary>
    public static IReadOnlyList<string> Colours { get; } = ["red", "green", "blue", "yellow", "purple"];
    /// <summary>Size keys.</summary>
    public static IReadOnlyList<string> Sizes { get; } = ["small", "large"];

    /// <summary>Side of a rendered scene, in pixels (the feature extractor's input size).</summary>
    public const int ImageSize = 224;

    /// <summary>The random source of one image of a seed (a fixed mix: HashCode is randomised per process).</summary>
    public static Random RandomFor(int seed, int index, int stream) =>
        new((int)((unchecked((uint)seed * 2_654_435_761u) ^ unchecked((uint)index * 40_503u + (uint)stream * 2_246_822_519u)) & int.MaxValue));

    /// <summary>The layout of image <paramref name="index"/>.</summary>
    public static Scene Layout(int seed, int index, string split)
    {
        var random = RandomFor(seed, index, 1);
        var count = 1 + random.Next(4);
        while (true)
        {
            var kinds = Shapes.SelectMany(s => Colours.Select(c => (Shape: s, Colour: c))).OrderBy(_ => random.Next()).Take(count).ToList();
            var objects = new List<SceneObject>();
            foreach (var (shape, colour) in kinds)
            {
                var size = Sizes[random.Next(Sizes.Count)];
                var side = size == "small" ? 30 + random.Next(11) : 56 + random.Next(17);
                SceneObject? placed = null;
                for (var attempt = 0; attempt < 100 && placed is null; attempt++)
                {
                    var x = 6 + random.Next(ImageSize - 12 - side);
                    var y = 6 + random.Next(ImageSize - 12 - side);
                    var candidate = new SceneObject(shape, colour, size, x, y, x + side, y + side);
                    if (objects.All(o => !Overlaps(o, candidate, 6))) placed = candidate;
                }
                if (placed is null) break;
                objects.Add(placed);
            }
            if (objects.Count < count) continue;
            if (count >= 2 && ClearPairs(objects).Count == 0) continue;
            return new Scene($"scene-{index:D6}", split, ImageSize, ImageSize, objects);
        }
    }

    /// <summary>The ordered pairs (subject, reference, relation) with a clear relation.</summary>
    public static List<(int Subject, int Reference, string Relation)> ClearPairs(IReadOnlyList<SceneObject> objects)
    {
        var pairs = new List<(int, int, string)>();
        for (var a = 0; a < objects.Count; a++)
            for (var b = 0; b < objects.Count; b++)
                if (a != b && SpatialRelation.Between(objects[a], objects[b]) is { } relation) pairs.Add((a, b, relation));
        return pairs;
    }

    /// <summary>Five true caption plans of a scene, each a different phrasing.</summary>
    public static List<CaptionPlan> Captions(int seed, int index, Scene scene)
    {
        var random = RandomFor(seed, index, 2);
        var objects = scene.Objects;
        List<CaptionMention> Shuffled(bool withSize) => objects.OrderBy(_ => random.Next()).Select(o => CaptionMention.Of(o, withSize)).ToList();
        var plans = new List<CaptionPlan>
        {
            new("list", Shuffled(true)),
            new("count", Shuffled(false)),
        };
        if (objects.Count == 1)
        {
            plans.Add(new CaptionPlan("single", [CaptionMention.Of(objects[0], true)]));
            plans.Add(new CaptionPlan("only", [CaptionMention.Of(objects[0], random.Next(2) == 0)]));
        }
        else
        {
            var pairs = ClearPairs(objects);
            var (s, r, relation) = pairs[random.Next(pairs.Count)];
            plans.Add(RelationPlan(objects, s, r, relation, random.Next(2) == 0, random));
            // The same pair seen from the other object: the inverse relation.
            plans.Add(RelationPlan(objects, r, s, SpatialRelation.Inverse(relation), random.Next(2) == 0, random));
        }
        plans.Add(new CaptionPlan("scene", Shuffled(false)));
        return plans;
    }

    /// <summary>
    /// Hard negatives of a scene, each one change away from a true caption: one object's colour changed to one no
    /// object of that shape has (from the <c>list</c> caption), and, with two or more objects, the relation caption
    /// with its two objects swapped. Returns (plan, index of the true caption it came from, what changed).
    /// </summary>
    public static List<(CaptionPlan Plan, int TrueCaption, string Changed)> HardNegatives(int seed, int index, Scene scene, IReadOnlyList<CaptionPlan> captions)
    {
        var random = RandomFor(seed, index, 3);
        var negatives = new List<(CaptionPlan, int, string)>();
        var list = captions[0];
        var which = random.Next(list.Mentions.Count);
        var target = list.Mentions[which];
        var colours = Colours.Where(c => !scene.Objects.Any(o => o.Shape == target.Shape && o.Colour == c)).ToList();
        var changed = list.Mentions.Select((m, i) => i == which ? m with { Colour = colours[random.Next(colours.Count)] } : m).ToList();
        negatives.Add((list with { Mentions = changed }, 0, "attribute"));
        if (captions[2].Kind == "relation")
        {
            negatives.Add((WithObjectsSwapped(captions[2]), 2, "relation"));
        }
        return negatives;
    }

    /// <summary>
    /// A training scene's mirrored twin: the scene reflected along the axis of its relation captions (left/right:
    /// horizontally; above/below: vertically), so that its relation captions with their two objects swapped are true
    /// and its own are false. The twin's captions are the scene's with the first two mentions of each relation caption
    /// swapped; its hard negatives the scene's, with the relation negative the scene's own relation caption. The same
    /// caption text is then true of one image and false of the other: only the image tells which (the text alone
    /// cannot). Null for a scene without a relation caption.
    /// </summary>
    public static (Scene Twin, List<CaptionPlan> Captions, List<(CaptionPlan Plan, int TrueCaption, string Changed)> Negatives)? MirroredTwin(
        Scene scene, IReadOnlyList<CaptionPlan> captions, IReadOnlyList<(CaptionPlan Plan, int TrueCaption, string Changed)> negatives)
    {
        if (captions.Count < 3 || captions[2].Kind != "relation") return null;
        var horizontal = captions[2].Relation is "left" or "right";
        var objects = scene.Objects.Select(o => horizontal
            ? o with { X1 = scene.Width - o.X2, X2 = scene.Width - o.X1 }
            : o with { Y1 = scene.Height - o.Y2, Y2 = scene.Height - o.Y1 }).ToList();
        var twinCaptions = captions.Select(plan => plan.Kind != "relation" ? plan : WithObjectsSwapped(plan)).ToList();
        var twinNegatives = negatives.Select(n => n.Changed == "relation" ? (captions[n.TrueCaption], n.TrueCaption, n.Changed) : n).ToList();
        return (scene with { Id = scene.Id + "-mirrored", Objects = objects }, twinCaptions, twinNegatives);
    }

    /// <summary>
    /// A scene's captions and hard negatives with every relation stated one way only, for a relation curriculum's first
    /// steps: of the two relation captions (a pair seen from each object), only the one saying "left" or "above" is
    /// kept, and the relation negative is that caption with its two objects swapped. Whether the subject lies left of
    /// its object then decides alone which caption is true, without the relation word flipping it (a composition a
    /// model does not find from both directions at once). Negatives keep pointing at their true caption.
    /// </summary>
    public static (List<CaptionPlan> Captions, List<(CaptionPlan Plan, int TrueCaption, string Changed)> Negatives) OneWay(
        IReadOnlyList<CaptionPlan> captions, IReadOnlyList<(CaptionPlan Plan, int TrueCaption, string Changed)> negatives)
    {
        var kept = Enumerable.Range(0, captions.Count).Where(i => captions[i].Kind != "relation" || captions[i].Relation is "left" or "above").ToList();
        var oneWay = kept.Select(i => captions[i]).ToList();
        var result = negatives.Where(n => n.Changed != "relation").Select(n => (n.Plan, kept.IndexOf(n.TrueCaption), n.Changed)).ToList();
        var relation = oneWay.FindIndex(c => c.Kind == "relation");
        if (relation >= 0 && negatives.Any(n => n.Changed == "relation")) result.Add((WithObjectsSwapped(oneWay[relation]), relation, "relation"));
        return (oneWay, result);
    }

    /// <summary>A relation caption with its two related objects swapped ("A left of B" → "B left of A"), the rest as it was.</summary>
    private static CaptionPlan WithObjectsSwapped(CaptionPlan plan) => plan with { Mentions = [plan.Mentions[1], plan.Mentions[0], .. plan.Mentions.Skip(2)] };

    private static CaptionPlan RelationPlan(IReadOnlyList<SceneObject> objects, int subject, int reference, string relation, bool withSize, Random random)
    {
        var mentions = new List<CaptionMention> { CaptionMention.Of(objects[subject], withSize), CaptionMention.Of(objects[reference], withSize) };
        mentions.AddRange(Enumerable.Range(0, objects.Count).Where(i => i != subject && i != reference).OrderBy(_ => random.Next()).Select(i => CaptionMention.Of(objects[i], false)));
        return new CaptionPlan("relation", mentions, relation);
    }

    private static bool Overlaps(SceneObject a, SceneObject b, float padding) =>
        a.X1 - padding < b.X2 && b.X1 - padding < a.X2 && a.Y1 - padding < b.Y2 && b.Y1 - padding < a.Y2;
}
