using InterBert.Data;
using InterBert.Modeling;
using InterBert.Tasks;
using InterBert.Text;
using InterBert.Weights;
using static TorchSharp.torch;

namespace InterBert.Tests.Tasks;

[Collection("coco features")]
public class RetrievalTests(CocoFeatures features)
{
    [Fact]
    public void RecallCountsRanksBothWaysWithDeterministicTies()
    {
        // 3 captions: captions 0 and 1 describe image 0, caption 2 image 1; 3 images.
        var scores = new float[,]
        {
            { 5, 1, 0 },  // caption 0: its image ranks first
            { 2, 2, 9 },  // caption 1: image 2 first, then a tie between 0 and 1; the tie goes to the lower index (0): rank 1
            { 3, 1, 0 },  // caption 2: its image (1) ranks second
        };
        var metrics = RetrievalMetrics.FromScores(scores, [0, 0, 1]);
        Assert.Equal(100.0 / 3, metrics.TextToImage.R1, 6);
        Assert.Equal(100.0, metrics.TextToImage.R5, 6);
        // Image 0: best caption rank 0 (caption 0 scores 5, highest in its column); image 1: caption 2 scores 1, below caption 1's 2: rank 1.
        Assert.Equal(50.0, metrics.ImageToText.R1, 6);
        Assert.Equal((100.0 / 3 + 100 + 100 + 50 + 100 + 100) / 6, metrics.MeanRecall, 6);
    }

    [Fact]
    public void TwoStageRanksCandidatesByScoreBeforeTheRestBySimilarity()
    {
        // Caption 0 (image 0) re-scored images 1 and 2 only: they rank first (2, then 1), its own image third although
        // its cross-modal score (9) is the highest. Caption 1 (image 1) re-scored 0 and 1: image 2's score of 100 is not a candidate's.
        var scores = new float[,] { { 9, 1, 2 }, { 3, 4, 100 } };
        var similarity = new float[,] { { 0.9f, 0.1f, 0.5f }, { 0.2f, 0.3f, 0.1f } };
        var textCandidates = new bool[,] { { false, true, true }, { true, true, false } };
        // Image 0 re-scored caption 1 only, so caption 1 ranks above its own caption 0; image 1 re-scored both (4 > 1).
        var imageCandidates = new bool[,] { { false, true, false }, { true, true, false } };
        var metrics = RetrievalMetrics.FromTwoStage(scores, similarity, textCandidates, imageCandidates, [0, 1]);
        Assert.Equal(50.0, metrics.TextToImage.R1, 6);
        Assert.Equal(100.0, metrics.TextToImage.R5, 6);
        Assert.Equal(50.0, metrics.ImageToText.R1, 6);
        // Exhaustive ranking of the same scores puts each image's own caption first (9 > 3, 4 > 1).
        Assert.Equal(100.0, RetrievalMetrics.FromScores(scores, [0, 1]).ImageToText.R1, 6);
    }

    [Fact]
    public void TwoStageWithEveryImageACandidateRanksAsExhaustiveScoring()
    {
        // The 40 validation photos x 200 captions: exhaustive scoring of the test split's 119 x 595 would take nine times as long.
        var (model, pairs, store) = Setup("val");
        using (model) using (pairs) using (store)
        {
            var exhaustive = RetrievalMetrics.FromScores(RetrievalScorer.ScoreAll(model, pairs, zeroShot: false), pairs.Corpus.ImageOf);
            var all = TwoStageRetrievalEvaluation.Evaluate(model, pairs, pairs.ImageCount, zeroShot: false);
            Assert.Equal((long)pairs.CaptionCount * pairs.ImageCount, all.PairsScored);
            Assert.Equal(pairs.CaptionCount, all.CaptionCandidates);
            Assert.Equal(exhaustive, all.Metrics);
            // Fewer candidates score fewer pairs: each caption's 10 nearest images and each image's 50 nearest of its 5x captions.
            var ten = TwoStageRetrievalEvaluation.Evaluate(model, pairs, 10, zeroShot: false);
            Assert.Equal(10, ten.ImageCandidates);
            Assert.Equal((int)Math.Ceiling(10.0 * pairs.CaptionCount / pairs.ImageCount), ten.CaptionCandidates);
            Assert.True(ten.PairsScored < all.PairsScored / 2, $"{ten.PairsScored} of {all.PairsScored}");
            Assert.Equal(TextToImageRecallAt10(model, pairs), ten.Metrics.TextToImage.R10, 6);
        }
    }

