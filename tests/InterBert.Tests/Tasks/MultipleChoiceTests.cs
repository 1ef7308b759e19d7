using System.Text.Json;
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

[Collection("coco features")]
public class MultipleChoiceTests(CocoFeatures features, ITestOutputHelper output)
{
    [Fact]
    public void VcrObjectReferencesBecomeLinkedTagWords()
    {
        using var folder = new TempFolder();
        var path = folder.File("val.jsonl");
        File.WriteAllText(path, """
            {"objects": ["person", "person", "dog"], "question": ["Why", "is", [0, 1], "near", [2], "?"], "answer_choices": [["They", "like", [2]], ["Rain"], ["No"], ["Yes"]], "rationale_choices": [["A"], ["B", [1]], ["C"], ["D"]], "answer_label": 0, "rationale_label": 1, "img_fn": "lsmdc/clip_1/frame@3.jpg", "metadata_fn": "lsmdc/clip_1/frame@3.json"}
            """ + "\n");
        var item = Assert.Single(MultipleChoiceReader.Read(path));
        Assert.Equal("Why is person1 and person2 near dog3 ?", item.Question.ToString());
        Assert.Equal([-1, -1, 1, -1, 2, -1, 3, -1], item.Question.Regions);
        Assert.Equal("They like dog3", item.Answers[0].ToString());
        Assert.Equal(3, item.Answers[0].Regions[2]);
        Assert.Equal((0, 1), (item.AnswerLabel, item.RationaleLabel));
        Assert.Equal("frame@3", item.ImageId);

        // The tag word's pieces all carry the link; the batch gives the model those links.
        var tokenizer = WordPieceTokenizer.Load(new MemoryStream(MiniLmOnnxReader.ReadVocabularyBytes()), "vocab");
        var (ids, types, links) = MultipleChoiceTask.Encode(tokenizer, item.Question, item.Answers[0], 64, regionCount: 3);
        var tokens = tokenizer.ToTokens(ids);
        var person2 = tokens.Select((t, i) => (t, i)).Where(p => links[p.i] == 2).Select(p => p.t).ToList();
        Assert.Equal("person2", string.Concat(person2).Replace("##", ""));
        Assert.DoesNotContain(3, links); // dog3 is region 3, beyond an image of 3 regions: left unlinked
        Assert.Equal(1, types[^1]);

        File.WriteAllText(path, "{\"objects\": [\"person\"], \"question\": [\"Who\", [4]], \"answer_choices\": [[\"a\"], [\"b\"]], \"rationale_choices\": [[\"a\"], [\"b\"]], \"answer_label\": 0, \"rationale_label\": 0, \"img_fn\": \"x.jpg\"}\n");
        var error = Assert.Throws<InterBertException>(() => MultipleChoiceReader.Read(path));
        Assert.Contains("line 1", error.Message);
        Assert.Contains("object reference 4", error.Message);
    }

    /// <summary>A VCR-format set from the COCO sample: "what does the picture with [object] show?" with its caption among three of other images.</summary>
    private static List<MultipleChoiceItem> Generate(IReadOnlyCollection<string> splits, int seed, string folder)
    {
        var categories = new Dictionary<string, List<string>>();
        foreach (var line in File.ReadLines(SharedData.Path("data", "coco-sample", "objects.jsonl")))
        {
            var o = JsonNode.Parse(line)!;
            var id = o["image_id"]!.ToString();
            (categories.TryGetValue(id, out var list) ? list : categories[id] = []).Add(o["category"]!.GetValue<string>());
        }
        var images = DatasetReader.Read(SharedData.CocoDataset).Where(i => categories.ContainsKey(i.Id)).ToList();
        var random = new Random(seed);
        var path = Path.Combine(folder, $"mc-{seed}.jsonl");
        using (var writer = new StreamWriter(path))
        {
            foreach (var image in images.Where(i => splits.Contains(i.Split)))
            {
                JsonArray Words(string text) => new(text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(w => (JsonNode)JsonValue.Create(w)!).ToArray());
                string OtherCaption() { CaptionedImage other; do other = images[random.Next(images.Count)]; while (other.Id == image.Id); return other.Captions[random.Next(other.Captions.Count)]; }
                var answerLabel = random.Next(4);
                var rationaleLabel = random.Next(4);
                var answers = new JsonArray(Enumerable.Range(0, 4).Select(k => (JsonNode)Words(k == answerLabel ? image.Captions[0] : OtherCaption())).ToArray());
                var rationales = new JsonArray(Enumerable.Range(0, 4).Select(k => (JsonNode)Words(k == rationaleLabel ? image.Captions[1] : OtherCaption())).ToArray());
                var item = new JsonObject
                {
                    ["objects"] = new JsonArray(categories[image.Id].Select(c => (JsonNode)JsonValue.Create(c)!).ToArray()),
                    ["question"] = new JsonArray("What", "does", "the", "picture", "with", new JsonArray(0), "show", "?"),
                    ["answer_choices"] = answers, ["rationale_choices"] = rationales,
                    ["answer_label"] = answerLabel, ["rationale_label"] = rationaleLabel,
                    ["img_fn"] = $"coco/{image.Id}.jpg", ["metadata_fn"] = $"coco/{image.Id}.json",
                };
                writer.WriteLine(item.ToJsonString());
            }
        }
        return MultipleChoiceReader.Read(path);
    }

    [Fact]
    public void FineTuningLiftsQuestionToAnswerAccuracyAboveChance()
    {
        using var folder = new TempFolder();
        var train = Generate(["train", "val"], 1, folder.Path);
        var test = Generate(["test"], 2, folder.Path);
        using var store = FeatureStore.Open(features.StorePath);
        using var encoder = MiniLmOnnxReader.Read();
        manual_seed(4);
        var (model, report) = PretrainedInitializer.Create(InterBertConfig.Small, encoder, "preset small");
        using (model)
        {
            // The recipes' precision: bf16 where the CPU multiplies it natively (the same learning in about half the time), fp32 where it would be emulated.
            model.Precision = Bf16Support.Auto;
            var tokenizer = WordPieceTokenizer.Load(new MemoryStream(encoder.Vocabulary), "minilm");
            var before = MultipleChoiceTask.Evaluate(model, test, store, tokenizer);
            MultipleChoiceTask.Train(model, train, store, tokenizer, new TrainingOptions { Steps = 60, BatchSize = 8, LearningRate = 2e-4, Seed = 5 }, report.Used.ToHashSet(), folder.File("run"));
            var after = MultipleChoiceTask.Evaluate(model, test, store, tokenizer);
            output.WriteLine($"{train.Count} training / {test.Count} test questions; Q->A {before.QuestionToAnswer:F1}% -> {after.QuestionToAnswer:F1}%, QA->R {after.AnswerToRationale:F1}%, Q->AR {after.Joint:F1}%");
            Assert.True(after.QuestionToAnswer >= 35 && after.QuestionToAnswer > before.QuestionToAnswer + 10, $"Q->A {before.QuestionToAnswer:F1}% -> {after.QuestionToAnswer:F1}% (chance 25%)");
        }
    }
}
