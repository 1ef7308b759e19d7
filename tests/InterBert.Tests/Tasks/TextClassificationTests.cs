using System.Text.Json.Nodes;
using InterBert.Data;
using InterBert.Modeling;
using InterBert.Tasks;
using InterBert.Text;
using InterBert.Training;
using InterBert.Weights;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace InterBert.Tests.Tasks;

public class TextClassificationTests(ITestOutputHelper output)
{
    /// <summary>A set built from the COCO sample: each caption labelled with the group of its image's largest annotated object.</summary>
    private static (List<LabelledText> Train, List<LabelledText> Test) CocoMainObjectSet()
    {
        string Group(string category) => CocoCategoryGroup(category);
        var largest = new Dictionary<string, (float Area, string Category)>();
        foreach (var line in File.ReadLines(SharedData.Path("data", "coco-sample", "objects.jsonl")))
        {
            var o = JsonNode.Parse(line)!;
            var b = o["bbox"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray();
            var id = o["image_id"]!.ToString();
            if (!largest.TryGetValue(id, out var best) || b[2] * b[3] > best.Area) largest[id] = (b[2] * b[3], o["category"]!.GetValue<string>());
        }
        var train = new List<LabelledText>();
        var test = new List<LabelledText>();
        foreach (var image in DatasetReader.Read(SharedData.CocoDataset))
        {
            if (!largest.TryGetValue(image.Id, out var main)) continue;
            foreach (var caption in image.Captions)
                (image.Split == "test" ? test : train).Add(new LabelledText(caption.Replace('\t', ' ').Replace('\n', ' '), null, Group(main.Category)));
        }
        return (train, test);
    }

    private static string CocoCategoryGroup(string category) => category switch
    {
        "person" => "person",
        "bird" or "cat" or "dog" or "horse" or "sheep" or "cow" or "elephant" or "bear" or "zebra" or "giraffe" => "animal",
        "bicycle" or "car" or "motorcycle" or "airplane" or "bus" or "train" or "truck" or "boat" => "vehicle",
        "banana" or "apple" or "sandwich" or "orange" or "broccoli" or "carrot" or "hot dog" or "pizza" or "donut" or "cake" => "food",
        _ => "other",
    };

    [Fact]
    public void TextOnlyPathLearnsToClassifyCaptions()
    {
        var (train, test) = CocoMainObjectSet();
        using var encoder = MiniLmOnnxReader.Read();
        manual_seed(3);
        var (backbone, report) = PretrainedInitializer.CreateBackbone(InterBertConfig.Small, encoder, "preset small");
        var tokenizer = WordPieceTokenizer.Load(new MemoryStream(encoder.Vocabulary), "minilm");
        var labels = train.Select(e => e.Label).Distinct().Order().ToList();
        using var classifier = new TextClassifier(backbone, labels);
        // The recipes' precision: bf16 where the CPU multiplies it natively (the same learning in less time), fp32 where it would be emulated.
        backbone.Precision = Bf16Support.Auto;
        var options = new TrainingOptions { Steps = 40, BatchSize = 16, LearningRate = 1e-4, Seed = 2 };
        using var folder = new TempFolder();
        TextClassificationTraining.Run(classifier, tokenizer, train, "train", options, report.Used.ToHashSet(), 64, folder.File("run"));
        // The one trainer logs and plots every task's losses.
        Assert.True(new FileInfo(Path.Combine(folder.File("run"), "plots", "losses.png")).Length > 1000);
        var accuracy = TextClassificationTraining.Accuracy(classifier, tokenizer, test, "test", 64);
        var majority = test.GroupBy(e => e.Label).Max(g => g.Count()) / (double)test.Count;
        output.WriteLine($"{train.Count} train / {test.Count} test captions, labels {string.Join(", ", labels)}; accuracy {accuracy:P1} vs majority {majority:P1}");
        Assert.True(accuracy > majority + 0.2, $"accuracy {accuracy:P1}, majority {majority:P1}");

        // Saved and loaded, it classifies the same way.
        classifier.Save(folder.Path, encoder.Vocabulary, true);
        using var loaded = TextClassifier.Load(folder.Path);
        loaded.Backbone.Precision = Bf16Support.Auto;
        Assert.Equal(accuracy, TextClassificationTraining.Accuracy(loaded, tokenizer, test, "test", 64), 9);

        var unknown = Assert.Throws<InterBertException>(() => classifier.Targets([new LabelledText("a dog", null, "mineral")], "eval.tsv"));
        Assert.Contains("eval.tsv", unknown.Message);
        Assert.Contains("'mineral'", unknown.Message);
    }

    [Fact]
    public void AClassifierHoldsABackboneAndFoldersWrittenWithAWholeModelStillLoad()
    {
        manual_seed(4);
        using var model = new InterBertModel(InterBertConfig.Tiny);
        using var folder = new TempFolder();
        var vocabulary = MiniLmOnnxReader.ReadVocabularyBytes();
        // A folder as classifiers wrote it before they held a backbone: the whole model's weights, pretraining heads included.
        var old = Directory.CreateDirectory(folder.File("old")).FullName;
        ModelCheckpoint.Save(model, Path.Combine(old, "model.safetensors"), ModelVocabulary.WriteBeside(Path.Combine(old, "model.safetensors"), vocabulary, true));
        Assert.Throws<ArgumentException>(() => new TextClassifier(model, ["a", "b"]));

        using var classifier = new TextClassifier(ModelCheckpoint.LoadBackbone(Path.Combine(old, "model.safetensors")), ["a", "b"]);
        classifier.Save(folder.File("new"), vocabulary, true);
        var saved = SafetensorsHeader.Read(Path.Combine(folder.File("new"), "model.safetensors")).Json.Select(p => p.Key).Where(k => k != "__metadata__").Order(StringComparer.Ordinal).ToList();
        using var backbone = new InterBertBackbone(InterBertConfig.Tiny);
        Assert.Equal(backbone.state_dict().Keys.Order(StringComparer.Ordinal), saved);
        Assert.Contains(model.state_dict().Keys, k => k.StartsWith("cls.", StringComparison.Ordinal) && !saved.Contains(k));

        foreach (var file in new[] { "classifier.safetensors", "labels.json" }) File.Copy(Path.Combine(folder.File("new"), file), Path.Combine(old, file));
        using var fromOld = TextClassifier.Load(old);
        using var fromNew = TextClassifier.Load(folder.File("new"));
        classifier.eval();
        fromOld.eval();
        fromNew.eval();
        using var scope = NewDisposeScope();
        var text = WordPieceTokenizer.Collate([[101, 1037, 3899, 102], [101, 4937, 102]], 0);
        var expected = classifier.Logits(text);
        Assert.True(expected.allclose(fromOld.Logits(text), 0, 0), "a folder with a whole model's weights classifies as its backbone does");
        Assert.True(expected.allclose(fromNew.Logits(text), 0, 0));
    }

    [Fact]
    public void MalformedTsvLinesNameFileAndLine()
    {
        using var folder = new TempFolder();
        var path = folder.File("train.tsv");
        File.WriteAllText(path, "sentence\tlabel\na dog runs\tanimal\njust one field\n");
        var error = Assert.Throws<InterBertException>(() => LabelledTextReader.Read(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("line 3", error.Message);
        File.WriteAllText(path, "sentence\tlabel\na dog\tanimal\ntwo dogs\tand a cat\tanimal\n");
        var examples = LabelledTextReader.Read(path);
        Assert.Equal(2, examples.Count);
        Assert.Equal("and a cat", examples[1].Pair);

        // Skipped and counted when asked: the line without a label and the one with an empty sentence.
        File.WriteAllText(path, "sentence\tlabel\na dog\t1\nno label at all\n\t0\na cat\t0\n");
        var report = new DatasetReport();
        Assert.Equal(["a dog", "a cat"], LabelledTextReader.Read(path, new DatasetReadOptions { SkipBad = true, Report = report }).Select(e => e.Text));
        Assert.Equal(2, report.Skipped);
        Assert.StartsWith($"{path}: line 3: 1 tab-separated fields", Assert.Throws<InterBertException>(() => LabelledTextReader.Read(path)).Message);

        // A label outside the stated set (SST-2's 0 and 1) names the file, the line and the label; skipped and counted when asked.
        File.WriteAllText(path, "sentence\tlabel\na dog\t1\na cat\t2\na bird\t0\n");
        var binary = new DatasetReadOptions { Labels = ["0", "1"] };
        Assert.Equal($"{path}: line 3: label '2'; expected 0 or 1", Assert.Throws<InterBertException>(() => LabelledTextReader.Read(path, binary)).Message);
        var counted = new DatasetReport();
        Assert.Equal(["a dog", "a bird"], LabelledTextReader.Read(path, binary with { SkipBad = true, Report = counted }).Select(e => e.Text));
        Assert.Equal(1, counted.Skipped);
        Assert.Equal(3, LabelledTextReader.Read(path).Count);

        // A header that names the label column first (some copies of SST-2 are label<TAB>sentence): read from there.
        File.WriteAllText(path, "label\tsentence\n1\ta fine film\n0\ta dull one\n");
        Assert.Equal([("a fine film", "1"), ("a dull one", "0")], LabelledTextReader.Read(path, binary).Select(e => (e.Text, e.Label)));

        // A Git LFS pointer committed in place of the data: one line naming the file.
        File.WriteAllText(path, "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 43210\n");
        Assert.Equal($"{path}: a Git LFS pointer, not the data (its repository stores the file in LFS: fetch the file itself)", Assert.Throws<InterBertException>(() => LabelledTextReader.Read(path)).Message);
    }
}