    [Fact]
    public void WordRegionRankingsWithEveryImageACandidateRankAsTheFullMatrix()
    {
        var (model, pairs, store) = Setup("val");
        using (model) using (pairs) using (store)
        {
            var all = TwoStageRetrievalEvaluation.Evaluate(model, pairs, pairs.ImageCount, zeroShot: false, wordRegion: true);
            // Independent reference: every caption against every image in one batch, from the contrastive loss's passes.
            model.eval();
            float[,] matrix;
            using (no_grad())
            {
                var captions = Enumerable.Range(0, pairs.CaptionCount).Select(c => (long)c).ToList();
                var images = Enumerable.Range(0, pairs.ImageCount).Select(i => (long)i).ToList();
                var (_, _, matching) = ContrastiveLoss.Vectors(model, pairs.Captions(captions), pairs.Images(images), wordRegion: true);
                var values = matching!.data<float>().ToArray();
                matrix = new float[pairs.CaptionCount, pairs.ImageCount];
                Buffer.BlockCopy(values, 0, matrix, 0, values.Length * sizeof(float));
            }
            Assert.Equal(RetrievalMetrics.FromScores(matrix, pairs.Corpus.ImageOf), all.WordRegionOnly);
            for (var c = 0; c < pairs.CaptionCount; c += 37)
                for (var i = 0; i < pairs.ImageCount; i += 7)
                    Assert.Equal(matrix[c, i], all.WordRegionScores![c, i], 4);
            // Plus the cosine on the logit scale: the scaled sum of the two, ranked over every pair.
            var scale = ContrastiveLoss.SimilarityScale(model);
            var fused = new float[pairs.CaptionCount, pairs.ImageCount];
            var similarity = TwoStageRetrievalEvaluation.Similarity(model, pairs);
            for (var c = 0; c < pairs.CaptionCount; c++)
                for (var i = 0; i < pairs.ImageCount; i++) fused[c, i] = scale * (all.WordRegionScores![c, i] + similarity[c, i]);
            Assert.Equal(RetrievalMetrics.FromScores(fused, pairs.Corpus.ImageOf), all.WordRegionPlusSimilarity);
            Assert.Null(TwoStageRetrievalEvaluation.Evaluate(model, pairs, 4, zeroShot: false).WordRegionOnly);
        }
    }

    /// <summary>R@10 text→image of the unimodal vectors alone: with K = 10, two-stage R@10 is exactly this (re-scoring only reorders the 10).</summary>
    private static double TextToImageRecallAt10(InterBertModel model, PreparedPairs pairs)
    {
        var similarity = TwoStageRetrievalEvaluation.Similarity(model, pairs);
        var hits = 0;
        for (var c = 0; c < pairs.CaptionCount; c++)
        {
            var truth = pairs.Corpus.ImageOf[c];
            var above = Enumerable.Range(0, pairs.ImageCount).Count(i => similarity[c, i] > similarity[c, truth] || (similarity[c, i] == similarity[c, truth] && i < truth));
            if (above < 10) hits++;
        }
        return 100.0 * hits / pairs.CaptionCount;
    }

    private (InterBertModel Model, PreparedPairs Pairs, FeatureStore Store) Setup(string split, int seed = 1)
    {
        var store = FeatureStore.Open(features.StorePath);
        var tokenizer = WordPieceTokenizer.Load(new MemoryStream(MiniLmOnnxReader.ReadVocabularyBytes()), "vocab");
        manual_seed(seed);
        var model = new InterBertModel(InterBertConfig.Tiny);
        var corpus = CaptionCorpus.Load(SharedData.CocoDataset, [split], store, tokenizer, 36);
        return (model, new PreparedPairs(corpus, store, tokenizer.PadId, 512, 36), store);
    }

