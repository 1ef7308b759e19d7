using InterBert.Data;
using InterBert.Pretraining;
using InterBert.Text;
using InterBert.Vision;
using InterBert.Weights;

namespace InterBert.Tests.Pretraining;

[Collection("coco features")]
public class MaskingTests(CocoFeatures features)
{
    private static readonly Lazy<WordPieceTokenizer> Tokenizer = new(() =>
        WordPieceTokenizer.Load(new MemoryStream(MiniLmOnnxReader.ReadVocabularyBytes()), "minilm vocab.txt"));

    [Fact]
    public void SegmentMaskingFollowsThePaperOverRealCaptions()
    {
        var tokenizer = Tokenizer.Value;
        var masker = new SegmentMasker(tokenizer);
        var random = new Random(1);
        long words = 0, anchors = 0, masked = 0, asMask = 0, unchanged = 0;
        var lengths = new long[3];
        foreach (var caption in SharedData.CocoCaptions())
        {
            var ids = tokenizer.Encode(caption, 64);
            var starts = masker.WordStarts(ids);
            words += starts.Count;
            var segments = masker.ChooseSegments(starts.Count, new Random(random.Next()));
            anchors += segments.Count;
            foreach (var (_, extra) in segments) lengths[extra]++;
            Assert.Equal(segments.Count, segments.Select(s => s.Anchor).Distinct().Count());

            var (corrupted, labels) = masker.Mask(ids, new Random(random.Next()));
            Assert.Equal(SegmentMasker.Ignore, labels[0]); // never [CLS] or [SEP]
            Assert.Equal(SegmentMasker.Ignore, labels[^1]);
            for (var i = 1; i < ids.Length - 1; i++)
            {
                if (labels[i] == SegmentMasker.Ignore)
                {
                    Assert.Equal(ids[i], corrupted[i]);
                    continue;
                }
                Assert.Equal(ids[i], labels[i]);
                masked++;
                if (corrupted[i] == tokenizer.MaskId) asMask++;
                else if (corrupted[i] == ids[i]) unchanged++;
                // A word is masked whole: a masked continuation's word start is masked too, and so is its next continuation.
                if (tokenizer.IsContinuation(ids[i])) Assert.NotEqual(SegmentMasker.Ignore, labels[i - 1]);
                if (i + 1 < ids.Length - 1 && tokenizer.IsContinuation(ids[i + 1])) Assert.NotEqual(SegmentMasker.Ignore, labels[i + 1]);
            }
        }
        var anchorRate = (double)anchors / words;
        Assert.InRange(anchorRate, 0.09, 0.11);
        foreach (var count in lengths) Assert.InRange((double)count / anchors, 0.28, 0.39); // segments of 1, 2, 3 words equally often
        Assert.InRange((double)asMask / masked, 0.77, 0.83);
        Assert.InRange((double)unchanged / masked, 0.07, 0.13 + 1.0 / tokenizer.VocabularySize);
        // Segments average 2 words, so about 20% of words are masked (less where segments overlap or hit the end).
        Assert.InRange((double)masked / words, 0.14, 0.22);
    }

    [Fact]
    public void ReferenceAndBertModesMaskAsDocumented()
    {
        var tokenizer = Tokenizer.Value;
        var reference = new SegmentMasker(tokenizer, SegmentMaskingMode.ReferenceSpan);
        var bert = new SegmentMasker(tokenizer, SegmentMaskingMode.BertTokens);
        var random = new Random(2);
        long tokens = 0, bertMasked = 0;
        foreach (var caption in SharedData.CocoCaptions().Take(500))
        {
            var ids = tokenizer.Encode(caption, 64);
            Assert.Single(reference.ChooseSegments(reference.WordStarts(ids).Count, random));
            var (_, labels) = bert.Mask(ids, random);
            tokens += ids.Length - 2;
            bertMasked += labels.Count(l => l != SegmentMasker.Ignore);
        }
        Assert.InRange((double)bertMasked / tokens, 0.13, 0.17);
    }

