using static System.FormattableString;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InterBert.Synthetic;

/// <summary>
/// Writes a synthetic scene dataset: <c>images/*.png</c>, a Karpathy-split <c>dataset.json</c> (English captions) and
/// <c>dataset.zh.json</c> (Chinese captions, same images and splits), each image with its <c>hard_negatives</c>, and
/// <c>objects.jsonl</c> (one labelled box per object), and the same datasets with every relation stated one way
/// (<c>dataset.one-way.json</c>, <c>dataset.zh.one-way.json</c>: <see cref="SceneGenerator.OneWay"/>) for a relation
/// curriculum. The same seed and size give the same bytes.
/// </summary>
public static class SyntheticDataset
{
    /// <summary>Progress: images written of the total.</summary>
    public sealed record Progress(int Done, int Total);

    /// <summary>
    /// Options: number of images, seed, and images in the test and validation splits (the rest train); with
    /// <paramref name="MirroredTwins"/>, each training scene with a relation caption also gets its mirrored twin
    /// (<see cref="SceneGenerator.MirroredTwin"/>), a training image of its own.
    /// </summary>
    public sealed record Options(int Images, int Seed, int TestImages, int ValidationImages, bool MirroredTwins = false);

    /// <summary>The English dataset file name.</summary>
    public const string DatasetFile = "dataset.json";

    /// <summary>The dataset file of a language.</summary>
    public static string DatasetFileFor(string language) => language == "en" ? DatasetFile : $"dataset.{language}.json";

    /// <summary>The dataset file of a language with every relation stated one way (left or above).</summary>
    public static string OneWayDatasetFileFor(string language) => Path.ChangeExtension(DatasetFileFor(language), ".one-way.json");

    /// <summary>The objects file name.</summary>
    public const string ObjectsFile = "objects.jsonl";

