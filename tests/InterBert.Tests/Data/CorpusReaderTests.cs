using InterBert.Data;

namespace InterBert.Tests.Data;

public sealed class CorpusReaderTests
{
    [Fact]
    public void ABadTextIsAOneLineErrorOrSkippedAndCounted()
    {
        using var folder = new TempFolder();
        var tsv = folder.File("texts.tsv");
        File.WriteAllLines(tsv, ["id\ttext", "1\ta red circle", "2\t", "3\t" + new string('x', 3000), "4\ta blue star"]);
        var error = Assert.Throws<InterBertException>(() => CorpusReader.Read(tsv).ToList());
        Assert.Equal($"{tsv}: line 3: an empty text", error.Message);
        var report = new DatasetReport();
        // The header is not a text; the two bad lines are skipped and counted.
        Assert.Equal(["a red circle", "a blue star"], CorpusReader.Read(tsv, new DatasetReadOptions { SkipBad = true, Report = report }).ToList());
        Assert.Equal(2, report.Skipped);
        Assert.Contains("line 4: a text of 3000 characters", report.Reasons[1]);
    }

    [Fact]
    public void ABrokenDatasetLineIsAnErrorUnlessSkipped()
    {
        using var folder = new TempFolder();
        var jsonl = folder.File("captions.jsonl");
        File.WriteAllLines(jsonl, ["""{"image": "a.jpg", "caption": "a dog"}""", "{not json", """{"image": "b.jpg", "caption": "a cat"}"""]);
        var error = Assert.Throws<InterBertException>(() => CorpusReader.Read(jsonl).ToList());
        Assert.Contains(jsonl, error.Message);
        Assert.Contains("line 2", error.Message);
        var report = new DatasetReport();
        Assert.Equal(["a dog", "a cat"], CorpusReader.Read(jsonl, new DatasetReadOptions { SkipBad = true, Report = report }).ToList());
        Assert.Equal(1, report.Skipped);
    }

    [Fact]
    public void ABadBottomUpTsvLineIsSkippedAndCountedWhenAsked()
    {
        using var folder = new TempFolder();
        var tsv = folder.File("features.tsv");
        var boxes = Convert.ToBase64String(new float[] { 0, 0, 10, 10 }.SelectMany(BitConverter.GetBytes).ToArray());
        var features = Convert.ToBase64String(new float[] { 1, 2, 3 }.SelectMany(BitConverter.GetBytes).ToArray());
        File.WriteAllLines(tsv, [$"img1\t20\t20\t1\t{boxes}\t{features}", "img2\t20\t20\tone\tx\ty", $"img3\t20\t20\t1\t{boxes}\t{features}"]);
        Assert.Throws<InterBertException>(() => BottomUpTsvReader.Read(tsv).ToList());
        var report = new DatasetReport();
        Assert.Equal(["img1", "img3"], BottomUpTsvReader.Read(tsv, report).Select(r => r.Id).ToList());
        Assert.Equal(1, report.Skipped);
        Assert.StartsWith($"{tsv}: line 2:", report.Reasons[0]);
    }
}