    [Fact]
    public void TheWholeImageRegionIsMaskedWithAnyRegionInsideItByDefault()
    {
        // Region 0 is the whole image; regions 1 and 2 are small objects in it (IoU with the image 0.04, far below 0.4).
        var regions = new ImageRegions("x", 100, 100, 3, [0, 0, 100, 100, 10, 10, 30, 30, 60, 60, 80, 80], new float[15], new float[3 * 4], null);
        var visible = new RegionMasker { WholeImageRegion = WholeImageRegionMasking.Visible };
        Assert.Equal([false, true, false], visible.Mask(regions, 3, [1])); // the masked object's content stays visible in region 0
        var byDefault = new RegionMasker { WholeImageRegion = new PretrainingTaskOptions().WholeImageRegion };
        Assert.Equal([true, true, false], byDefault.Mask(regions, 3, [1]));
        Assert.Equal([false, false, false], byDefault.Mask(regions, 3, []));
        // A store whose region 0 is not the whole image (features from another tool) keeps it as any other region.
        var noWholeImage = regions with { Boxes = [0, 0, 50, 50, 10, 10, 30, 30, 60, 60, 80, 80] };
        Assert.Equal([false, false, true], byDefault.Mask(noWholeImage, 3, [2]));
    }

    [Fact]
    public void PretrainingBatchesHideTheWholeImageWheneverARegionIsMasked()
    {
        using var store = FeatureStore.Open(features.StorePath);
        var tokenizer = Tokenizer.Value;
        var corpus = CaptionCorpus.Load(SharedData.CocoDataset, ["train", "test"], store, tokenizer, 40);
        var options = new PretrainingTaskOptions { NegativeRate = 0, WholeImageRegion = WholeImageRegionMasking.Masked };
        var builder = new PretrainingBatchBuilder(corpus, store, new SegmentMasker(tokenizer), new RegionMasker { WholeImageRegion = options.WholeImageRegion }, null, options, tokenizer.PadId, regressFeatures: false);
        var batch = builder.Build(Enumerable.Range(0, Math.Min(32, corpus.Captions.Count)).ToList(), new Random(4));
        var masked = batch.RegionMasked.to_type(TorchSharp.torch.ScalarType.Bool);
        var anyMasked = masked.any(1).data<bool>().ToArray();
        var wholeImageMasked = masked[TorchSharp.torch.TensorIndex.Colon, 0].data<bool>().ToArray();
        Assert.Equal(anyMasked, wholeImageMasked);
        Assert.Contains(true, anyMasked);
        // What the model is shown of region 0 on those pairs is zeros.
        var shown = batch.Image.Features[TorchSharp.torch.TensorIndex.Colon, 0].abs().sum(1).data<float>().ToArray();
        for (var i = 0; i < anyMasked.Length; i++) if (anyMasked[i]) Assert.Equal(0f, shown[i]);
    }

    [Fact]
    public void WrongPairsHideRegionsAlikeWithoutTargetsWhenAsked()
    {
        using var store = FeatureStore.Open(features.StorePath);
        var (corpus, captions) = FirstCaptions(store);
        // Per pair: whether it is matched, which regions the model is shown as zeros, which carry a region target.
        List<(bool Matched, bool[] Hidden, bool[] Scored)> Pairs(bool maskMismatched, int seed)
        {
            var batch = BuildBatch(corpus, store, captions, new PretrainingTaskOptions { NegativeRate = 0.5, MaskMismatchedRegions = maskMismatched }, seed);
            var regions = (int)batch.RegionMasked.shape[1];
            var scored = batch.RegionMasked.to_type(TorchSharp.torch.ScalarType.Bool).data<bool>().ToArray();
            var shown = batch.Image.Features.abs().sum(2).data<float>().ToArray();
            var matched = batch.MatchLabels.data<long>().Select(l => l == InterBert.Modeling.InterBertModel.MatchedIndex).ToArray();
            return captions.Select((c, i) =>
            {
                var stored = store.Read(corpus.ImageIds[corpus.ImageOf[c]]);
                var count = Math.Min(stored.RegionCount, regions);
                // Regions whose stored features are not all zero, so that a hidden one shows as zeros.
                var visible = Enumerable.Range(0, count).Where(r => stored.Features.AsSpan(r * stored.FeatureSize, stored.FeatureSize).ToArray().Any(v => v != 0)).ToList();
                return (matched[i], visible.Select(r => shown[i * regions + r] == 0).ToArray(), visible.Select(r => scored[i * regions + r]).ToArray());
            }).ToList();
        }
        static double ShareWithHidden(IEnumerable<(bool Matched, bool[] Hidden, bool[] Scored)> pairs) => pairs.Average(p => p.Hidden.Any(h => h) ? 1.0 : 0.0);

        var asked = Enumerable.Range(0, 12).SelectMany(seed => Pairs(maskMismatched: true, seed)).ToList();
        var paper = Enumerable.Range(0, 12).SelectMany(seed => Pairs(maskMismatched: false, seed)).ToList();
        // The paper's: only matched pairs show hidden regions, so a hidden region tells a matched pair.
        Assert.All(paper.Where(p => !p.Matched), p => Assert.DoesNotContain(true, p.Hidden));
        Assert.True(ShareWithHidden(paper.Where(p => p.Matched)) > 0.3);
        // Asked: a wrong pair hides regions as often as a matched one, and none of its regions is a target.
        var (matchedShare, wrongShare) = (ShareWithHidden(asked.Where(p => p.Matched)), ShareWithHidden(asked.Where(p => !p.Matched)));
        Assert.True(Math.Abs(matchedShare - wrongShare) < 0.15, $"pairs with a hidden region: matched {matchedShare:P0}, wrong {wrongShare:P0}");
        Assert.All(asked.Where(p => !p.Matched), p => Assert.DoesNotContain(true, p.Scored));
        // A matched pair's targets are exactly its hidden regions.
        Assert.All(asked.Where(p => p.Matched), p => Assert.Equal(p.Hidden, p.Scored));
    }

