using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using InterBert.Synthetic;
using SkiaSharp;
using Xunit;

namespace InterBert.Tests.Synthetic;

public sealed partial class SynthTests
{
    private sealed record LabelledBox(string Shape, string Colour, string Size, float X, float Y, float Width, float Height)
    {
        public float CenterX => X + Width / 2;
        public float CenterY => Y + Height / 2;
    }

    private sealed record Mention(string Shape, string Colour, string? Size);

    [Fact]
    public void SameSeedGivesTheSameBytesAndAnotherSeedDoesNot()
    {
        using var first = new TempFolder();
        using var second = new TempFolder();
        using var other = new TempFolder();
        foreach (var (folder, seed) in new[] { (first, "5"), (second, "5"), (other, "6") })
        {
            var (code, output, error) = CliProcess.Run("synth", "--images", "30", "--seed", seed, "--out", folder.Path);
            Assert.True(code == 0, output + error);
        }
        var files = Directory.GetFiles(first.Path, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(first.Path, f)).Order().ToList();
        Assert.Equal(30 + 5, files.Count); // 30 PNGs, dataset.json, dataset.zh.json, their one-way versions, objects.jsonl
        Assert.Equal(files, Directory.GetFiles(second.Path, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(second.Path, f)).Order());
        foreach (var file in files) Assert.True(File.ReadAllBytes(Path.Combine(first.Path, file)).SequenceEqual(File.ReadAllBytes(Path.Combine(second.Path, file))), file);
        Assert.False(File.ReadAllBytes(Path.Combine(first.Path, "dataset.json")).SequenceEqual(File.ReadAllBytes(Path.Combine(other.Path, "dataset.json"))));
        Assert.False(File.ReadAllBytes(Path.Combine(first.Path, "images", "scene-000000.png")).SequenceEqual(File.ReadAllBytes(Path.Combine(other.Path, "images", "scene-000000.png"))));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CaptionsParseBackIntoTheLabelledObjectsAndHardNegativesAreFalse(bool mirroredTwins)
    {
        using var folder = new TempFolder();
        var written = SyntheticDataset.Write(folder.Path, new SyntheticDataset.Options(60, 11, 10, 5, mirroredTwins));
        // A twin for each training scene of two or more objects (each has a relation caption), a training image itself.
        var twins = mirroredTwins ? written.Take(60).Count(s => s.Split == "train" && s.Objects.Count >= 2) : 0;
        Assert.Equal(60 + twins, written.Count);
        Assert.All(written.Skip(60), twin => Assert.Equal("train", twin.Split));
        var boxes = File.ReadLines(folder.File("objects.jsonl")).Select(l => JsonNode.Parse(l)!).GroupBy(o => o["image_id"]!.GetValue<string>())
            .ToDictionary(g => g.Key, g => g.Select(o =>
            {
                var b = o["bbox"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray();
                return new LabelledBox(o["shape"]!.GetValue<string>(), o["colour"]!.GetValue<string>(), o["size"]!.GetValue<string>(), b[0], b[1], b[2], b[3]);
            }).ToList());
        var counts = new Dictionary<int, int>();
        var relations = 0;
        foreach (var language in new[] { "en", "zh" })
        {
            var images = JsonNode.Parse(File.ReadAllText(folder.File(SyntheticDataset.DatasetFileFor(language))))!["images"]!.AsArray();
            Assert.Equal(60 + twins, images.Count);
            Assert.Equal(10, images.Count(i => i!["split"]!.GetValue<string>() == "test"));
            // A twin's relation negative is its scene's relation caption, and its relation caption its scene's relation
            // negative: the same text true of one image and false of the other.
            foreach (var twin in images.Skip(60).Select(t => t!))
            {
                var scene = images.Single(i => i!["filename"]!.GetValue<string>() == twin["filename"]!.GetValue<string>().Replace("-mirrored", ""))!;
                string RelationNegative(JsonNode image) => image["hard_negatives"]!.AsArray().Single(n => n!["changed"]!.GetValue<string>() == "relation")!["raw"]!.GetValue<string>();
                Assert.Equal(scene["sentences"]![2]!["raw"]!.GetValue<string>(), RelationNegative(twin));
                Assert.Equal(RelationNegative(scene), twin["sentences"]![2]!["raw"]!.GetValue<string>());
            }
            foreach (var image in images)
            {
                var id = Path.GetFileNameWithoutExtension(image!["filename"]!.GetValue<string>());
                var objects = boxes[id];
                counts[objects.Count] = counts.GetValueOrDefault(objects.Count) + 1;
                var sentences = image["sentences"]!.AsArray().Select(s => s!["raw"]!.GetValue<string>()).ToList();
                Assert.Equal(5, sentences.Count);
                Assert.Equal(5, sentences.Distinct().Count());
                foreach (var caption in sentences)
                {
                    var (mentions, relation, count) = Parse(caption, language);
                    // Every caption names every object exactly once, with its true size when it gives one.
                    Assert.True(mentions.Count == objects.Count, $"{id}: '{caption}' mentions {mentions.Count} of {objects.Count} objects");
                    foreach (var m in mentions)
                    {
                        var match = Assert.Single(objects, o => o.Shape == m.Shape && o.Colour == m.Colour);
                        if (m.Size is not null) Assert.Equal(match.Size, m.Size);
                    }
                    if (count is not null) Assert.Equal(objects.Count, count);
                    if (relation is not null)
                    {
                        relations++;
                        Assert.True(RelationHolds(relation, Find(objects, mentions[0]), Find(objects, mentions[1])), $"{id}: '{caption}' is false for the boxes");
                    }
                }
                foreach (var negative in image["hard_negatives"]!.AsArray())
                {
                    var raw = negative!["raw"]!.GetValue<string>();
                    var (mentions, relation, _) = Parse(raw, language);
                    if (negative["changed"]!.GetValue<string>() == "attribute")
                        Assert.Contains(mentions, m => !objects.Any(o => o.Shape == m.Shape && o.Colour == m.Colour));
                    else
                        Assert.False(RelationHolds(relation!, Find(objects, mentions[0]), Find(objects, mentions[1])), $"{id}: relation negative '{raw}' is true");
                    Assert.DoesNotContain(raw, sentences);
                }
                Assert.Equal(objects.Count >= 2 ? 2 : 1, image["hard_negatives"]!.AsArray().Count);
            }
        }
        Assert.Equal([1, 2, 3, 4], counts.Keys.Order());
        Assert.True(relations > 100, $"only {relations} relation captions");
        foreach (var language in new[] { "en", "zh" })
        {
            CheckOneWay(folder, language, boxes);
            CheckGrounding(folder, new SyntheticDataset.Options(60, 11, 10, 5, mirroredTwins), language, boxes);
        }
    }

    /// <summary>
    /// The grounding curriculum's data: the training and validation scenes with exactly two objects (no twins), each
    /// with only relation captions, true of its boxes; one caption saying left or above at share 0, both of the pair at
    /// share 1, and in between about that share of the scenes with both, drawn the same way each time.
    /// </summary>
    private static void CheckGrounding(TempFolder folder, SyntheticDataset.Options options, string language, Dictionary<string, List<LabelledBox>> boxes)
    {
        var twoObjects = JsonNode.Parse(File.ReadAllText(folder.File(SyntheticDataset.DatasetFileFor(language))))!["images"]!.AsArray()
            .Where(i => i!["split"]!.GetValue<string>() != "test" && !i["filename"]!.GetValue<string>().Contains("-mirrored") && boxes[Path.GetFileNameWithoutExtension(i["filename"]!.GetValue<string>())].Count == 2)
            .Select(i => i!["filename"]!.GetValue<string>()).ToList();
        Assert.True(twoObjects.Count >= 5, $"only {twoObjects.Count} two-object scenes");
        List<List<string>> Written(double share, int seed)
        {
            var path = folder.File($"grounding-{language}-{share}-{seed}.json");
            var (training, validation) = SyntheticDataset.WriteGrounding(path, options, language, share, seed);
            Assert.Equal(twoObjects.Count, training + validation);
            var images = JsonNode.Parse(File.ReadAllText(path))!["images"]!.AsArray();
            Assert.Equal(twoObjects, images.Select(i => i!["filename"]!.GetValue<string>()));
            return images.Select(image =>
            {
                var objects = boxes[Path.GetFileNameWithoutExtension(image!["filename"]!.GetValue<string>())];
                var sentences = image["sentences"]!.AsArray().Select(x => x!["raw"]!.GetValue<string>()).ToList();
                foreach (var sentence in sentences)
                {
                    var (mentions, relation, _) = Parse(sentence, language);
                    Assert.NotNull(relation);
                    Assert.True(RelationHolds(relation, Find(objects, mentions[0]), Find(objects, mentions[1])), $"'{sentence}' is false for the boxes");
                }
                return sentences;
            }).ToList();
        }
        var oneWay = Written(0, 1);
        Assert.All(oneWay, s => Assert.Equal("left or above", Parse(Assert.Single(s), language).Relation is "left" or "above" ? "left or above" : s[0]));
        var bothWays = Written(1, 1);
        Assert.All(bothWays, s => Assert.Equal(2, s.Count));
        Assert.All(oneWay.Zip(bothWays), p => Assert.Contains(p.First[0], p.Second));
        var half = Written(0.5, 7);
        Assert.Equal(half.Select(s => s.Count), Written(0.5, 7).Select(s => s.Count));
        Assert.InRange(half.Count(s => s.Count == 2), 1, half.Count - 1);
    }

    /// <summary>
    /// The one-way dataset: the same images and captions, less each relation caption that says right or below (its pair
    /// saying left or above stays), and a relation negative that is false, says left or above, and swaps its true caption's two objects.
    /// </summary>
    private static void CheckOneWay(TempFolder folder, string language, Dictionary<string, List<LabelledBox>> boxes)
    {
        var images = JsonNode.Parse(File.ReadAllText(folder.File(SyntheticDataset.DatasetFileFor(language))))!["images"]!.AsArray();
        var oneWay = JsonNode.Parse(File.ReadAllText(folder.File(SyntheticDataset.OneWayDatasetFileFor(language))))!["images"]!.AsArray();
        Assert.Equal(images.Select(i => i!["filename"]!.GetValue<string>()), oneWay.Select(i => i!["filename"]!.GetValue<string>()));
        var directions = new HashSet<string>();
        foreach (var (image, kept) in images.Zip(oneWay))
        {
            var objects = boxes[Path.GetFileNameWithoutExtension(image!["filename"]!.GetValue<string>())];
            var all = image["sentences"]!.AsArray().Select(x => x!["raw"]!.GetValue<string>()).ToList();
            var sentences = kept!["sentences"]!.AsArray().Select(x => x!["raw"]!.GetValue<string>()).ToList();
            Assert.Equal(all.Where(c => Parse(c, language).Relation is null or "left" or "above"), sentences);
            Assert.Equal(objects.Count >= 2 ? 4 : 5, sentences.Count);
            foreach (var negative in kept["hard_negatives"]!.AsArray())
            {
                var raw = negative!["raw"]!.GetValue<string>();
                var truth = sentences[negative["true_sentence"]!.GetValue<int>()];
                if (negative["changed"]!.GetValue<string>() != "relation")
                {
                    Assert.Contains(raw, image["hard_negatives"]!.AsArray().Select(n => n!["raw"]!.GetValue<string>()));
                    continue;
                }
                var (mentions, relation, _) = Parse(raw, language);
                var (trueMentions, trueRelation, _) = Parse(truth, language);
                directions.Add(relation!);
                Assert.Equal(trueRelation, relation);
                Assert.Equal((trueMentions[1], trueMentions[0]), (mentions[0], mentions[1]));
                Assert.False(RelationHolds(relation!, Find(objects, mentions[0]), Find(objects, mentions[1])), $"one-way relation negative '{raw}' is true");
            }
        }
        Assert.Equal(["above", "left"], directions.Order());
    }

    [Fact]
    public void RenderedPixelsShowEachLabelledObjectInItsColour()
    {
        using var folder = new TempFolder();
        var scenes = SyntheticDataset.Write(folder.Path, new SyntheticDataset.Options(20, 3, 2, 1));
        var checkedObjects = 0;
        foreach (var line in File.ReadLines(folder.File("objects.jsonl")))
        {
            var o = JsonNode.Parse(line)!;
            var b = o["bbox"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray();
            using var bitmap = SKBitmap.Decode(Path.Combine(folder.Path, "images", o["image_id"]!.GetValue<string>() + ".png"));
            Assert.Equal(224, bitmap.Width);
            // The centre of every shape (a triangle's too: half its width at mid-height) is filled with its colour.
            var pixel = bitmap.GetPixel((int)(b[0] + b[2] / 2), (int)(b[1] + b[3] / 2));
            var (r, g, bl) = (pixel.Red, pixel.Green, pixel.Blue);
            var ok = o["colour"]!.GetValue<string>() switch
            {
                "red" => r > 150 && g < 90 && bl < 90,
                "green" => g > 120 && r < 90 && bl < 110,
                "blue" => bl > 150 && r < 90 && g < 130,
                "yellow" => r > 180 && g > 160 && bl < 90,
                "purple" => r > 100 && bl > 130 && g < 100,
                var other => throw new InvalidOperationException(other),
            };
            Assert.True(ok, $"{line}: centre pixel {pixel}");
            checkedObjects++;
        }
        Assert.Equal(scenes.Sum(s => s.Objects.Count), checkedObjects);
    }

    private static LabelledBox Find(List<LabelledBox> objects, Mention m) => objects.Single(o => o.Shape == m.Shape && o.Colour == m.Colour);

    // Independent of the generator's margins: a stated relation must at least put the centres on the stated side.
    private static bool RelationHolds(string relation, LabelledBox subject, LabelledBox reference) => relation switch
    {
        "left" => subject.CenterX < reference.CenterX && Math.Abs(subject.CenterX - reference.CenterX) > Math.Abs(subject.CenterY - reference.CenterY),
        "right" => subject.CenterX > reference.CenterX && Math.Abs(subject.CenterX - reference.CenterX) > Math.Abs(subject.CenterY - reference.CenterY),
        "above" => subject.CenterY < reference.CenterY && Math.Abs(subject.CenterY - reference.CenterY) > Math.Abs(subject.CenterX - reference.CenterX),
        "below" => subject.CenterY > reference.CenterY && Math.Abs(subject.CenterY - reference.CenterY) > Math.Abs(subject.CenterX - reference.CenterX),
        _ => throw new InvalidOperationException(relation),
    };

    private static (List<Mention> Mentions, string? Relation, int? Count) Parse(string caption, string language)
    {
        if (language == "en")
        {
            var mentions = EnglishMention().Matches(caption).Select(m => new Mention(m.Groups[3].Value, m.Groups[2].Value, m.Groups[1].Success ? m.Groups[1].Value : null)).ToList();
            var relation = EnglishRelation().Match(caption) is { Success: true } r ? r.Groups[1].Value switch
            {
                "to the left of" => "left", "to the right of" => "right", "above" => "above", _ => "below",
            } : null;
            int? count = EnglishCount().Match(caption) is { Success: true } c ? Array.IndexOf(["zero", "one", "two", "three", "four"], c.Groups[1].Value) : null;
            // Nothing but mentions, joiners and the known frames may remain.
            var rest = EnglishMention().Replace(caption, "M");
            Assert.Matches(@"^((one|two|three|four) shapes?: |an image with |a |there is only )?M(( to the left of | to the right of | above | below )M)?(, plus M)?((, M)* and M)?$", rest);
            return (mentions, relation, count);
        }
        var zhMentions = ChineseMention().Matches(caption).Select(m => new Mention(
            m.Groups[3].Value switch { "圆形" => "circle", "正方形" => "square", "三角形" => "triangle", _ => "star" },
            m.Groups[2].Value switch { "红色" => "red", "绿色" => "green", "蓝色" => "blue", "黄色" => "yellow", _ => "purple" },
            m.Groups[1].Success ? (m.Groups[1].Value == "大" ? "large" : "small") : null)).ToList();
        var zhRelation = ChineseRelation().Match(caption) is { Success: true } zr ? zr.Groups[1].Value switch
        {
            "左边" => "left", "右边" => "right", "上面" => "above", _ => "below",
        } : null;
        int? zhCount = ChineseCount().Match(caption) is { Success: true } zc ? Array.IndexOf(["零", "一", "两", "三", "四"], zc.Groups[1].Value) : null;
        Assert.Matches(@"^([一两三四]个图形：|画面里有|只有|图中有)?M(在M的(左边|右边|上面|下面))?(，还有M)?((、M)*和M)?$", ChineseMention().Replace(caption, "M"));
        return (zhMentions, zhRelation, zhCount);
    }

    [GeneratedRegex(@"(?:an?|single) (?:(small|large) )?(red|green|blue|yellow|purple) (circle|square|triangle|star)")]
    private static partial Regex EnglishMention();

    [GeneratedRegex(@"(to the left of|to the right of|above|below)")]
    private static partial Regex EnglishRelation();

    [GeneratedRegex(@"^(one|two|three|four) shapes?:")]
    private static partial Regex EnglishCount();

    [GeneratedRegex(@"一个(?:(大|小)的)?(红色|绿色|蓝色|黄色|紫色)(圆形|正方形|三角形|星形)")]
    private static partial Regex ChineseMention();

    [GeneratedRegex(@"的(左边|右边|上面|下面)")]
    private static partial Regex ChineseRelation();

    [GeneratedRegex(@"^([一两三四])个图形")]
    private static partial Regex ChineseCount();
}
