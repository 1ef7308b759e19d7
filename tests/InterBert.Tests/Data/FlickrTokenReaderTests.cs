using InterBert.Data;

namespace InterBert.Tests.Data;

public class FlickrTokenReaderTests
{
    /// <summary>A miniature of the Flickr8k distribution: four photos, two captions each, the three split files and Flickr8K-CN's caption file.</summary>
    private static TempFolder Miniature(string tokenText, string? chineseText = null)
    {
        var folder = new TempFolder();
        var photos = Directory.CreateDirectory(folder.File("Flicker8k_Dataset")).FullName;
        var sample = Directory.GetFiles(SharedData.Path("data", "coco-sample", "images"), "*.jpg").Order(StringComparer.Ordinal).Take(4).ToList();
        foreach (var (file, name) in sample.Zip(new[] { "10_a.jpg", "20_b.jpg", "30_c.jpg", "40_d.jpg" })) File.Copy(file, Path.Combine(photos, name));
        File.WriteAllText(folder.File("Flickr8k.token.txt"), tokenText);
        File.WriteAllText(folder.File("Flickr_8k.trainImages.txt"), "10_a.jpg\n20_b.jpg\n");
        File.WriteAllText(folder.File("Flickr_8k.devImages.txt"), "30_c.jpg\n");
        File.WriteAllText(folder.File("Flickr_8k.testImages.txt"), "40_d.jpg\n");
        if (chineseText is not null) File.WriteAllText(folder.File("flickr8kzhc.caption.txt"), chineseText);
        return folder;
    }

    private const string GoodTokens =
        "20_b.jpg#0\tA dog runs on the grass .\n20_b.jpg#1\tA brown dog outside .\n10_a.jpg#0\tTwo children play .\n10_a.jpg#1\tKids at a park .\n" +
        "30_c.jpg#0\tA man rides a bike .\n30_c.jpg#1\tA cyclist on a road .\n40_d.jpg#0\tA girl in a pink dress .\n40_d.jpg#1\tA child smiles .\n";

    [Fact]
    public void ReadsTheDistributionsFolderWithItsSplitAndChineseCaptions()
    {
        using var folder = Miniature(GoodTokens, "40_d.jpg#zhc#0 一个穿着粉色裙子的女孩。\n10_a.jpg#zhc#0 两个孩子在玩。\n10_a.jpg#zhc#1 公园里的孩子们。\n");
        var images = DatasetReader.Read(folder.Path).ToList();
        Assert.Equal(["20_b", "10_a", "30_c", "40_d"], images.Select(i => i.Id));
        Assert.Equal(["train", "train", "val", "test"], images.Select(i => i.Split));
        Assert.Equal(["A dog runs on the grass .", "A brown dog outside ."], images[0].Captions);
        Assert.Equal(folder.File(Path.Combine("Flicker8k_Dataset", "20_b.jpg")), images[0].Location.Path);
        Assert.Equal(["40_d"], DatasetReader.Read(folder.Path, new DatasetReadOptions { Split = "test" }).Select(i => i.Id));

        // The Chinese caption file in the same folder: the same photos and split, its own sentences (space after the key).
        var chinese = DatasetReader.Read(folder.File("flickr8kzhc.caption.txt")).ToList();
        Assert.Equal(["40_d", "10_a"], chinese.Select(i => i.Id));
        Assert.Equal(["test", "train"], chinese.Select(i => i.Split));
        Assert.Equal(["两个孩子在玩。", "公园里的孩子们。"], chinese[1].Captions);
    }

