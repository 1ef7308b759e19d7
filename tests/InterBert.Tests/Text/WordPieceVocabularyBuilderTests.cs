using InterBert.Text;

namespace InterBert.Tests.Text;

public class WordPieceVocabularyBuilderTests
{
    [Fact]
    public void VocabularyBuiltFromCocoCaptionsCoversThem()
    {
        using var folder = new TempFolder();
        var captions = SharedData.CocoCaptions();
        var vocabulary = WordPieceVocabularyBuilder.Build(captions, 1500);
        Assert.Equal(1500, vocabulary.Count);
        Assert.Equal(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], vocabulary.Take(5));
        Assert.Equal(vocabulary.Count, vocabulary.Distinct().Count());
        Assert.Contains(vocabulary, t => t.StartsWith("##") && t.Length > 3); // merged continuations
        Assert.Contains("the", vocabulary);
        Assert.DoesNotContain(vocabulary.Skip(5), t => t.Any(char.IsUpper));

        var path = folder.File("vocab.txt");
        WordPieceVocabularyBuilder.Write(vocabulary, path);
        var tokenizer = WordPieceTokenizer.Load(path);
        long tokens = 0, unknown = 0, words = 0;
        foreach (var caption in captions)
        {
            var ids = tokenizer.EncodeWithoutSpecialTokens(caption);
            tokens += ids.Count;
            unknown += ids.Count(i => i == tokenizer.UnknownId);
            words += ids.Count(i => !tokenizer.IsContinuation(i));
        }
        Assert.True(unknown < tokens / 100, $"{unknown} of {tokens} tokens are [UNK]");
        // Frequent words are whole tokens: far fewer pieces than characters.
        Assert.True(tokens < words * 1.6, $"{tokens} tokens for {words} words");
    }

    [Fact]
    public void ChineseCorpusGivesACharacterVocabulary()
    {
        var captions = File.ReadLines(SharedData.Path("data", "coco-cn", "captions-zh.tsv")).Select(l => l.Split('\t')[1]).ToList();
        var vocabulary = WordPieceVocabularyBuilder.Build(captions, 5000, lowerCase: false);
        var characters = captions.SelectMany(c => c).Where(c => BertBasicNormalizer.IsCjk(c)).Distinct().ToList();
        Assert.All(characters, c => Assert.Contains(c.ToString(), vocabulary));
    }

    [Fact]
    public void ExtendedVocabularyKeepsEveryEnglishIdAndCoversTheChineseCharacters()
    {
        using var folder = new TempFolder();
        var english = File.ReadLines(SharedData.Path("data", "vocab", "bert-base-uncased.txt")).ToList();
        var chineseCaptions = File.ReadLines(SharedData.Path("data", "coco-cn", "captions-zh.tsv")).Select(l => l.Split('\t')[1]).ToList();
        var learned = WordPieceVocabularyBuilder.Build(chineseCaptions.Take(3000), 3000);
        var both = WordPieceVocabularyBuilder.Extend(english, learned);
        Assert.Equal(english, both.Take(english.Count));
        Assert.Equal(both.Count, both.Distinct().Count());
        Assert.True(both.Count > english.Count + 500, $"{both.Count - english.Count} entries added");
        WordPieceVocabularyBuilder.Write(english, folder.File("en.txt"));
        WordPieceVocabularyBuilder.Write(both, folder.File("both.txt"));
        var englishTokenizer = WordPieceTokenizer.Load(folder.File("en.txt"));
        var bothTokenizer = WordPieceTokenizer.Load(folder.File("both.txt"));
        // English text tokenizes exactly as before; held-out Chinese captions lose (nearly) all their [UNK]s.
        foreach (var caption in SharedData.CocoCaptions().Take(200))
            Assert.Equal(englishTokenizer.EncodeWithoutSpecialTokens(caption), bothTokenizer.EncodeWithoutSpecialTokens(caption));
        var heldOut = chineseCaptions.Skip(3000).ToList();
        double Unknown(WordPieceTokenizer t) => heldOut.SelectMany(t.EncodeWithoutSpecialTokens).Average(id => id == t.UnknownId ? 1.0 : 0.0);
        Assert.True(Unknown(englishTokenizer) > 0.3, $"English vocabulary: {Unknown(englishTokenizer):P1} [UNK]");
        Assert.True(Unknown(bothTokenizer) < 0.01, $"extended vocabulary: {Unknown(bothTokenizer):P1} [UNK]");
    }
}
