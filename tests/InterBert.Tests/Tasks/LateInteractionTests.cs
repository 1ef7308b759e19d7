using InterBert.Data;
using InterBert.Modeling;
using InterBert.Tasks;
using InterBert.Tests.Training;
using InterBert.Weights;
using InterBert.Workflows;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace InterBert.Tests.Tasks;

/// <summary>
/// The late interaction (<c>finetune --reranker-lists K --late-interaction N</c>): single-stream layers over the
/// unimodal passes' sequences that score every pair, added to a search model without changing its first stage,
/// trained from sequences computed once that score exactly as search does.
/// </summary>
[Collection("coco features")]
public class LateInteractionTests(CocoFeatures features)
{
    [Fact]
    public void AddedLayersStartAsTheTextStreamsTopAndScoreEachPairFromItsOwnPassesWhateverTheBatchPads()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var plain = new InterBertModel(TestInputs.TinyNoDropout);
        var before = plain.state_dict().ToDictionary(p => p.Key, p => p.Value.clone());
        var textLayers = plain.Config.TextPathLayers;
        using var model = ModelLoading.AddLateInteraction(plain, 1, []);
        Assert.True(model.HasLateInteraction);
        var after = model.state_dict();
        foreach (var (key, value) in before) Assert.True(value.equal(after[key]).all().item<bool>(), $"{key} changed");
        foreach (var (key, value) in after.Where(p => p.Key.StartsWith(LateInteraction.Name + ".layer.0.", StringComparison.Ordinal)))
            Assert.True(value.equal(before[$"encoder.layer.{textLayers - 1}." + key[(LateInteraction.Name + ".layer.0.").Length..]]).all().item<bool>(), key);
        Assert.Throws<InterBertException>(() => ModelLoading.AddLateInteraction(model, 1, []));
        // The modality marks start at zero and the score's weights small; give them values so that a wrong mark (or
        // none) would change the scores below, and a photo's difference shows well above rounding.
        using (no_grad())
        {
            after[LateInteraction.Name + ".modality"].copy_(randn(2, model.Config.HiddenSize) * 0.5);
            after[LateInteraction.Name + ".score.weight"].copy_(randn(1, model.Config.HiddenSize));
        }
        model.eval();

        var text = TestInputs.Text(model.Config, [5, 3, 4], 6, seed: 2);
        var image = TestInputs.Image(model.Config, [4, 2, 3], 5, seed: 2);
        var batch = model.PairScores(text, image, zeroShot: false);
        // Each pair alone, with no padding at all: the same scores (padding is masked on both sides).
        for (var k = 0; k < 3; k++)
        {
            var length = (int)text.AttentionMask[k].sum().item<long>();
            var regions = (int)image.RegionMask[k].sum().item<long>();
            var alone = model.PairScores(new TextBatch(text.InputIds.narrow(0, k, 1).narrow(1, 0, length), text.AttentionMask.narrow(0, k, 1).narrow(1, 0, length)),
                new ImageBatch(image.Features.narrow(0, k, 1).narrow(1, 0, regions), image.Locations.narrow(0, k, 1).narrow(1, 0, regions), image.RegionMask.narrow(0, k, 1).narrow(1, 0, regions)), zeroShot: false);
            Assert.Equal(batch[k].item<float>(), alone[0].item<float>(), 4);
        }
        // More padding holding garbage changes nothing; another photo for the same caption does.
        var padded = model.PairScores(TestInputs.PadText(text, 3, seed: 4), TestInputs.PadImage(image, 4, seed: 4), zeroShot: false);
        Assert.True(allclose(batch, padded, rtol: 1e-4, atol: 1e-5), "padding changed a score");
        var swapped = model.PairScores(text, new ImageBatch(image.Features.roll(1, 0), image.Locations.roll(1, 0), image.RegionMask.roll(1, 0)), zeroShot: false);
        Assert.True((swapped - batch).abs().max().item<float>() > 1e-4, "the score does not read the photo");
        // Not the joint pass's score head: the late interaction gives the pair scores.
        Assert.True((model.Score(model.Forward(text, image)) - batch).abs().max().item<float>() > 1e-4);

