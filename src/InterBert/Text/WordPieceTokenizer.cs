using System.Text;
using InterBert.Modeling;
using Microsoft.ML.Tokenizers;
using static TorchSharp.torch;

namespace InterBert.Text;

/// <summary>
/// BERT's WordPiece tokenization: BERT's basic tokenization (<see cref="BertBasicNormalizer"/>) then
/// Microsoft.ML.Tokenizers' WordPiece. Uncased English with accents stripped, or cased; CJK characters one
/// token each; <c>[CLS] tokens [SEP]</c> with truncation.
/// </summary>
public sealed class WordPieceTokenizer
{
    private readonly Microsoft.ML.Tokenizers.WordPieceTokenizer tokenizer;
    private readonly string[] idToToken;

    private WordPieceTokenizer(Microsoft.ML.Tokenizers.WordPieceTokenizer tokenizer, string[] idToToken, bool lowerCase, string source)
    {
        this.tokenizer = tokenizer;
        this.idToToken = idToToken;
        LowerCase = lowerCase;
        Source = source;
    }

    /// <summary>Whether text is lower-cased and stripped of accents (BERT "uncased").</summary>
    public bool LowerCase { get; }

    /// <summary>Where the vocabulary came from (a file path, or a description).</summary>
    public string Source { get; }

    /// <summary>Number of entries in the vocabulary.</summary>
    public int VocabularySize => idToToken.Length;

    /// <summary>Id of <c>[CLS]</c>.</summary>
    public int ClsId { get; private init; }
    /// <summary>Id of <c>[SEP]</c>.</summary>
    public int SepId { get; private init; }
    /// <summary>Id of <c>[PAD]</c>.</summary>
    public int PadId { get; private init; }
    /// <summary>Id of <c>[MASK]</c>.</summary>
    public int MaskId { get; private init; }
    /// <summary>Id of <c>[UNK]</c>.</summary>
    public int UnknownId { get; private init; }

    /// <summary>Loads a BERT <c>vocab.txt</c> (one token per line, the line number is the id).</summary>
    public static WordPieceTokenizer Load(string vocabularyPath, bool lowerCase = true)
    {
        if (!File.Exists(vocabularyPath)) throw new InterBertException($"{vocabularyPath}: vocabulary file not found");
        using var stream = File.OpenRead(vocabularyPath);
        return Load(stream, vocabularyPath, lowerCase);
    }

    /// <summary>Loads a BERT vocabulary from a stream; <paramref name="source"/> names it in errors.</summary>
    public static WordPieceTokenizer Load(Stream stream, string source, bool lowerCase = true)
    {
        var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        var lines = Encoding.UTF8.GetString(bytes.ToArray()).Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        if (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        foreach (var special in new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" })
            if (!lines.Contains(special)) throw new InterBertException($"{source}: not a BERT vocabulary (no {special} line)");
        bytes.Position = 0;
        var options = new WordPieceOptions
        {
            Normalizer = new BertBasicNormalizer(lowerCase),
            PreTokenizer = PreTokenizer.CreateWhiteSpace(),
            UnknownToken = "[UNK]",
        };
        Microsoft.ML.Tokenizers.WordPieceTokenizer tokenizer;
        try
        {
            tokenizer = Microsoft.ML.Tokenizers.WordPieceTokenizer.Create(bytes, options);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException)
        {
            throw new InterBertException($"{source}: cannot read the vocabulary ({e.Message})");
        }
        return new WordPieceTokenizer(tokenizer, lines.ToArray(), lowerCase, source)
        {
            UnknownId = lines.IndexOf("[UNK]"), ClsId = lines.IndexOf("[CLS]"), SepId = lines.IndexOf("[SEP]"),
            PadId = lines.IndexOf("[PAD]"), MaskId = lines.IndexOf("[MASK]"),
        };
    }

    /// <summary>
    /// Token ids of <c>[CLS] text [SEP]</c>, at most <paramref name="maxLength"/> in all (the text's tokens are cut
    /// at the end, as BERT truncates). Tabs, newlines and other whitespace separate words.
    /// </summary>
    public int[] Encode(string text, int maxLength = 512)
    {
        if (maxLength < 2) throw new ArgumentException($"maxLength {maxLength} leaves no room for [CLS] and [SEP]");
        var pieces = EncodeWithoutSpecialTokens(text);
        var kept = Math.Min(pieces.Count, maxLength - 2);
        var ids = new int[kept + 2];
        ids[0] = ClsId;
        for (var i = 0; i < kept; i++) ids[i + 1] = pieces[i];
        ids[^1] = SepId;
        return ids;
    }

    /// <summary>The WordPiece ids of a text with no special tokens and no truncation.</summary>
    public IReadOnlyList<int> EncodeWithoutSpecialTokens(string text) =>
        tokenizer.EncodeToIds(text);

    /// <summary>The tokens (strings) of ids.</summary>
    public IReadOnlyList<string> ToTokens(IEnumerable<int> ids) => ids.Select(IdToToken).ToList();

    /// <summary>The token string of an id.</summary>
    public string IdToToken(int id) => id >= 0 && id < idToToken.Length ? idToToken[id] : throw new ArgumentOutOfRangeException(nameof(id), $"token id {id} is outside the vocabulary of {idToToken.Length}");

    /// <summary>Whether a token continues the previous word (starts with <c>##</c>).</summary>
    public bool IsContinuation(int id) => IdToToken(id).StartsWith("##", StringComparison.Ordinal);

    /// <summary>Encodes texts into a padded batch: ids and mask [B, longest] (int64).</summary>
    public TextBatch EncodeBatch(IReadOnlyList<string> texts, int maxLength)
    {
        var encoded = texts.Select(t => Encode(t, maxLength)).ToList();
        return Collate(encoded, PadId);
    }

    /// <summary>Pads id sequences into a <see cref="TextBatch"/> (ids padded with <paramref name="padId"/>, mask 0 there).</summary>
    public static TextBatch Collate(IReadOnlyList<int[]> sequences, int padId)
    {
        var longest = sequences.Count == 0 ? 0 : sequences.Max(s => s.Length);
        var ids = new long[sequences.Count * longest];
        var mask = new long[sequences.Count * longest];
        for (var row = 0; row < sequences.Count; row++)
        {
            for (var i = 0; i < longest; i++)
            {
                var real = i < sequences[row].Length;
                ids[row * longest + i] = real ? sequences[row][i] : padId;
                mask[row * longest + i] = real ? 1 : 0;
            }
        }
        return new TextBatch(tensor(ids, [sequences.Count, longest]), tensor(mask, [sequences.Count, longest]));
    }
}
