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
}
