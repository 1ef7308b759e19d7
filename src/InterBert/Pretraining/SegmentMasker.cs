using InterBert.Text;

namespace InterBert.Pretraining;

/// <summary>
/// Masked segment modeling's input corruption. Words are WordPiece tokens plus their <c>##</c> continuations
/// (a word is masked whole). Each chosen token becomes <c>[MASK]</c> (80%), a random token (10%) or stays (10%);
/// its label is the original id, and every other label is <see cref="Ignore"/>.
/// </summary>
public sealed class SegmentMasker(WordPieceTokenizer tokenizer, SegmentMaskingMode mode = SegmentMaskingMode.Paper)
{
    /// <summary>The label of positions that carry no target.</summary>
    public const int Ignore = -100;

    /// <summary>Fraction of words that become anchors (paper: 10%).</summary>
    public double AnchorRate { get; init; } = 0.10;

    /// <summary>Most extra words masked after an anchor (paper: 0-2, so segments of 1-3 words).</summary>
    public int MaxExtraWords { get; init; } = 2;

    /// <summary>Fraction of tokens masked in <see cref="SegmentMaskingMode.BertTokens"/> mode.</summary>
    public double TokenRate { get; init; } = 0.15;

    /// <summary>The masking mode.</summary>
    public SegmentMaskingMode Mode => mode;

    /// <summary>Masks a <c>[CLS] ... [SEP]</c> sequence; returns the corrupted ids and the labels.</summary>
    public (int[] Ids, int[] Labels) Mask(int[] ids, Random random)
    {
        var words = WordStarts(ids);
        var chosen = new bool[ids.Length];
        if (mode == SegmentMaskingMode.BertTokens)
        {
            for (var i = 1; i < ids.Length - 1; i++) chosen[i] = random.NextDouble() < TokenRate;
        }
        else
        {
            foreach (var (anchor, extra) in ChooseSegments(words.Count, random)) MarkWords(words, ids.Length, anchor, extra, chosen);
        }
        var (corrupted, labels) = Unmasked(ids);
        for (var i = 0; i < ids.Length; i++)
        {
            if (!chosen[i]) continue;
            labels[i] = ids[i];
            var r = random.NextDouble();
            if (r < 0.8) corrupted[i] = tokenizer.MaskId;
            else if (r < 0.9) corrupted[i] = RandomToken(random);
        }
        return (corrupted, labels);
    }

    /// <summary>A sequence left as it is: its ids (a copy) and no labels.</summary>
    public static (int[] Ids, int[] Labels) Unmasked(int[] ids) => ((int[])ids.Clone(), Enumerable.Repeat(Ignore, ids.Length).ToArray());

    /// <summary>
    /// The segments to mask among <paramref name="wordCount"/> words: (anchor word, extra words after it).
    /// Paper: a stochastically rounded 10% of the words are anchors, each with 0-2 extra words; reference: one span.
    /// </summary>
    public List<(int Anchor, int ExtraWords)> ChooseSegments(int wordCount, Random random)
    {
        if (wordCount == 0) return [];
        if (mode == SegmentMaskingMode.ReferenceSpan) return [(random.Next(wordCount), random.Next(MaxExtraWords + 1))];
        return SampleWithoutReplacement(wordCount, StochasticRound(AnchorRate * wordCount, random), random)
            .Select(anchor => (anchor, random.Next(MaxExtraWords + 1))).ToList();
    }

    /// <summary>The token positions where words start, excluding <c>[CLS]</c> and <c>[SEP]</c>.</summary>
    public List<int> WordStarts(int[] ids)
    {
        var starts = new List<int>();
        for (var i = 1; i < ids.Length - 1; i++)
            if (i == 1 || !tokenizer.IsContinuation(ids[i])) starts.Add(i);
        return starts;
    }

    private static void MarkWords(List<int> starts, int length, int firstWord, int extraWords, bool[] chosen)
    {
        var lastWord = Math.Min(starts.Count - 1, firstWord + extraWords);
        var end = lastWord + 1 < starts.Count ? starts[lastWord + 1] : length - 1;
        for (var i = starts[firstWord]; i < end; i++) chosen[i] = true;
    }

    private int RandomToken(Random random)
    {
        int id;
        do id = random.Next(tokenizer.VocabularySize);
        while (id == tokenizer.PadId || id == tokenizer.ClsId || id == tokenizer.SepId || id == tokenizer.MaskId || id == tokenizer.UnknownId);
        return id;
    }

    /// <summary>Rounds up with probability equal to the fraction, so the expected count is exact.</summary>
    public static int StochasticRound(double value, Random random)
    {
        var floor = (int)Math.Floor(value);
        return floor + (random.NextDouble() < value - floor ? 1 : 0);
    }

    /// <summary>k distinct indices of 0..n-1.</summary>
    public static IEnumerable<int> SampleWithoutReplacement(int n, int k, Random random)
    {
        var pool = Enumerable.Range(0, n).ToArray();
        k = Math.Min(k, n);
        for (var i = 0; i < k; i++)
        {
            var j = random.Next(i, n);
            (pool[i], pool[j]) = (pool[j], pool[i]);
            yield return pool[i];
        }
    }
}
