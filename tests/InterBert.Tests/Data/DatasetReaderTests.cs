using InterBert.Data;

namespace InterBert.Tests.Data;

public class DatasetReaderTests
{
    [Fact]
    public void ReadsTheKarpathySplitOfTheCocoSample()
    {
        var images = DatasetReader.Read(SharedData.CocoDataset).ToList();
        Assert.Equal(239, images.Count);
        Assert.Equal(1195, images.Sum(i => i.Captions.Count));
        Assert.Equal(80, images.Count(i => i.Split == "train"));
        Assert.Equal(40, images.Count(i => i.Split == "val"));
        Assert.Equal(119, images.Count(i => i.Split == "test"));
        var first = images[0];
        Assert.Equal("790", first.Id);
        Assert.True(File.Exists(first.Location.Path));
        Assert.Equal(119, DatasetReader.Read(SharedData.CocoDataset, new DatasetReadOptions { Split = "test" }).Count());
    }

    [Fact]
    public void ReadsJsonlWithOneOrManyCaptionsAndCocoCaptionsJson()
    {
        using var folder = new TempFolder();
        File.WriteAllText(folder.File("d.jsonl"), """
            {"image": "a.jpg", "caption": "a dog"}

            {"image": "sub/b.jpg", "captions": ["a cat", "two cats"], "split": "test"}
            """);
        var jsonl = DatasetReader.Read(folder.File("d.jsonl")).ToList();
        Assert.Equal(["a", "b"], jsonl.Select(i => i.Id));
        Assert.Equal(["a cat", "two cats"], jsonl[1].Captions);
        Assert.Equal("test", jsonl[1].Split);
        Assert.Equal(Path.Combine(folder.Path, "sub", "b.jpg"), jsonl[1].Location.Path);

        File.WriteAllText(folder.File("captions_val2017.json"), """
            {"images": [{"id": 7, "file_name": "x.jpg"}, {"id": 9, "file_name": "y.jpg"}],
             "annotations": [{"image_id": 9, "caption": "one"}, {"image_id": 7, "caption": "two"}, {"image_id": 9, "caption": "three"}]}
            """);
        var coco = DatasetReader.Read(folder.File("captions_val2017.json")).ToList();
        Assert.Equal(["9", "7"], coco.Select(i => i.Id));
        Assert.Equal(["one", "three"], coco[0].Captions);
    }

    [Fact]
    public void ReadsMugeTextsAndBase64Images()
    {
        using var folder = new TempFolder();
        var jpeg = File.ReadAllBytes(SharedData.Path("data", "coco-sample", "images", "000000000790.jpg"));
        File.WriteAllText(folder.File("valid_imgs.tsv"), $"1001\t{Convert.ToBase64String(jpeg)}\n1002\t{Convert.ToBase64String([1, 2, 3])}\n");
        File.WriteAllText(folder.File("valid_texts.jsonl"), """
            {"text_id": 1, "text": "蛋糕和家人", "image_ids": [1001]}
            {"text_id": 2, "text": "生日", "image_ids": [1001, 1002]}
            """);
        var images = DatasetReader.Read(folder.File("valid_texts.jsonl")).ToList();
        Assert.Equal(["1001", "1002"], images.Select(i => i.Id));
        Assert.Equal(["蛋糕和家人", "生日"], images[0].Captions);
        Assert.Equal("valid", images[0].Split);
        Assert.Equal(jpeg, images[0].Location.ReadBytes());
        Assert.Equal([1, 2, 3], images[1].Location.ReadBytes());
    }

    [Theory]
    [InlineData("{\"image\": \"a.jpg\", \"caption\": \"ok\"}\n{not json}\n", "line 2", "not valid JSON")]
    [InlineData("{\"image\": \"a.jpg\", \"caption\": \"  \"}\n", "line 1", "empty caption")]
    [InlineData("{\"image\": \"../../etc/passwd\", \"caption\": \"x\"}\n", "line 1", "leaves the dataset folder")]
    [InlineData("{\"image\": \"a.jpg\"}\n", "line 1", "no \"caption\"")]
    public void BadJsonlLinesNameFileAndLineOrAreSkippedAndCounted(string content, string line, string reason)
    {
        using var folder = new TempFolder();
        var path = folder.File("bad.jsonl");
        File.WriteAllText(path, content + "{\"image\": \"good.jpg\", \"caption\": \"a good line\"}\n");
        var error = Assert.Throws<InterBertException>(() => DatasetReader.Read(path).ToList());
        Assert.Contains(path, error.Message);
        Assert.Contains(line, error.Message);
        Assert.Contains(reason, error.Message);
        Assert.DoesNotContain('\n', error.Message);

        var report = new DatasetReport();
        var kept = DatasetReader.Read(path, new DatasetReadOptions { SkipBad = true, Report = report }).ToList();
        Assert.Equal("good", kept[^1].Id);
        Assert.Equal(1, report.Skipped);
    }

    [Fact]
    public void OverlongCaptionIsRefusedWithItsLength()
    {
        using var folder = new TempFolder();
        var path = folder.File("long.jsonl");
        File.WriteAllText(path, $"{{\"image\": \"a.jpg\", \"caption\": \"{new string('x', 10_000)}\"}}\n");
        var error = Assert.Throws<InterBertException>(() => DatasetReader.Read(path).ToList());
        Assert.Contains("10,000 characters", error.Message);
        Assert.Contains("line 1", error.Message);
    }

    [Fact]
    public void KarpathyEntryEscapingTheFolderIsRefused()
    {
        using var folder = new TempFolder();
        var path = folder.File("dataset.json");
        File.WriteAllText(path, """{"images": [{"filepath": "..", "filename": "secret.jpg", "cocoid": 1, "split": "test", "sentences": [{"raw": "x"}]}]}""");
        var error = Assert.Throws<InterBertException>(() => DatasetReader.Read(path).ToList());
        Assert.Contains("images[0]", error.Message);
        Assert.Contains("leaves the dataset folder", error.Message);
    }
}