    // The COCO sample's captions, and the first 32 of them.
    private static (CaptionCorpus Corpus, List<int> Captions) FirstCaptions(FeatureStore store)
    {
        var corpus = CaptionCorpus.Load(SharedData.CocoDataset, ["train", "test"], store, Tokenizer.Value, 40);
        return (corpus, Enumerable.Range(0, Math.Min(32, corpus.Captions.Count)).ToList());
    }

    private static PretrainingBatch BuildBatch(CaptionCorpus corpus, FeatureStore store, List<int> captions, PretrainingTaskOptions options, int seed) =>
        new PretrainingBatchBuilder(corpus, store, new SegmentMasker(Tokenizer.Value), new RegionMasker(), null, options, Tokenizer.Value.PadId, regressFeatures: false)
            .Build(captions, new Random(seed));

    [Fact]
    public void CaptionsAreReadWholeWhenMaskedSegmentModelingIsOff()
    {
        using var store = FeatureStore.Open(features.StorePath);
        var tokenizer = Tokenizer.Value;
        var (corpus, captions) = FirstCaptions(store);
        (long[] Ids, long[] Labels) Batch(double segmentWeight)
        {
            var batch = BuildBatch(corpus, store, captions, new PretrainingTaskOptions { NegativeRate = 0, SegmentWeight = segmentWeight, AllRegionsMaskedRate = 1 }, 4);
            return (batch.Text.InputIds.data<long>().ToArray(), batch.SegmentLabels.data<long>().ToArray());
        }
        var collated = WordPieceTokenizer.Collate(captions.Select(c => corpus.Tokens[c]).ToList(), tokenizer.PadId).InputIds.data<long>().ToArray();
        var (offIds, offLabels) = Batch(0);
        Assert.Equal(collated, offIds);
        Assert.All(offLabels, label => Assert.Equal(SegmentMasker.Ignore, label));
        // With the task on, the same captions lose words to [MASK] and carry their labels.
        var (onIds, onLabels) = Batch(1);
        Assert.Contains(tokenizer.MaskId, onIds.Select(i => (int)i));
        Assert.Contains(onLabels, label => label != SegmentMasker.Ignore);
    }