    /// <summary>Renders and writes the dataset into <paramref name="folder"/>; returns the scenes.</summary>
    public static List<Scene> Write(string folder, Options options, IProgress<Progress>? progress = null, CancellationToken cancel = default)
    {
        if (options.Images < 1) throw new InterBertException($"synth: --images must be at least 1, got {options.Images}");
        if (options.TestImages < 0 || options.ValidationImages < 0 || options.TestImages + options.ValidationImages > options.Images)
            throw new InterBertException($"synth: {options.TestImages} test and {options.ValidationImages} validation images do not fit in {options.Images}");
        OutputFolder.Claim(folder, "a synthetic dataset", ObjectsFile);
        var imagesFolder = Directory.CreateDirectory(Path.Combine(folder, "images")).FullName;
        var languages = new SceneLanguage[] { new EnglishSceneLanguage(), new ChineseSceneLanguage() };
        var datasets = languages.ToDictionary(l => l.Code, _ => new JsonArray());
        var objects = new System.Text.StringBuilder();
        var scenes = Enumerable.Range(0, options.Images).Select(index => SceneGenerator.Layout(options.Seed, index, SplitOf(options, index))).ToList();
        // Each image with its captions and hard negatives, then the training scenes' mirrored twins when asked for.
        var entries = scenes.Select((scene, index) =>
        {
            var captions = SceneGenerator.Captions(options.Seed, index, scene);
            return (Scene: scene, Index: index, Captions: captions, Negatives: SceneGenerator.HardNegatives(options.Seed, index, scene, captions));
        }).ToList();
        if (options.MirroredTwins)
            entries.AddRange(entries.Where(e => e.Scene.Split == "train").Select(e => (e, Twin: SceneGenerator.MirroredTwin(e.Scene, e.Captions, e.Negatives)))
                .Where(p => p.Twin is not null).Select(p => (p.Twin!.Value.Twin, p.e.Index, p.Twin.Value.Captions, p.Twin.Value.Negatives)).ToList());
        // Rendering and PNG encoding dominate; each image has its own random source, so the order of work does not matter.
        var done = 0;
        var gate = new object();
        Parallel.For(0, entries.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancel }, k =>
        {
            var png = SceneRenderer.RenderPng(entries[k].Scene, SceneGenerator.RandomFor(options.Seed, entries[k].Index, 4));
            var imagePath = Path.Combine(imagesFolder, entries[k].Scene.Id + ".png");
            if (!File.Exists(imagePath) || !File.ReadAllBytes(imagePath).AsSpan().SequenceEqual(png)) AtomicFile.Write(imagePath, t => File.WriteAllBytes(t, png));
            lock (gate) progress?.Report(new Progress(++done, entries.Count));
        });
        var oneWayDatasets = languages.ToDictionary(l => l.Code, _ => new JsonArray());
        static JsonObject Entry(SceneLanguage language, string fileName, string split, IEnumerable<CaptionPlan> captions, IEnumerable<(CaptionPlan Plan, int TrueCaption, string Changed)> negatives) => new()
        {
            ["filepath"] = "images", ["filename"] = fileName, ["split"] = split,
            ["sentences"] = new JsonArray(captions.Select(c => (JsonNode)new JsonObject { ["raw"] = language.Render(c) }).ToArray()),
            ["hard_negatives"] = new JsonArray(negatives.Select(n => (JsonNode)new JsonObject
            {
                ["raw"] = language.Render(n.Plan), ["true_sentence"] = n.TrueCaption, ["changed"] = n.Changed,
            }).ToArray()),
        };
        foreach (var (scene, _, captions, negatives) in entries)
        {
            var fileName = scene.Id + ".png";
            var split = scene.Split;
            var oneWay = SceneGenerator.OneWay(captions, negatives);
            foreach (var language in languages)
            {
                datasets[language.Code].Add(Entry(language, fileName, split, captions, negatives));
                oneWayDatasets[language.Code].Add(Entry(language, fileName, split, oneWay.Captions, oneWay.Negatives));
            }
            foreach (var o in scene.Objects)
            {
                var line = new JsonObject
                {
                    ["image_id"] = scene.Id, ["bbox"] = new JsonArray(o.X1, o.Y1, o.X2 - o.X1, o.Y2 - o.Y1), ["category"] = o.Label,
                    ["shape"] = o.Shape, ["colour"] = o.Colour, ["size"] = o.Size,
                };
                objects.Append(line.ToJsonString(Json)).Append('\n');
            }
        }
        foreach (var language in languages)
        {
            var root = new JsonObject { ["dataset"] = "synthetic-scenes", ["language"] = language.Code, ["seed"] = options.Seed, ["images"] = datasets[language.Code] };
            AtomicFile.WriteAllText(Path.Combine(folder, DatasetFileFor(language.Code)), root.ToJsonString(Json) + "\n");
            var oneWayRoot = new JsonObject { ["dataset"] = "synthetic-scenes, relations one way", ["language"] = language.Code, ["seed"] = options.Seed, ["images"] = oneWayDatasets[language.Code] };
            AtomicFile.WriteAllText(Path.Combine(folder, OneWayDatasetFileFor(language.Code)), oneWayRoot.ToJsonString(Json) + "\n");
        }
        AtomicFile.WriteAllText(Path.Combine(folder, ObjectsFile), objects.ToString());
        return entries.Select(e => e.Scene).ToList();
    }

    /// <summary>
    /// Writes to <paramref name="path"/> the grounding data of a relation curriculum: the training and validation scenes
    /// with exactly two objects (so that the caption's two objects are the only boxes), with their relation captions
    /// only, each scene's relation stated both ways ("A left of B" and "B right of A") with probability
    /// <paramref name="bothWaysShare"/>, else one way (left or above: <see cref="SceneGenerator.OneWay"/>). The same
    /// options, language, share and <paramref name="drawSeed"/> give the same bytes; no image is rendered (the scenes
    /// are those <see cref="Write"/> renders with the same options). With <paramref name="only"/>, only the scenes of
    /// those ids. Returns the training and validation scenes written.
    /// </summary>
    public static (int Training, int Validation) WriteGrounding(string path, Options options, string languageCode, double bothWaysShare, int drawSeed, IReadOnlySet<string>? only = null)
    {
        if (bothWaysShare is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(bothWaysShare), bothWaysShare, "a share from 0 to 1");
        SceneLanguage language = languageCode switch
        {
            "en" => new EnglishSceneLanguage(),
            "zh" => new ChineseSceneLanguage(),
            _ => throw new InterBertException($"synth: no captions in language '{languageCode}'; expected en or zh"),
        };
        var draw = new Random(drawSeed);
        var images = new JsonArray();
        for (var index = options.TestImages; index < options.Images; index++)
        {
            var scene = SceneGenerator.Layout(options.Seed, index, SplitOf(options, index));
            if (scene.Objects.Count != 2 || only is not null && !only.Contains(scene.Id)) continue;
            var captions = SceneGenerator.Captions(options.Seed, index, scene);
            var bothWays = draw.NextDouble() < bothWaysShare;
            var kept = (bothWays ? captions : SceneGenerator.OneWay(captions, SceneGenerator.HardNegatives(options.Seed, index, scene, captions)).Captions).Where(c => c.Kind == "relation");
            images.Add(new JsonObject
            {
                ["filepath"] = "images", ["filename"] = scene.Id + ".png", ["split"] = scene.Split,
                ["sentences"] = new JsonArray(kept.Select(c => (JsonNode)new JsonObject { ["raw"] = language.Render(c) }).ToArray()),
            });
        }
        var root = new JsonObject
        {
            ["dataset"] = Invariant($"synthetic-scenes, two objects, relation captions, {bothWaysShare:0.##} of the scenes both ways"), ["language"] = languageCode, ["seed"] = options.Seed, ["images"] = images,
        };
        AtomicFile.WriteAllText(path, root.ToJsonString(Json) + "\n");
        var validation = images.Count(i => i!["split"]!.GetValue<string>() == "val");
        return (images.Count - validation, validation);
    }

    internal static string SplitOf(Options options, int index) =>
        index < options.TestImages ? "test" : index < options.TestImages + options.ValidationImages ? "val" : "train";

    private static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
