namespace InterBert.Text;

/// <summary>
/// Which English token each token of another language's vocabulary stands for, read from captions that say the same
/// thing in both languages: the English token whose captions overlap the token's most (Dice's coefficient over
/// caption pairs, 2·n(both) / (n(token) + n(English token))), kept when that overlap reaches a threshold. A new
/// vocabulary's rows can then start from the English rows they align to (as WECHSEL starts a new language's
/// embeddings from a bilingual dictionary), so "左" starts as "left" rather than as noise.
/// </summary>
public static class ParallelCaptionAlignment
{
    /// <summary>
    /// For each token of <paramref name="other"/> met in <paramref name="pairs"/> (English caption, its translation),
    /// the English token of <paramref name="english"/> it aligns to with a Dice coefficient of at least
    /// <paramref name="minimumDice"/>; special tokens and [UNK] are never aligned.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Align(IEnumerable<(string English, string Other)> pairs, WordPieceTokenizer english, WordPieceTokenizer other, double minimumDice = 0.75)
    {
        var englishCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        var otherCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        var both = new Dictionary<(string Other, string English), int>();
        foreach (var (englishCaption, otherCaption) in pairs)
        {
            var englishTokens = Tokens(english, englishCaption);
            var otherTokens = Tokens(other, otherCaption);
            foreach (var token in englishTokens) englishCounts[token] = englishCounts.GetValueOrDefault(token) + 1;
            foreach (var token in otherTokens)
            {
                otherCounts[token] = otherCounts.GetValueOrDefault(token) + 1;
                foreach (var englishToken in englishTokens) both[(token, englishToken)] = both.GetValueOrDefault((token, englishToken)) + 1;
            }
        }
        var best = new Dictionary<string, (string English, double Dice)>(StringComparer.Ordinal);
        foreach (var ((token, englishToken), count) in both)
        {
            var dice = 2.0 * count / (otherCounts[token] + englishCounts[englishToken]);
            // Ties go to the English token first in ordinal order, so the alignment does not depend on hashing.
            if (!best.TryGetValue(token, out var current) || dice > current.Dice || (dice == current.Dice && string.CompareOrdinal(englishToken, current.English) < 0))
                best[token] = (englishToken, dice);
        }
        return best.Where(b => b.Value.Dice >= minimumDice).ToDictionary(b => b.Key, b => b.Value.English, StringComparer.Ordinal);
    }

    /// <summary>The distinct ordinary tokens of a caption (no special tokens, no [UNK]).</summary>
    private static HashSet<string> Tokens(WordPieceTokenizer tokenizer, string caption) =>
        tokenizer.EncodeWithoutSpecialTokens(caption).Where(id => id != tokenizer.UnknownId).Select(tokenizer.IdToToken).ToHashSet(StringComparer.Ordinal);
}
