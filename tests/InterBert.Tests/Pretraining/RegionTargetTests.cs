using InterBert.Data;
using InterBert.Pretraining;
using InterBert.Text;
using InterBert.Weights;
using static TorchSharp.torch;

namespace InterBert.Tests.Pretraining;

public sealed class RegionTargetTests
{
    [Fact]
    public void PhotosWithoutClassDistributionsAreNotMaskedWhenMrmPredictsClasses()
    {
        // Six photos of six regions; a detector found objects in photos 0-2 (class distributions), none in 3-5 (a grid, no classes).
        using var folder = new TempFolder();
        var manifest = new FeatureStoreManifest { FeatureSize = 8, ClassCount = 4, DType = "float32", Extractor = "test" };
        var random = new Random(3);
        using (var writer = new FeatureStoreWriter(folder.File("store"), manifest))
        {
            for (var p = 0; p < 6; p++)
            {
                const int regions = 6;
                var classes = p < 3 ? Enumerable.Range(0, regions * 4).Select(k => k % 4 == p % 4 ? 1f : 0f).ToArray() : null;
                writer.Add(new ImageRegions($"p{p}", 100, 100, regions,
                    Enumerable.Range(0, regions).SelectMany(r => new float[] { r * 10, r * 10, r * 10 + 30, r * 10 + 30 }).ToArray(),
                    Enumerable.Range(0, regions).SelectMany(r => new float[] { r / 10f, r / 10f, (r + 3) / 10f, (r + 3) / 10f, 0.09f }).ToArray(),
                    Enumerable.Range(0, regions * 8).Select(_ => (float)random.NextDouble()).ToArray(), classes));
            }
        }
        File.WriteAllLines(folder.File("d.jsonl"), Enumerable.Range(0, 6).Select(p => $"{{\"id\": \"p{p}\", \"image\": \"p{p}.jpg\", \"captions\": [\"a photo number {p}\", \"picture {p} of a scene\"]}}"));
        using var store = FeatureStore.Open(folder.File("store"));
        var tokenizer = WordPieceTokenizer.Load(new MemoryStream(MiniLmOnnxReader.ReadVocabularyBytes()), "vocab");
        var corpus = CaptionCorpus.Load(folder.File("d.jsonl"), [], store, tokenizer, 16);
        var options = new PretrainingTaskOptions { NegativeRate = 0 };
        var builder = new PretrainingBatchBuilder(corpus, store, new SegmentMasker(tokenizer), new RegionMasker(), null, options, tokenizer.PadId, regressFeatures: false);
        var maskedByPhoto = new int[6];
        for (var round = 0; round < 20; round++)
        {
            using var scope = NewDisposeScope();
            var batch = builder.Build(Enumerable.Range(0, corpus.Captions.Count).ToList(), new Random(round));
            var masked = batch.RegionMasked.to_type(ScalarType.Int64).sum(1).data<long>().ToArray();
            for (var i = 0; i < masked.Length; i++) maskedByPhoto[corpus.ImageOf[i]] += (int)masked[i];
        }
        Assert.All(maskedByPhoto.Take(3), count => Assert.True(count > 0));
        Assert.All(maskedByPhoto.Skip(3), count => Assert.Equal(0, count));
    }
}