        // Held for training, only the late interaction gets a gradient from its score.
        model.train();
        using (RetrievalFineTuning.HoldFirstStage(model))
        {
            model.PairScores(text, image, zeroShot: false).sum().backward();
            foreach (var (name, parameter) in model.named_parameters())
            {
                var trained = name.StartsWith(LateInteraction.Name + ".", StringComparison.Ordinal);
                Assert.Equal(trained, parameter.requires_grad);
                if (!trained) Assert.Null(parameter.grad);
            }
            Assert.True(model.named_parameters().Single(p => p.name == LateInteraction.LayerKey(0, "attention.self.query.weight")).parameter.grad!.abs().sum().item<float>() > 0);
            Assert.True(model.named_parameters().Single(p => p.name == LateInteraction.Name + ".modality").parameter.grad!.abs().sum().item<float>() > 0);
        }
    }

    [Fact]
    public void SequencesComputedOnceScoreAndAddTheCosineExactlyAsSearchDoes()
    {
        using var scope = NewDisposeScope();
        using var store = FeatureStore.Open(features.StorePath);
        var tokenizer = InterBert.Text.WordPieceTokenizer.Load(new MemoryStream(MiniLmOnnxReader.ReadVocabularyBytes()), "vocab");
        var corpus = CaptionCorpus.Load(SharedData.CocoDataset, ["val"], store, tokenizer, 36);
        using var pairs = new PreparedPairs(corpus, store, tokenizer.PadId, store.Manifest.FeatureSize, 36);
        manual_seed(11);
        using var model = ModelLoading.AddLateInteraction(new InterBertModel(TestInputs.TinyNoDropout with { VFeatureSize = store.Manifest.FeatureSize }), 2, []);
        model.train(); // the sequences are those of search, without dropout, whatever mode training left the model in
        using var sequences = UnimodalSequences.Compute(model, pairs);
        Assert.True(model.training);
        model.eval();
        // Captions and photos of different lengths and region counts, in one batch.
        long[] captions = [0, 7, 13, pairs.CaptionCount - 1, 22];
        long[] images = [3, 0, pairs.ImageCount - 1, 5, 1];
        var (text, image) = pairs.Pairs(captions, images);
        var search = model.PairScores(text, image, zeroShot: false);
        var cached = sequences.Scores(model, captions, images);
        Assert.True(allclose(search, cached, rtol: 1e-4, atol: 1e-5), $"{string.Join(",", search.data<float>().ToArray())} against {string.Join(",", cached.data<float>().ToArray())}");
        Assert.True(allclose(RetrievalFineTuning.ScaledCosines(model, pairs, captions, images), sequences.ScaledCosines(model, captions, images), rtol: 1e-4, atol: 1e-5));

        // The two-stage evaluation scores its candidates from such sequences: every re-scored pair as search scores it.
        var evaluation = TwoStageRetrievalEvaluation.Evaluate(model, pairs, candidates: 3, zeroShot: false);
        var scored = Enumerable.Range(0, pairs.CaptionCount).SelectMany(c => Enumerable.Range(0, pairs.ImageCount).Select(i => (Caption: (long)c, Image: (long)i)))
            .Where(p => evaluation.PairScores[p.Caption, p.Image] != 0).Take(40).ToList();
        Assert.Equal(40, scored.Count);
        var (scoredText, scoredImage) = pairs.Pairs(scored.Select(p => p.Caption).ToList(), scored.Select(p => p.Image).ToList());
        var expected = model.PairScores(scoredText, scoredImage, zeroShot: false).data<float>().ToArray();
        for (var k = 0; k < scored.Count; k++) Assert.Equal(expected[k], evaluation.PairScores[scored[k].Caption, scored[k].Image], 4);
    }

    [Fact]
    public void FinetuneAddsItOverABitIdenticalSearchModelEvaluatesWithItAndResumesExactly()
    {
        using var folder = new TempFolder();
        var init = FinetuneResumeTests.WriteInit(features, folder);
        string[] Finetune(string from, string run, params string[] more) =>
        [
            "finetune", "--task", "retrieval", "--dataset", SharedData.CocoDataset, "--features", features.StorePath, "--init", from, "--out", run,
            "--steps", "6", "--batch-size", "8", "--val-split", "none", "--seed", "3", "--lr", "1e-3", "--threads", "2", .. more,
        ];
        var search = folder.File("search");
        var first = CliProcess.Run(Finetune(init, search, "--contrastive-weight", "1"));
        Assert.True(first.ExitCode == 0, first.Error);
        var searchWeights = Path.Combine(search, "last.safetensors");

        var withoutLists = CliProcess.Run(Finetune(searchWeights, folder.File("refused"), "--late-interaction", "1"));
        Assert.Equal(2, withoutLists.ExitCode); // a usage error
        Assert.Contains("--reranker-lists", withoutLists.Error);
        // The late interaction replaces the joint pass's score: untying the joint pass would be silently ignored, so it is refused.
        var untied = CliProcess.Run(Finetune(searchWeights, folder.File("refused-untie"), "--reranker-lists", "5", "--late-interaction", "1", "--untie-extraction"));
        Assert.Equal(2, untied.ExitCode);
        Assert.Contains("nothing to untie", untied.Error);

        var late = folder.File("late");
        string[] arguments = Finetune(searchWeights, late, "--reranker-lists", "5", "--late-interaction", "1", "--residual-score", "--checkpoint-every", "3");
        var trained = CliProcess.Run(arguments);
        Assert.True(trained.ExitCode == 0, trained.Error);
        Assert.Contains("a late interaction of 1 layers", trained.Output);
        Assert.Contains("late-interaction=1", File.ReadAllText(Path.Combine(late, "checkpoints", "step-6", "trainer.json")));
        var lateWeights = Path.Combine(late, "last.safetensors");
        var before = Safetensors.LoadStateDict(searchWeights);
        var after = Safetensors.LoadStateDict(lateWeights);
        foreach (var (key, tensor) in before) Assert.True(tensor.bytes.SequenceEqual(after[key].bytes), $"{key} of the search model changed");
        var added = after.Keys.Where(k => k.StartsWith(LateInteraction.Name + ".", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(added);
        // Started from the text stream's top layer, and trained.
        var top = InterBertConfig.Tiny.TextPathLayers - 1;
        Assert.Contains(added, key => key.StartsWith(LateInteraction.Name + ".layer.0.", StringComparison.Ordinal)
            && !after[key].bytes.SequenceEqual(before[$"encoder.layer.{top}." + key[(LateInteraction.Name + ".layer.0.").Length..]].bytes));
        Assert.Equal("1", ModelCheckpoint.ReadMetadata(lateWeights)[ContrastiveLoss.WeightMetadataKey]);

        // Fine-tuned again without lists, it is refused in one line naming the weights.
        var noLists = CliProcess.Run(Finetune(lateWeights, folder.File("refused2")));
        Assert.Equal(1, noLists.ExitCode);
        Assert.Contains(lateWeights, noLists.Error);
        Assert.DoesNotContain("   at ", noLists.Error);
        // Multiple choice would train the joint pass's score head, which its pair scores no longer read: refused the same way.
        var choice = CliProcess.Run("finetune", "--task", "multiple-choice", "--dataset", PretrainedKeysTests.WriteQuestions(folder), "--features", features.StorePath,
            "--init", lateWeights, "--out", folder.File("choice"), "--epochs", "1", "--batch-size", "2", "--threads", "2");
        Assert.Equal(1, choice.ExitCode);
        Assert.Contains(lateWeights, choice.Error);
        Assert.Contains("late interaction", choice.Error);
        Assert.DoesNotContain("   at ", choice.Error);
        Assert.False(File.Exists(Path.Combine(folder.File("choice"), "last.safetensors")));

        var searchMetrics = RerankerListsTests.EvaluateTwoStage(features, folder, searchWeights, "search.json");
        var lateMetrics = RerankerListsTests.EvaluateTwoStage(features, folder, lateWeights, "late.json");
        Assert.Equal(searchMetrics["unimodal"]!.ToJsonString(), lateMetrics["unimodal"]!.ToJsonString());
        Assert.NotEqual(searchMetrics["score_only"]!.ToJsonString(), lateMetrics["score_only"]!.ToJsonString());

        // Indexed and searched, each hit's score is the model's pair score (the query's text pass run once for all candidates).
        var index = folder.File("index");
        var indexed = CliProcess.Run("index", "--weights", late, "--features", features.StorePath, "--dataset", SharedData.CocoDataset, "--split", "val", "--out", index, "--threads", "2");
        Assert.True(indexed.ExitCode == 0, indexed.Error);
        using (var searcher = InterBert.Search.TwoStageSearcher.Open(index))
        {
            Assert.True(searcher.Model.HasLateInteraction);
            var query = CaptionCorpus.Load(SharedData.CocoDataset, ["val"], searcher.Store, searcher.Tokenizer, searcher.Model.Config.TextLength).WithCaptions([4]);
            using var pairs = new PreparedPairs(query, searcher.Store, searcher.Tokenizer.PadId, searcher.Model.Config.VFeatureSize, searcher.Model.Config.MaxRegionLength);
            var reference = RetrievalScorer.ScoreAll(searcher.Model, pairs, zeroShot: false);
            var hits = searcher.Search(query.Captions[0], top: pairs.ImageCount, candidates: pairs.ImageCount, ranking: SearchRanking.Score);
            Assert.Equal(pairs.ImageCount, hits.Count);
            var scoreOf = Enumerable.Range(0, pairs.ImageCount).ToDictionary(i => query.ImageIds[i], i => reference[0, i]);
            foreach (var hit in hits) Assert.Equal(scoreOf[hit.Id], hit.Score, 3);
        }

        // Killed after its first checkpoint, then resumed: the sequences computed again give the same weights.
        var killed = folder.File("killed");
        string[] again = Finetune(searchWeights, killed, "--reranker-lists", "5", "--late-interaction", "1", "--residual-score", "--checkpoint-every", "3");
        CliProcess.KillOnceWritten(again, Path.Combine(killed, "checkpoints", "step-3", "trainer.json"));
        Assert.False(File.Exists(Path.Combine(killed, "last.safetensors")), "the run finished before it could be killed");
        var resumed = CliProcess.Run([.. again, "--resume"]);
        Assert.True(resumed.ExitCode == 0, resumed.Error);
        var resumedWeights = Safetensors.LoadStateDict(Path.Combine(killed, "last.safetensors"));
        foreach (var (key, tensor) in after) Assert.True(tensor.bytes.SequenceEqual(resumedWeights[key].bytes), $"{key} differs after resume");
    }
}
