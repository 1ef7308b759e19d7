using System.Text;
using System.Text.Json.Nodes;
using InterBert.Tests.Search;
using InterBert.Weights;

namespace InterBert.Tests.Safety;

/// <summary>Malformed command lines and files: one line naming what is wrong, never a stack trace or a crash.</summary>
[Collection("Search")]
public sealed class MalformedInputTests(SearchFixture fixture) : IDisposable
{
    private readonly TempFolder folder = new();

    public void Dispose() => folder.Dispose();

    private static string OneLine(string error)
    {
        Assert.DoesNotContain("   at ", error);
        return Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public void SearchRefusesUnknownOptionsAndTakesAQueryAfterADoubleDash()
    {
        foreach (var args in new[] { new[] { "--bogus", "5", "a red circle" }, ["--picture", "photo.jpg"], ["a red circle", "--colour"] })
        {
            var (code, output, error) = CliProcess.Run(["search", "--index", fixture.IndexFolder, .. args]);
            Assert.True(code == 2, $"{string.Join(' ', args)}: {code} {output}{error}");
            Assert.Contains("unrecognized option", OneLine(error));
            Assert.DoesNotContain("search:", output);
        }
        // A photo that is not there, and a photo with words, are one-line errors too.
        foreach (var (args, says) in new[] { (new[] { "--image", folder.File("missing.jpg") }, "missing.jpg"), (["--image", folder.File("missing.jpg"), "a red circle"], "give one of") })
        {
            var (code, _, error) = CliProcess.Run(["search", "--index", fixture.IndexFolder, .. args]);
            Assert.True(code is 1 or 2, $"{string.Join(' ', args)}: {code} {error}");
            Assert.Contains(says, OneLine(error));
        }
        // A query that starts with -- follows a lone --; a negative number is a word like any other.
        var (ok, text, failure) = CliProcess.Run("search", "--index", fixture.IndexFolder, "--json", "--top", "3", "--", "--red", "-1");
        Assert.True(ok == 0, text + failure);
        Assert.Equal(3, JsonNode.Parse(text)!.AsArray().Count);
    }

    [Fact]
    public void ABottomUpLineWithAnImpossibleBoxCountIsOneLine()
    {
        var tsv = folder.File("features.tsv");
        static string Floats(int count) => Convert.ToBase64String(new byte[count * 4]);
        File.WriteAllLines(tsv,
        [
            $"good\t100\t80\t2\t{Floats(8)}\t{Floats(8)}",
            $"huge\t100\t80\t1073741825\t{Floats(4)}\t{Floats(8)}",
            $"also-good\t100\t80\t1\t{Floats(4)}\t{Floats(4)}",
        ]);
        var (code, output, error) = CliProcess.Run("features", "--from-tsv", tsv, "--out", folder.File("store"));
        Assert.True(code == 1, output + error);
        var line = OneLine(error);
        Assert.Contains("line 2", line);
        Assert.Contains("num_boxes 1073741825", line);
        // With --skip-bad the line is skipped and counted, the others imported.
        (code, output, error) = CliProcess.Run("features", "--from-tsv", tsv, "--out", folder.File("store2"), "--skip-bad");
        Assert.True(code == 0, output + error);
        using var store = InterBert.Data.FeatureStore.Open(folder.File("store2"));
        Assert.Equal(["also-good", "good"], store.Ids.Order(StringComparer.Ordinal));
    }

    /// <summary>A safetensors file with the given header and data bytes.</summary>
    private string Safetensors(string name, string header, int dataBytes)
    {
        var path = folder.File(name);
        var json = Encoding.UTF8.GetBytes(header);
        using var stream = File.Create(path);
        stream.Write(BitConverter.GetBytes((long)json.Length));
        stream.Write(json);
        stream.Write(new byte[dataBytes]);
        return path;
    }

    [Fact]
    public void SafetensorsEntriesThatAreNoTensorsOrDisagreeWithTheirBytesAreRefused()
    {
        var cases = new (string Header, int Bytes, string Says)[]
        {
            ("{\"w\": 5}", 0, "not a tensor description"),
            ("{\"w\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 8]}}", 8, "byte range of 8"),
            ("{\"w\": {\"dtype\": \"F32\", \"shape\": [1099511627776, 1099511627776], \"data_offsets\": [0, 8]}}", 8, "too large"),
            ("{\"w\": {\"dtype\": \"Q99\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8, "no known dtype"),
            ("{\"w\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}", 8, "no shape"),
            ("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 0]}}", 8, "no data_offsets"),
            ("{\"__metadata__\": {\"a\": 1}, \"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8, "map of strings"),
        };
        for (var k = 0; k < cases.Length; k++)
        {
            var path = Safetensors($"bad{k}.safetensors", cases[k].Header, cases[k].Bytes);
            var refused = Assert.Throws<CheckpointException>(() => SafetensorsHeader.Read(path));
            Assert.Contains(cases[k].Says, refused.Message);
            Assert.StartsWith(path, refused.Message);
        }
        // Through the command line: one line, exit 1.
        var (code, output, error) = CliProcess.Run("model", "export", "--weights", Safetensors("cli.safetensors", "{\"w\": 5}", 0), "--out", folder.File("exported"));
        Assert.True(code == 1, output + error);
        Assert.Contains("not a tensor description", OneLine(error));
        // A well-formed header passes.
        Assert.Single(SafetensorsHeader.Read(Safetensors("good.safetensors", "{\"w\": {\"dtype\": \"BF16\", \"shape\": [2, 2], \"data_offsets\": [0, 8]}}", 8)).TensorNames);
    }
}
