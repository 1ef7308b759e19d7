using System.Text.Json.Nodes;
using InterBert.Data;
using InterBert.Modeling;
using InterBert.Weights;
using static TorchSharp.torch;

namespace InterBert.Tests.Training;

/// <summary>
/// <c>--pretrained-lr-multiplier</c> through a chain of runs: the list of weights that came pretrained survives
/// pretraining and every fine-tuning task, and each task trains those weights at the multiplied rate.
/// </summary>
[Collection("coco features")]
public class PretrainedKeysTests(CocoFeatures features)
{
    private static bool IsPretrained(string key) => key.StartsWith("embeddings.", StringComparison.Ordinal) || key.StartsWith("encoder.layer.0.", StringComparison.Ordinal);

    /// <summary>A tiny model for the COCO store whose embeddings and first layer are listed as pretrained.</summary>
    private string WriteInit(TempFolder folder)
    {
        using var store = FeatureStore.Open(features.StorePath);
        var hasClasses = store.Manifest.ClassCount > 0 && store.Entries.All(e => e.HasClasses);
        var config = InterBertConfig.Tiny with
        {
            VFeatureSize = store.Manifest.FeatureSize, VTargetSize = hasClasses ? store.Manifest.ClassCount : InterBertConfig.Tiny.VTargetSize, PredictFeature = !hasClasses,
        };
        manual_seed(7);
        using var model = new InterBertModel(config);
        var path = folder.File("init.safetensors");
        var metadata = ModelVocabulary.WriteBeside(path, MiniLmOnnxReader.ReadVocabularyBytes(), lowerCase: true);
        PretrainedKeys.Record(metadata, model.state_dict().Keys.Where(IsPretrained));
        ModelCheckpoint.Save(model, path, metadata);
        return path;
    }

    /// <summary>Asserts that <paramref name="after"/> lists the same pretrained keys as <paramref name="before"/>, left them bit-identical (multiplier 0) and trained others.</summary>
    private static void AssertOnlyNewWeightsMoved(string before, string after, string what)
    {
        var keys = PretrainedKeys.Read(before);
        Assert.Equal(keys.Order(), PretrainedKeys.Read(after).Order());
        using var scope = NewDisposeScope();
        // Compared as backbones: a text classifier's weights hold no task heads.
        using var first = ModelCheckpoint.LoadBackbone(before);
        using var second = ModelCheckpoint.LoadBackbone(after);
        var a = first.state_dict();
        var b = second.state_dict();
        foreach (var key in keys) Assert.True(a[key].eq(b[key]).all().item<bool>(), $"{what}: pretrained {key} moved at multiplier 0");
        var moved = a.Keys.Where(k => !keys.Contains(k) && k.StartsWith("encoder.layer.1.", StringComparison.Ordinal) && !a[k].eq(b[k]).all().item<bool>()).ToList();
        Assert.True(moved.Count > 0, $"{what}: no other weight of the text stack moved");
    }

    [Fact]
    public void PretrainedWeightsKeepTheirRateThroughPretrainingAndEveryFineTuning()
    {
        using var folder = new TempFolder();
        var init = WriteInit(folder);
        string[] common = ["--pretrained-lr-multiplier", "0", "--lr", "1e-3", "--threads", "2"];

        var pretrain = folder.File("pretrain");
        var (code, _, error) = CliProcess.Run([.. new[] { "pretrain", "--dataset", SharedData.CocoDataset, "--features", features.StorePath, "--init", init, "--out", pretrain,
            "--steps", "3", "--batch-size", "8", "--val-split", "none" }, .. common]);
        Assert.True(code == 0, error);
        var pretrained = Path.Combine(pretrain, "model.safetensors");
        AssertOnlyNewWeightsMoved(init, pretrained, "pretrain");
        Assert.Equal(PretrainedKeys.Read(init).Order(), PretrainedKeys.Read(Path.Combine(pretrain, "checkpoints", "step-3", "model.safetensors")).Order());

        var retrieval = folder.File("retrieval");
        (code, _, error) = CliProcess.Run([.. new[] { "finetune", "--task", "retrieval", "--dataset", SharedData.CocoDataset, "--features", features.StorePath, "--init", pretrained,
            "--out", retrieval, "--epochs", "0.05", "--batch-size", "8", "--val-split", "none" }, .. common]);
        Assert.True(code == 0, error);
        AssertOnlyNewWeightsMoved(init, Path.Combine(retrieval, "last.safetensors"), "retrieval");

        var labelled = folder.File("labelled.tsv");
        File.WriteAllLines(labelled, ["a dog on the grass\tanimal", "a cat on a sofa\tanimal", "a red bus in the street\tvehicle", "a man rides a bike\tvehicle"]);
        var classification = folder.File("classification");
        (code, _, error) = CliProcess.Run([.. new[] { "finetune", "--task", "text-classification", "--dataset", labelled, "--init", pretrained, "--out", classification,
            "--epochs", "2", "--batch-size", "2" }, .. common]);
        Assert.True(code == 0, error);
        AssertOnlyNewWeightsMoved(init, Path.Combine(classification, "model.safetensors"), "text-classification");
        // The classifier holds the backbone and its own head: neither its weights nor its checkpoints carry the pretraining heads.
        foreach (var weights in Directory.GetFiles(classification, "model.safetensors", SearchOption.AllDirectories).Append(Path.Combine(classification, "classifier.safetensors")))
            Assert.DoesNotContain(SafetensorsHeader.Read(weights).Json.Select(p => p.Key), key => key.StartsWith("cls.", StringComparison.Ordinal) || key.StartsWith("vil_logit.", StringComparison.Ordinal) || key == InterBertModel.LogitScaleKey);
        Assert.Contains(SafetensorsHeader.Read(pretrained).Json.Select(p => p.Key), key => key.StartsWith("cls.", StringComparison.Ordinal));
        Assert.True(Directory.GetFiles(classification, "model.safetensors", SearchOption.AllDirectories).Length >= 2, "the run's weights and at least one checkpoint");

        var questions = WriteQuestions(folder);
        var choice = folder.File("choice");
        (code, _, error) = CliProcess.Run([.. new[] { "finetune", "--task", "multiple-choice", "--dataset", questions, "--features", features.StorePath, "--init", pretrained,
            "--out", choice, "--epochs", "1", "--batch-size", "2" }, .. common]);
        Assert.True(code == 0, error);
        AssertOnlyNewWeightsMoved(init, Path.Combine(choice, "last.safetensors"), "multiple-choice");
    }

    /// <summary>Writes four VCR-style questions over the first four COCO sample images, each image's caption the right answer.</summary>
    internal static string WriteQuestions(TempFolder folder)
    {
        var questions = folder.File("questions.jsonl");
        var images = DatasetReader.Read(SharedData.CocoDataset).Take(4).ToList();
        File.WriteAllLines(questions, images.Select((image, k) => new JsonObject
        {
            ["objects"] = new JsonArray("person"), ["question"] = new JsonArray("What", "is", "shown", "?"),
            ["answer_choices"] = new JsonArray(images.Select(i => (JsonNode)new JsonArray(i.Captions[0].Split(' ').Select(w => (JsonNode)JsonValue.Create(w)!).ToArray())).ToArray()),
            ["rationale_choices"] = new JsonArray(new JsonArray("yes"), new JsonArray("no"), new JsonArray("maybe"), new JsonArray("never")),
            ["answer_label"] = k, ["rationale_label"] = k % 2, ["img_fn"] = $"coco/{image.Id}.jpg",
        }.ToJsonString()));
        return questions;
    }
}
