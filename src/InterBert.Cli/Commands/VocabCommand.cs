using System.CommandLine;
using InterBert.Data;
using InterBert.Text;

namespace InterBert.Cli.Commands;

/// <summary>The <c>vocab</c> verb: learn a WordPiece vocabulary from a corpus.</summary>
public static class VocabCommand
{
    /// <summary>Creates the verb.</summary>
    public static Command Create()
    {
        var corpus = new Option<string[]>("--corpus") { Description = "corpus files: datasets (captions), TSV (last column) or plain text (a line per text)", Required = true, AllowMultipleArgumentsPerToken = true };
        var size = new Option<int>("--size") { Description = "vocabulary size, special tokens included", DefaultValueFactory = _ => 8000 };
        var output = new Option<string>("--out") { Description = "vocab.txt to write", Required = true };
        var cased = new Option<bool>("--cased") { Description = "keep case and accents (default: uncased, as BERT-base-uncased)" };
        var skipBad = new Option<bool>("--skip-bad") { Description = "skip (and count) bad entries instead of stopping at the first" };
        var build = new Command("build", "Learn a WordPiece vocabulary (BERT vocab.txt format) from a corpus") { corpus, size, output, cased, skipBad };
        build.SetAction(CommandLine.Guarded(parse =>
        {
            var files = parse.GetValue(corpus)!;
            WordPieceVocabularyBuilder.ClaimFile(parse.GetValue(output)!);
            var report = new DatasetReport();
            var texts = files.SelectMany(f => CorpusReader.Read(f, new DatasetReadOptions { SkipBad = parse.GetValue(skipBad), Report = report })).ToList();
            if (texts.Count == 0) throw new InterBertException($"{string.Join(", ", files)}: no text found");
            var vocabulary = WordPieceVocabularyBuilder.Build(texts, parse.GetValue(size), !parse.GetValue(cased));
            WordPieceVocabularyBuilder.Write(vocabulary, parse.GetValue(output)!);
            var tokenizer = WordPieceTokenizer.Load(parse.GetValue(output)!, !parse.GetValue(cased));
            long tokens = 0, unknown = 0;
            foreach (var text in texts)
            {
                var ids = tokenizer.EncodeWithoutSpecialTokens(text);
                tokens += ids.Count;
                unknown += ids.Count(i => i == tokenizer.UnknownId);
            }
            Console.WriteLine($"vocab: {vocabulary.Count} entries from {texts.Count:N0} texts → {parse.GetValue(output)}; the corpus tokenizes into {tokens:N0} tokens, {100.0 * unknown / Math.Max(tokens, 1):F2}% [UNK]" +
                (report.Skipped > 0 ? $"; skipped {report.Skipped} bad entries" : ""));
            foreach (var reason in report.Reasons) Console.WriteLine($"  skipped: {reason}");
            return 0;
        }));
        var vocab = new Command("vocab", "Vocabulary tools") { build };
        return vocab;
    }
}