    [Fact]
    public void TheResidualScoresOffsetIsTheScaledCosineTheReRankingAddsWithoutGradientOrDropout()
    {
        var (model, pairs, store) = Setup("val");
        using (model) using (pairs) using (store)
        {
            // Repeats and a caption paired with several images, as in a step's pairs.
            long[] captions = [0, 1, 2, 0, 3, 1];
            long[] images = [0, 0, 1, 2, 1, 2];
            model.train();
            using var offsets = RetrievalFineTuning.ScaledCosines(model, pairs, captions, images);
            Assert.True(model.training, "the model is left in training mode");
            Assert.False(offsets.requires_grad, "the cosine is held fixed");
            var values = offsets.data<float>().ToArray();
            // What evaluate --add-similarity adds to each re-scored pair's score, computed by the evaluation's own path.
            model.eval();
            var similarity = TwoStageRetrievalEvaluation.Similarity(model, pairs);
            var scale = ContrastiveLoss.SimilarityScale(model);
            for (var k = 0; k < captions.Length; k++)
            {
                var expected = scale * similarity[captions[k], images[k]];
                Assert.True(Math.Abs(values[k] - expected) < 1e-3 * Math.Max(1, Math.Abs(expected)), $"pair {k}: {values[k]} vs {expected}");
            }
            Assert.True(values.Distinct().Count() > 3, "the pairs' cosines differ");
        }
    }

        [Fact]
    public void FixedContrastiveOthersAreTheSameVectorsButPassNoGradient()
    {
        var (model, pairs, store) = Setup("train");
        using (model) using (pairs) using (store)
        {
            model.eval(); // no dropout: both ways compute the same vectors
            // Four examples, then six others, one of which shares an example's photo.
            var imageOf = pairs.Corpus.ImageOf;
            var examples = Enumerable.Range(0, 4).ToList();
            var sharing = Enumerable.Range(4, pairs.CaptionCount - 4).First(c => imageOf[c] == imageOf[0]);
            var others = Enumerable.Range(4, pairs.CaptionCount - 4).Where(c => !examples.Select(e => imageOf[e]).Contains(imageOf[c])).Take(5).Append(sharing).ToList();
            var captions = examples.Concat(others).ToList();
            var (text, images, layout, _) = RetrievalFineTuning.ContrastiveVectors(model, pairs, captions, examples.Count, fixedOthers: false);
            var (fixedText, fixedImages, fixedLayout, _) = RetrievalFineTuning.ContrastiveVectors(model, pairs, captions, examples.Count, fixedOthers: true);
            Assert.Equal(layout, fixedLayout);
            Assert.True(text.allclose(fixedText, rtol: 1e-4, atol: 1e-5) && images.allclose(fixedImages, rtol: 1e-4, atol: 1e-5), "the same vectors");
            var exampleImages = layout.Take(examples.Count).Max() + 1;
            Assert.True(exampleImages < images.shape[0], "the others bring photos of their own");

            // A loss on the others' vectors alone trains the model through them only when they are not fixed.
            double GradientFrom(Tensor textVectors, Tensor imageVectors)
            {
                model.zero_grad();
                (textVectors.narrow(0, examples.Count, others.Count).sum() + imageVectors.narrow(0, exampleImages, imageVectors.shape[0] - exampleImages).sum()).backward();
                return model.parameters().Where(p => p.grad is not null).Sum(p => p.grad!.abs().sum().item<float>());
            }
            Assert.True(GradientFrom(text, images) > 0);
            Assert.Equal(0, GradientFrom(fixedText, fixedImages));
            // The examples' vectors keep theirs.
            (fixedText, fixedImages, _, _) = RetrievalFineTuning.ContrastiveVectors(model, pairs, captions, examples.Count, fixedOthers: true);
            model.zero_grad();
            (fixedText.narrow(0, 0, examples.Count).sum() + fixedImages.narrow(0, 0, exampleImages).sum()).backward();
            Assert.True(model.parameters().Where(p => p.grad is not null).Sum(p => p.grad!.abs().sum().item<float>()) > 0);
        }
    }

