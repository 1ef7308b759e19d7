using InterBert.Text;
using InterBert.Weights;

namespace InterBert.Tests.Text;

/// <summary>Aligning a character vocabulary to MiniLM's English tokens from captions that say the same thing in both languages.</summary>
public class ParallelCaptionAlignmentTests
{
    private static readonly (string English, string Chinese)[] Colours = [("red", "红"), ("blue", "蓝"), ("green", "绿"), ("yellow", "黄")];
    private static readonly (string English, string Chinese)[] Shapes = [("circle", "圆形"), ("star", "星形"), ("triangle", "三角形")];
    private static readonly (string English, string Chinese)[] Relations = [("to the left of", "左边"), ("to the right of", "右边"), ("above", "上面"), ("below", "下面")];

    /// <summary>Every caption "a C S R a C S" with its Chinese "一个C色S在一个C色S的R", for all choices with two different colours.</summary>
    private static List<(string English, string Other)> Pairs() =>
        (from a in Colours from b in Colours where a != b from s in Shapes from t in Shapes from r in Relations
         select ($"a {a.English} {s.English} {r.English} a {b.English} {t.English}", $"一个{a.Chinese}色{s.Chinese}在一个{b.Chinese}色{t.Chinese}的{r.Chinese}")).ToList();

    private static WordPieceTokenizer Characters(IEnumerable<string> captions) =>
        WordPieceTokenizer.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(string.Join("\n", WordPieceVocabularyBuilder.Build(captions, 200)) + "\n")), "characters");

    [Fact]
    public void CharactersAlignToTheEnglishWordsTheyTranslate()
    {
        var pairs = Pairs();
        var english = WordPieceTokenizer.Load(new MemoryStream(MiniLmOnnxReader.ReadVocabularyBytes()), "minilm");
        var alignment = ParallelCaptionAlignment.Align(pairs, english, Characters(pairs.Select(p => p.Other)));

        foreach (var (word, character) in new[] { ("left", "左"), ("right", "右"), ("above", "上"), ("below", "下"), ("red", "红"), ("blue", "蓝"), ("green", "绿"), ("yellow", "黄"), ("circle", "圆"), ("star", "星"), ("triangle", "角") })
            Assert.True(alignment.TryGetValue(character, out var aligned) && aligned == word, $"{character} aligned to {(alignment.TryGetValue(character, out var a) ? a : "nothing")}, not {word}");
        // 面 is in both "上面" (above) and "下面" (below): it overlaps each English word by two thirds only, so it stays unaligned.
        Assert.False(alignment.ContainsKey("面"), $"面 aligned to {alignment.GetValueOrDefault("面")}");
        // In every caption, as "a" is.
        Assert.Equal("a", alignment["一"]);
    }

    [Fact]
    public void WithoutParallelCaptionsNothingAligns()
    {
        // The same captions paired at random: no character keeps a steady partner.
        var pairs = Pairs();
        var random = new Random(4);
        var mismatched = pairs.Select(p => (p.English, pairs[random.Next(pairs.Count)].Other)).ToList();
        var english = WordPieceTokenizer.Load(new MemoryStream(MiniLmOnnxReader.ReadVocabularyBytes()), "minilm");
        var alignment = ParallelCaptionAlignment.Align(mismatched, english, Characters(pairs.Select(p => p.Other)));
        foreach (var character in new[] { "左", "右", "红", "蓝", "圆", "星" })
            Assert.False(alignment.ContainsKey(character), $"{character} aligned to {alignment.GetValueOrDefault(character)} from unrelated captions");
    }
}