    [Fact]
    public void JoinedDatasetsGiveEachPhotoTheCaptionsOfBothLanguagesAndMustAgreeOnTheSplit()
    {
        using var folder = Miniature(GoodTokens, "40_d.jpg#zhc#0 一个穿着粉色裙子的女孩。\n10_a.jpg#zhc#0 两个孩子在玩。\n10_a.jpg#zhc#1 公园里的孩子们。\n");
        var joined = DatasetReader.Combine(folder.Path, folder.File("flickr8kzhc.caption.txt"));
        var images = DatasetReader.Read(joined).ToList();
        // The first dataset's photos, order and locations; the second's captions after the first's.
        Assert.Equal(["20_b", "10_a", "30_c", "40_d"], images.Select(i => i.Id));
        Assert.Equal(["Two children play .", "Kids at a park .", "两个孩子在玩。", "公园里的孩子们。"], images[1].Captions);
        Assert.Equal(["A dog runs on the grass .", "A brown dog outside ."], images[0].Captions);
        Assert.Equal(folder.File(Path.Combine("Flicker8k_Dataset", "40_d.jpg")), images[3].Location.Path);
        Assert.Equal(3, images[3].Captions.Count);
        Assert.Equal(["40_d"], DatasetReader.Read(joined, new DatasetReadOptions { Split = "test" }).Select(i => i.Id));

        // A photo in another split in the second dataset: refused, naming both.
        using var other = new TempFolder();
        File.WriteAllText(other.File("moved.jsonl"), $"{{\"image\": \"x.jpg\", \"id\": \"40_d\", \"split\": \"train\", \"caption\": \"a girl\"}}\n");
        var error = Assert.Throws<InterBertException>(() => DatasetReader.Read(DatasetReader.Combine(folder.Path, other.File("moved.jsonl"))).ToList());
        Assert.Equal($"{other.File("moved.jsonl")}: image 40_d is in split 'train' here but in 'test' in {folder.Path}: joined datasets must agree on the split", error.Message);
        var missing = Assert.Throws<InterBertException>(() => DatasetReader.Read(DatasetReader.Combine(folder.Path, other.File("none.txt"))).ToList());
        Assert.Equal($"{other.File("none.txt")}: dataset not found (one of the datasets joined by '{Path.PathSeparator}')", missing.Message);
    }

    [Fact]
    public void AMalformedLineIsAnErrorNamingFileAndLineOrIsSkippedAndCounted()
    {
        using var folder = Miniature(GoodTokens.Replace("30_c.jpg#1\tA cyclist on a road .", "30_c.jpg A cyclist with no key"));
        var error = Assert.Throws<InterBertException>(() => DatasetReader.Read(folder.Path).ToList());
        Assert.Equal($"{folder.File("Flickr8k.token.txt")}: line 6: the key '30_c.jpg' has no '#N' after the image's file name", error.Message);

        var report = new DatasetReport();
        var images = DatasetReader.Read(folder.Path, new DatasetReadOptions { SkipBad = true, Report = report }).ToList();
        Assert.Equal(1, report.Skipped);
        Assert.Equal(["A man rides a bike ."], images.Single(i => i.Id == "30_c").Captions);

        using var empty = Miniature(GoodTokens.Replace("A child smiles .", " "));
        Assert.Contains("line 8: empty caption", Assert.Throws<InterBertException>(() => DatasetReader.Read(empty.Path).ToList()).Message);
    }

    [Fact]
    public void AMissingPhotoOfASplitIsAnErrorAndOneOfNoSplitIsSkippedAndCounted()
    {
        using var folder = Miniature(GoodTokens + "99_gone.jpg.1#0\tA photo the distribution does not ship .\n");
        // The distribution's own stray entry (in no split, no photo): skipped and counted even without --skip-bad.
        var report = new DatasetReport();
        Assert.Equal(4, DatasetReader.Read(folder.Path, new DatasetReadOptions { Report = report }).Count());
        Assert.Equal(1, report.Skipped);
        Assert.Contains("99_gone.jpg.1: photo not found", report.Reasons[0]);

        File.Delete(folder.File(Path.Combine("Flicker8k_Dataset", "30_c.jpg")));
        var error = Assert.Throws<InterBertException>(() => DatasetReader.Read(folder.Path).ToList());
        Assert.Equal($"{folder.File("Flickr8k.token.txt")}: image 30_c.jpg: photo not found in {folder.File("Flicker8k_Dataset")}", error.Message);
        var skipping = new DatasetReport();
        Assert.Equal(["20_b", "10_a", "40_d"], DatasetReader.Read(folder.Path, new DatasetReadOptions { SkipBad = true, Report = skipping }).Select(i => i.Id));
        Assert.Equal(2, skipping.Skipped);
    }

    [Fact]
    public void AFolderWithoutACaptionFileIsAClearError()
    {
        using var folder = new TempFolder();
        var error = Assert.Throws<InterBertException>(() => DatasetReader.Read(folder.Path).ToList());
        Assert.StartsWith($"{folder.Path}: a folder, but without a Flickr caption file", error.Message);
    }
}