        [Fact]
    public void BatchedScoringEqualsOnePairAtATime()
    {
        var (model, pairs, store) = Setup("val");
        using (model) using (pairs) using (store)
        {
            model.eval();
            var batched = RetrievalScorer.ScoreAll(model, pairs, zeroShot: false, pairsPerBatch: 64);
            using var noGrad = no_grad();
            var random = new Random(4);
            for (var k = 0; k < 40; k++)
            {
                using var scope = NewDisposeScope();
                var c = random.Next(pairs.CaptionCount);
                var i = random.Next(pairs.ImageCount);
                var (text, image) = pairs.Pairs([c], [i]);
                var single = model.PairScores(text, image, zeroShot: false).item<float>();
                Assert.True(Math.Abs(single - batched[c, i]) < 1e-4, $"pair ({c}, {i}): {single} vs {batched[c, i]}");
            }
            var zeroShot = RetrievalScorer.ScoreAll(model, pairs, zeroShot: true, pairsPerBatch: 64);
            Assert.NotEqual(batched[0, 0], zeroShot[0, 0]);
        }
    }

    [Fact]
    public void MiningByTextGivesEachCaptionTheImagesItsOwnTextVectorRanksHighestButItsOwn()
    {
        var (model, pairs, store) = Setup("train");
        using (model) using (pairs) using (store)
        {
            var hard = RetrievalFineTuning.MineTextHardNegatives(model, pairs, 5);
            // The first stage's ranking, computed here from the unimodal cosines of every caption-image pair.
            model.eval();
            var similarity = TwoStageRetrievalEvaluation.Similarity(model, pairs);
            var imageOf = pairs.Corpus.ImageOf;
            var byImage = RetrievalFineTuning.MineHardNegatives(model, pairs, 5);
            var differ = 0;
            for (var c = 0; c < pairs.CaptionCount; c++)
            {
                var expected = Enumerable.Range(0, pairs.ImageCount).Where(i => i != imageOf[c]).OrderByDescending(i => similarity[c, i]).ThenBy(i => i).Take(5).ToArray();
                Assert.Equal(5, hard[c].Length);
                Assert.DoesNotContain(imageOf[c], hard[c]);
                // Ties aside (the cosines are compared at float precision), the same five images in the same order.
                for (var k = 0; k < 5; k++)
                    Assert.True(hard[c][k] == expected[k] || Math.Abs(similarity[c, hard[c][k]] - similarity[c, expected[k]]) < 1e-5, $"caption {c}, rank {k}");
                if (!hard[c].Order().SequenceEqual(byImage[c].Order())) differ++;
            }
            // Captions of one image share their image-mined negatives but not their text-mined ones.
            Assert.True(differ > pairs.CaptionCount / 4, $"{differ} of {pairs.CaptionCount} captions' negatives differ from the image-mined ones");
        }
    }

    [Fact]
    public void FourWayBatchesAndMinedNegativesNeverUseTheTrueImageAsANegative()
    {
        var (model, pairs, store) = Setup("train");
        using (model) using (pairs) using (store)
        {
            var hard = RetrievalFineTuning.MineHardNegatives(model, pairs, 8);
            var imageOf = pairs.Corpus.ImageOf;
            for (var c = 0; c < pairs.CaptionCount; c++)
            {
                Assert.Equal(8, hard[c].Length);
                Assert.DoesNotContain(imageOf[c], hard[c]);
            }
            using var scope = NewDisposeScope();
            var examples = Enumerable.Range(0, 16).ToList();
            var (text, image) = RetrievalFineTuning.FourWayBatch(pairs, examples, hard, new Random(2));
            Assert.Equal(64, text.InputIds.shape[0]);
            Assert.Equal(64, image.Features.shape[0]);
            // The positive pair is the example's caption with its own image's features.
            var (positiveText, positiveImage) = pairs.Pairs([0], [imageOf[0]]);
            Assert.True(text.InputIds[0].narrow(0, 0, positiveText.InputIds.shape[1]).eq(positiveText.InputIds[0]).all().item<bool>());
            Assert.True(image.Features[0].narrow(0, 0, positiveImage.Features.shape[1]).eq(positiveImage.Features[0]).all().item<bool>());
            // The three negatives differ from the positive in text or image.
            for (var k = 1; k < 4; k++)
            {
                var sameText = text.InputIds[k].eq(text.InputIds[0]).all().item<bool>();
                var sameImage = image.Features[k].eq(image.Features[0]).all().item<bool>();
                Assert.False(sameText && sameImage, $"negative {k} equals the positive");
            }
        }
    }

