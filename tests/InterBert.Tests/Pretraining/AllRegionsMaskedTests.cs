using InterBert.Modeling;
using InterBert.Pretraining;
using static TorchSharp.torch;

namespace InterBert.Tests.Pretraining;

/// <summary>The grounding variant of masked region modeling: a share of true pairs with every region hidden, boxes kept.</summary>
public sealed class AllRegionsMaskedTests
{
    [Fact]
    public void AShareOfTruePairsHasEveryRegionHiddenWithItsBoxKeptAndWithoutItTheBatchesAreUnchanged()
    {
        using var folder = new TempFolder();
        var (store, corpus) = PretrainingVariantTests.Fixture(folder);
        using var _ = store;
        var captions = Enumerable.Range(0, corpus.Captions.Count).ToList();
        int fullyMasked = 0, partlyMasked = 0, matched = 0;
        var grounding = PretrainingVariantTests.Builder(store, corpus, new PretrainingTaskOptions { AllRegionsMaskedRate = 0.5 });
        for (var round = 0; round < 40; round++)
        {
            using var scope = NewDisposeScope();
            var batch = grounding.Build(captions, new Random(round));
            var masked = batch.RegionMasked.to_type(ScalarType.Int64).sum(1).data<long>().ToArray();
            var labels = batch.MatchLabels.data<long>().ToArray();
            var real = batch.Image.RegionMask.to_type(ScalarType.Int64).sum(1).data<long>().ToArray();
            for (var i = 0; i < masked.Length; i++)
            {
                if (labels[i] != InterBertModel.MatchedIndex)
                {
                    Assert.Equal(0, masked[i]); // a wrong pair is never masked
                    continue;
                }
                matched++;
                if (masked[i] == real[i])
                {
                    fullyMasked++;
                    // Hidden: every feature zero; kept: every box, as the unmasked store gives it.
                    Assert.Equal(0f, batch.Image.Features[i].abs().max().item<float>());
                    var stored = store.Read(corpus.ImageIds[corpus.ImageOf[captions[i]]]);
                    Assert.Equal(stored.Locations, batch.Image.Locations[i, ..(int)real[i]].to_type(ScalarType.Float32).data<float>().ToArray());
                }
                else if (masked[i] > 0) partlyMasked++;
            }
        }
        // About half of the true pairs hidden whole (the paper's masking alone almost never hides all six regions).
        Assert.InRange((double)fullyMasked / matched, 0.4, 0.6);
        Assert.True(partlyMasked > 0, "the other true pairs keep the paper's masking");

        // Off (the default), batches are bit for bit those of options that never had the setting.
        var plain = PretrainingVariantTests.Builder(store, corpus, new PretrainingTaskOptions());
        var off = PretrainingVariantTests.Builder(store, corpus, new PretrainingTaskOptions { AllRegionsMaskedRate = 0 });
        using var plainBatch = NewDisposeScope();
        var a = plain.Build(captions, new Random(7));
        var b = off.Build(captions, new Random(7));
        Assert.Equal(a.RegionMasked.data<bool>().ToArray(), b.RegionMasked.data<bool>().ToArray());
        Assert.Equal(a.Text.InputIds.data<long>().ToArray(), b.Text.InputIds.data<long>().ToArray());
        // ... and the grounding variant draws its own masks (the same seed gives other regions hidden).
        var c = grounding.Build(captions, new Random(7));
        Assert.NotEqual(a.RegionMasked.data<bool>().ToArray(), c.RegionMasked.data<bool>().ToArray());
    }
}
