using System.Text;

namespace InterBert.Text;

/// <summary>
/// Learns a WordPiece vocabulary from a corpus, for languages and domains without a BERT vocabulary. Words come
/// from BERT's basic tokenization; the alphabet (word-initial characters and <c>##</c> continuations) is kept
/// whole, then the most frequent adjacent symbol pair is merged, again and again, until the vocabulary has the
/// requested size (as Hugging Face's WordPiece trainer does: byte-pair merges with <c>##</c> continuations). Output follows BERT's <c>vocab.txt</c>: special tokens first.
/// </summary>
public static class WordPieceVocabularyBuilder
{
    /// <summary>BERT's special tokens, in BERT's order of use.</summary>
    public static IReadOnlyList<string> SpecialTokens { get; } = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

    /// <summary>Builds a vocabulary of at most <paramref name="size"/> entries from <paramref name="texts"/>.</summary>
    public static List<string> Build(IEnumerable<string> texts, int size, bool lowerCase = true, int minimumPairCount = 2)
    {
        if (size <= SpecialTokens.Count) throw new ArgumentException($"vocabulary size {size} leaves no room beyond the {SpecialTokens.Count} special tokens");
        var normalizer = new BertBasicNormalizer(lowerCase);
        var wordCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var text in texts)
            foreach (var word in normalizer.Normalize(text).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                if (word.Length <= 100) wordCounts[word] = wordCounts.GetValueOrDefault(word) + 1;

        // Each word as symbols: its first character, then "##" continuations.
        var words = wordCounts.Select(p => (Symbols: Split(p.Key), Count: p.Value)).ToList();
        var symbolCounts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (symbols, count) in words)
            foreach (var s in symbols) symbolCounts[s] = symbolCounts.GetValueOrDefault(s) + count;

        var vocabulary = new List<string>(SpecialTokens);
        var alphabet = symbolCounts.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key).ToList();
        vocabulary.AddRange(alphabet.Take(size - vocabulary.Count));
        var known = vocabulary.ToHashSet(StringComparer.Ordinal);

        while (vocabulary.Count < size)
        {
            var pairCounts = new Dictionary<(string, string), long>();
            foreach (var (symbols, count) in words)
                for (var i = 0; i + 1 < symbols.Count; i++)
                    pairCounts[(symbols[i], symbols[i + 1])] = pairCounts.GetValueOrDefault((symbols[i], symbols[i + 1])) + count;
            var best = pairCounts.Where(p => p.Value >= minimumPairCount && !known.Contains(Merge(p.Key.Item1, p.Key.Item2)))
                .Select(p => (Pair: p.Key, Count: p.Value))
                .OrderByDescending(p => p.Count).ThenBy(p => p.Pair.Item1, StringComparer.Ordinal).ThenBy(p => p.Pair.Item2, StringComparer.Ordinal)
                .FirstOrDefault();
            if (best.Pair == default) break; // nothing left worth merging
            var merged = Merge(best.Pair.Item1, best.Pair.Item2);
            vocabulary.Add(merged);
            known.Add(merged);
            foreach (var (symbols, _) in words)
            {
                for (var i = 0; i + 1 < symbols.Count; i++)
                {
                    if (symbols[i] != best.Pair.Item1 || symbols[i + 1] != best.Pair.Item2) continue;
                    symbols[i] = merged;
                    symbols.RemoveAt(i + 1);
                }
            }
        }
        return vocabulary;
    }

    /// <summary>
    /// A vocabulary that keeps <paramref name="baseVocabulary"/> as it is (every token at its id, so weights trained
    /// with it stay valid) and appends the entries of <paramref name="added"/> it lacks, in their order: one
    /// vocabulary for two languages (MiniLM's English and the characters learned from Chinese captions, say).
    /// </summary>
    public static List<string> Extend(IReadOnlyList<string> baseVocabulary, IEnumerable<string> added)
    {
        var vocabulary = new List<string>(baseVocabulary);
        var known = baseVocabulary.ToHashSet(StringComparer.Ordinal);
        foreach (var token in added)
            if (token.Length > 0 && known.Add(token)) vocabulary.Add(token);
        return vocabulary;
    }

    /// <summary>Writes a vocabulary in BERT's format (one token per line).</summary>
    public static void Write(IReadOnlyList<string> vocabulary, string path)
    {
        ClaimFile(path);
        AtomicFile.Write(path, temporary => File.WriteAllText(temporary, string.Join("\n", vocabulary) + "\n", new UTF8Encoding(false)));
    }

    /// <summary>Refuses an existing file at <paramref name="path"/> that is not a vocabulary (its first lines hold [CLS] and [SEP]): a user's file is never overwritten.</summary>
    public static void ClaimFile(string path) => OutputFolder.ClaimFile(path, "a WordPiece vocabulary", p =>
    {
        var head = File.ReadLines(p).Take(SpecialTokens.Count + 1000).ToHashSet();
        return head.Contains("[CLS]") && head.Contains("[SEP]");
    });

    private static List<string> Split(string word)
    {
        var symbols = new List<string>();
        var elements = System.Globalization.StringInfo.GetTextElementEnumerator(word);
        var first = true;
        while (elements.MoveNext())
        {
            symbols.Add(first ? elements.GetTextElement() : "##" + elements.GetTextElement());
            first = false;
        }
        return symbols;
    }

    private static string Merge(string left, string right) => left + (right.StartsWith("##", StringComparison.Ordinal) ? right[2..] : right);
}