    [Fact]
    public void ExtraNegativesAddDistinctWrongImagesAfterTheFourPairsAndLeaveThemAsTheyWere()
    {
        var (model, pairs, store) = Setup("train");
        using (model) using (pairs) using (store)
        {
            var examples = Enumerable.Range(0, 16).ToList();
            var (fourCaptions, fourImages) = RetrievalFineTuning.FourWayIds(pairs, examples, null, new Random(4));
            var (captions, images) = RetrievalFineTuning.FourWayIds(pairs, examples, null, new Random(4), extraNegatives: 3);
            Assert.Equal(16 * 7, captions.Count);
            var imageOf = pairs.Corpus.ImageOf;
            for (var e = 0; e < 16; e++)
            {
                // The first example's four pairs are drawn as without extras (later ones follow a source the extras advanced).
                if (e == 0)
                {
                    Assert.Equal(fourCaptions.GetRange(0, 4), captions.GetRange(0, 4));
                    Assert.Equal(fourImages.GetRange(0, 4), images.GetRange(0, 4));
                }
                var extras = images.GetRange(7 * e + 4, 3);
                Assert.Equal(3, extras.Distinct().Count());
                Assert.DoesNotContain((long)imageOf[examples[e]], extras);
                Assert.All(captions.GetRange(7 * e + 4, 3), c => Assert.Equal(examples[e], c));
            }
            Assert.Throws<InterBertException>(() => RetrievalFineTuning.FourWayIds(pairs, examples, null, new Random(4), extraNegatives: pairs.ImageCount));
        }
    }

    [Fact]
    public void SplitWithoutImagesAndImagesWithoutFeaturesAreClearErrors()
    {
        using var store = FeatureStore.Open(features.StorePath);
        var tokenizer = WordPieceTokenizer.Load(new MemoryStream(MiniLmOnnxReader.ReadVocabularyBytes()), "vocab");
        var error = Assert.Throws<InterBertException>(() => CaptionCorpus.Load(SharedData.CocoDataset, ["restval"], store, tokenizer, 36));
        Assert.Contains("no images with features in split restval", error.Message);

        using var folder = new TempFolder();
        File.Copy(SharedData.Path("data", "coco-sample", "images", "000000000790.jpg"), folder.File("a.jpg"));
        File.WriteAllText(folder.File("d.jsonl"), "{\"image\": \"a.jpg\", \"caption\": \"a cake\", \"id\": \"not-in-store\"}\n");
        var missing = Assert.Throws<InterBertException>(() => CaptionCorpus.Load(folder.File("d.jsonl"), [], store, tokenizer, 36));
        Assert.Contains("have no features", missing.Message);
        Assert.Contains("not-in-store", missing.Message);
    }

    [Fact]
    public void CheckpointOfAnotherConfigurationIsRefusedByEvaluate()
    {
        using var folder = new TempFolder();
        manual_seed(1);
        using (var model = new InterBertModel(InterBertConfig.Tiny with { VFeatureSize = 2048 }))
        {
            var metadata = ModelVocabulary.WriteBeside(folder.File("wide.safetensors"), MiniLmOnnxReader.ReadVocabularyBytes(), true);
            ModelCheckpoint.Save(model, folder.File("wide.safetensors"), metadata);
        }
        var result = CliProcess.Run("evaluate", "--task", "retrieval", "--dataset", SharedData.CocoDataset, "--split", "val",
            "--features", features.StorePath, "--weights", folder.File("wide.safetensors"));
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: ", result.Error);
        Assert.Contains("2048-d", result.Error);
        Assert.Contains("512-d", result.Error);
    }
}