    [Fact]
    public void ConditionalMaskingLeavesTheCaptionWholeWhereEveryRegionIsMasked()
    {
        using var store = FeatureStore.Open(features.StorePath);
        var (corpus, captions) = FirstCaptions(store);
        // Per pair: whether every one of its regions is masked, and whether its caption lost a word.
        List<(bool AllRegions, bool CaptionMasked)> Pairs(bool conditional)
        {
            var batch = BuildBatch(corpus, store, captions, new PretrainingTaskOptions { NegativeRate = 0, AllRegionsMaskedRate = 0.5, ConditionalMasking = conditional }, 7);
            var masked = batch.RegionMasked.to_type(TorchSharp.torch.ScalarType.Bool);
            var regions = (int)masked.shape[1];
            var flags = masked.data<bool>().ToArray();
            var labels = batch.SegmentLabels.data<long>().ToArray();
            var width = (int)batch.SegmentLabels.shape[1];
            return captions.Select((c, i) =>
            {
                var count = Math.Min(store.Read(corpus.ImageIds[corpus.ImageOf[c]]).RegionCount, regions);
                var all = Enumerable.Range(0, count).All(r => flags[i * regions + r]);
                return (all, Enumerable.Range(0, width).Any(t => labels[i * width + t] != SegmentMasker.Ignore));
            }).ToList();
        }
        var conditional = Pairs(conditional: true);
        Assert.Contains(conditional, p => p.AllRegions);
        Assert.Contains(conditional, p => !p.AllRegions && p.CaptionMasked);
        Assert.DoesNotContain(conditional, p => p.AllRegions && p.CaptionMasked);
        // Without it the same share of pairs has every region masked and their captions are masked as any other.
        Assert.Contains(Pairs(conditional: false), p => p.AllRegions && p.CaptionMasked);
    }

    [Fact]
    public void EveryRegionOverlappingAMaskedAnchorIsMasked()
    {
        using var store = FeatureStore.Open(features.StorePath);
        var masker = new RegionMasker { WholeImageRegion = WholeImageRegionMasking.Visible };
        var random = new Random(3);
        long regions = 0, anchors = 0, overlapsChecked = 0;
        for (var round = 0; round < 20; round++)
        {
            foreach (var id in store.Ids)
            {
                var record = store.Read(id);
                var count = record.RegionCount;
                var boxes = Enumerable.Range(0, count).Select(r => new RegionBox(record.Boxes[r * 4], record.Boxes[r * 4 + 1], record.Boxes[r * 4 + 2], record.Boxes[r * 4 + 3])).ToArray();
                var chosen = masker.ChooseAnchors(count, random);
                var masked = masker.Mask(record, count, chosen);
                regions += count;
                anchors += chosen.Count;
                for (var r = 0; r < count; r++)
                {
                    var overlapsAnchor = chosen.Any(a => boxes[a].IoU(boxes[r]) > 0.4f);
                    if (overlapsAnchor) overlapsChecked++;
                    Assert.Equal(chosen.Contains(r) || overlapsAnchor, masked[r]);
                }
            }
        }
        Assert.InRange((double)anchors / regions, 0.14, 0.16);
        Assert.True(overlapsChecked > anchors, "the sample has overlapping regions to check");
    }

    [Fact]
    public void HardNegativesAreSimilarCaptionsOfOtherImagesBelowTheCeiling()
    {
        var images = DatasetReader.Read(SharedData.CocoDataset).ToList();
        var captions = images.SelectMany(i => i.Captions).ToList();
        var imageOf = images.SelectMany((image, index) => image.Captions.Select(_ => index)).ToList();
        using var cache = new TempFolder();
        var table = CaptionNeighbours.LoadOrBuild(captions, imageOf, cache.Path);
        var withNeighbours = 0;
        for (var i = 0; i < captions.Count; i++)
        {
            var neighbours = table.Of(i);
            Assert.True(neighbours.Count <= 30);
            if (neighbours.Count > 0) withNeighbours++;
            double previous = 1;
            foreach (var j in neighbours)
            {
                Assert.NotEqual(imageOf[i], imageOf[j]);
                var similarity = table.Similarity(i, j);
                Assert.InRange(similarity, 1e-9, 0.5 - 1e-12);
                Assert.True(similarity <= previous + 1e-12);
                previous = similarity;
            }
        }
        Assert.True(withNeighbours > captions.Count * 0.9);
        // The cache gives the same table.
        Assert.Single(Directory.GetFiles(cache.Path));
        var cached = CaptionNeighbours.LoadOrBuild(captions, imageOf, cache.Path);
        Assert.All(Enumerable.Range(0, captions.Count), i => Assert.Equal(table.Of(i), cached.Of(i)));
    }
}
