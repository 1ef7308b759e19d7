using InterBert.Modeling;
using InterBert.Tests.Text;
using InterBert.Text;
using InterBert.Weights;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using static TorchSharp.torch;

namespace InterBert.Tests.Weights;

public class MiniLmParityTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public void TextPathMatchesOnnxRuntimeOnRealCaptions()
    {
        using var scope = NewDisposeScope();
        using var encoder = MiniLmOnnxReader.Read();
        manual_seed(1);
        var (model, report) = PretrainedInitializer.Create(InterBertConfig.Small, encoder, "preset small");
        using (model)
        {
            model.eval();
            Assert.Empty(report.Unexpected);
            Assert.DoesNotContain(report.Missing, k => InterBertModel.PartOf(k) == "text");

            var tokenizer = WordPieceTokenizer.Load(new MemoryStream(encoder.Vocabulary), "minilm vocab.txt");
            var captions = WordPieceTokenizerTests.ParityCaptions();
            Assert.True(captions.Count >= 20);
            var batch = tokenizer.EncodeBatch(captions, 64);
            TorchSharp.torch.Tensor ours;
            using (no_grad()) ours = model.Forward(batch, null).TextSequence!;

            var rows = (int)batch.InputIds.shape[0];
            var length = (int)batch.InputIds.shape[1];
            var dims = new[] { rows, length };
            var ids = new DenseTensor<long>(batch.InputIds.data<long>().ToArray(), dims);
            var mask = new DenseTensor<long>(batch.AttentionMask.data<long>().ToArray(), dims);
            var types = new DenseTensor<long>(new long[rows * length], dims);
            using var session = new InferenceSession(MiniLmOnnxReader.ReadModelBytes());
            using var results = session.Run([
                NamedOnnxValue.CreateFromTensor("input_ids", ids),
                NamedOnnxValue.CreateFromTensor("attention_mask", mask),
                NamedOnnxValue.CreateFromTensor("token_type_ids", types)]);
            var reference = results.First(r => r.Name == "last_hidden_state").AsTensor<float>();
            var hidden = (int)ours.shape[2];
            Assert.Equal(new[] { rows, length, hidden }, reference.Dimensions.ToArray());

            var values = ours.data<float>().ToArray();
            var masks = batch.AttentionMask.data<long>().ToArray();
            double worst = 0;
            var realTokens = 0;
            for (var r = 0; r < rows; r++)
                for (var t = 0; t < length; t++)
                {
                    if (masks[r * length + t] == 0) continue;
                    realTokens++;
                    for (var h = 0; h < hidden; h++)
                        worst = Math.Max(worst, Math.Abs(values[(r * length + t) * hidden + h] - reference[r, t, h]));
                }
            output.WriteLine($"max absolute difference {worst:E2} over {realTokens} real tokens of {rows} captions");
            Assert.True(realTokens > rows * 8);
            Assert.True(worst <= 1e-4, $"max absolute difference {worst} over {realTokens} real tokens");
        }
    }
}
