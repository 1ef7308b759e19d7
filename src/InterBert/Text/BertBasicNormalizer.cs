using System.Globalization;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace InterBert.Text;

/// <summary>
/// BERT's basic tokenization as a normaliser: removes control characters, turns whitespace into spaces,
/// optionally lower-cases and strips accents, and puts spaces around punctuation and CJK characters so a
/// whitespace pre-tokenizer yields BERT's words. (The library's own BERT normaliser drops symbol characters
/// such as <c>$</c>, <c>+</c> or <c>€</c>, which BERT keeps.)
/// </summary>
public sealed class BertBasicNormalizer(bool lowerCase) : Normalizer
{
    /// <inheritdoc/>
    public override string Normalize(string original) => Normalize(original.AsSpan());

    /// <inheritdoc/>
    public override string Normalize(ReadOnlySpan<char> original)
    {
        var text = original.ToString();
        if (lowerCase) text = StripAccents(text.ToLowerInvariant());
        var builder = new StringBuilder(text.Length + 16);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                var codePoint = char.ConvertToUtf32(c, text[i + 1]);
                var separate = IsCjk(codePoint);
                if (separate) builder.Append(' ');
                builder.Append(c).Append(text[i + 1]);
                if (separate) builder.Append(' ');
                i++;
                continue;
            }
            if (c == '\0' || c == '\uFFFD') continue;
            if (char.IsWhiteSpace(c)) { builder.Append(' '); continue; }
            if (char.IsControl(c) || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.Format) continue;
            if (IsPunctuation(c) || IsCjk(c)) builder.Append(' ').Append(c).Append(' ');
            else builder.Append(c);
        }
        return builder.ToString();
    }

    /// <summary>BERT's punctuation: every non-alphanumeric ASCII printable character, and Unicode punctuation.</summary>
    public static bool IsPunctuation(char c) =>
        c is >= '!' and <= '/' or >= ':' and <= '@' or >= '[' and <= '`' or >= '{' and <= '~'
        || char.IsPunctuation(c);

    /// <summary>BERT's CJK ideograph ranges (not Hiragana, Katakana or Hangul).</summary>
    public static bool IsCjk(int codePoint) =>
        codePoint is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF
            or >= 0x2A700 and <= 0x2B73F or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF
            or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;

    private static string StripAccents(string text)
    {
        var decomposed = text.Normalize(NormalizationForm.FormD);
        var builder = new StringBuilder(decomposed.Length);
        foreach (var c in decomposed)
            if (CharUnicodeInfo.GetUnicodeCategory(c) != UnicodeCategory.NonSpacingMark) builder.Append(c);
        return builder.ToString();
    }
}
