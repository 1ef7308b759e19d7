using InterBert.Text;
using static TorchSharp.torch;

namespace InterBert.Weights;

/// <summary>
/// Gives a pretrained encoder a different vocabulary (for example Chinese characters for an English encoder): the
/// transformer layers, positions and token types are kept; a token found in both vocabularies keeps its embedding
/// row; every other token starts from a random row drawn with the per-dimension mean and spread of the encoder's
/// rows, so the pretrained layers see inputs of the scale they were trained on. With an alignment (a new token → the
/// encoder's token it stands for, <see cref="Text.ParallelCaptionAlignment"/>), an aligned token starts from its
/// English token's row instead.
/// </summary>
public static class VocabularyTransplant
{
    /// <summary>What a transplant kept: tokens of the new vocabulary whose rows came from the encoder (the same token, or the one it is aligned to), of which aligned.</summary>
    public sealed record Result(PretrainedTextEncoder Encoder, int SharedTokens, int NewTokens, int AlignedTokens = 0);

    /// <summary>
    /// A new encoder (its own tensors; dispose both) with <paramref name="vocabulary"/> (a BERT vocab.txt's bytes)
    /// in place of the encoder's; <paramref name="source"/> names the vocabulary in errors and in the result's source.
    /// </summary>
    public static Result Apply(PretrainedTextEncoder encoder, byte[] vocabulary, bool lowerCase, string source, IReadOnlyDictionary<string, string>? alignment = null)
    {
        var words = encoder.Find("embeddings.word_embeddings.weight")
            ?? throw new CheckpointException($"{encoder.Source}: no embeddings.word_embeddings.weight: not a BERT checkpoint");
        var wordsKey = encoder.State.First(p => ReferenceEquals(p.Value, words)).Key;
        var oldTokens = WordPieceTokenizer.Load(new MemoryStream(encoder.Vocabulary), encoder.Source, encoder.LowerCase);
        var newTokens = WordPieceTokenizer.Load(new MemoryStream(vocabulary), source, lowerCase);
        var oldIds = new Dictionary<string, long>(StringComparer.Ordinal);
        for (var id = 0; id < oldTokens.VocabularySize; id++) oldIds.TryAdd(oldTokens.IdToToken(id), id);

        var sourceRows = new List<long>();
        var targetRows = new List<long>();
        var aligned = 0;
        for (var id = 0; id < newTokens.VocabularySize; id++)
        {
            var token = newTokens.IdToToken(id);
            long old;
            if (alignment is not null && alignment.TryGetValue(token, out var englishToken) && oldIds.TryGetValue(englishToken, out old)) aligned++;
            else if (!oldIds.TryGetValue(token, out old)) continue;
            sourceRows.Add(old);
            targetRows.Add(id);
        }

        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            using (no_grad())
            {
                foreach (var (name, value) in encoder.State)
                {
                    if (ReferenceEquals(value, words)) continue;
                    state[name] = value.detach().clone();
                }
                var rows = words.detach().to_type(ScalarType.Float32);
                var mean = rows.mean([0]);
                var spread = rows.std([0]);
                var table = randn(newTokens.VocabularySize, rows.shape[1]).mul_(spread).add_(mean);
                if (sourceRows.Count > 0)
                {
                    using var from = tensor(sourceRows.ToArray());
                    using var to = tensor(targetRows.ToArray());
                    using var kept = rows.index_select(0, from);
                    table.index_copy_(0, to, kept);
                }
                mean.Dispose();
                spread.Dispose();
                rows.Dispose();
                state[wordsKey] = table;
            }
            // The table is mostly new rows: fine-tuning must not treat it as pretrained (no lower learning rate).
            var result = new PretrainedTextEncoder($"{encoder.Source} with the vocabulary {source}", state, vocabulary, lowerCase, encoder.AttentionHeads,
                freshKeys: [ModelCheckpoint.NormalizeKey(wordsKey)]);
            return new Result(result, sourceRows.Count, newTokens.VocabularySize - sourceRows.Count, aligned);
        }
        catch
        {
            foreach (var tensor in state.Values) tensor.Dispose();
            throw;
        }
    }
}
