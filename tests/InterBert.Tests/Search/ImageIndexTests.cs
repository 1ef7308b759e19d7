using InterBert.Data;
using InterBert.Modeling;
using InterBert.Search;
using InterBert.Tasks;
using InterBert.Weights;
using static TorchSharp.torch;

namespace InterBert.Tests.Search;

[Collection("Search")]
public sealed class ImageIndexTests(SearchFixture fixture)
{
    [Fact]
    public void AnIndexAndItsStoreMovedTogetherStillSearch()
    {
        // The index records its store relative to itself.
        var recorded = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(fixture.IndexFolder, ImageIndex.ManifestFile)))!["features"]!.GetValue<string>();
        Assert.Equal(Path.Combine("..", "features"), recorded);
        using var moved = new TempFolder();
        foreach (var (from, name) in new[] { (fixture.IndexFolder, "index"), (fixture.Features, "features") })
        {
            var to = Directory.CreateDirectory(Path.Combine(moved.Path, name)).FullName;
            foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
        using var searcher = TwoStageSearcher.Open(Path.Combine(moved.Path, "index"));
        Assert.Equal(Path.Combine(moved.Path, "features"), searcher.Store.Folder.TrimEnd(Path.DirectorySeparatorChar));
        using var original = TwoStageSearcher.Open(fixture.IndexFolder);
        Assert.Equal(original.Search("一个红色的圆", 5).Select(h => (h.Id, h.Score)), searcher.Search("一个红色的圆", 5).Select(h => (h.Id, h.Score)));
    }

    [Fact]
    public void StoredVectorsAreTheModelsImageVectorsAndBothSearchesRankByCosine()
    {
        using var searcher = TwoStageSearcher.Open(fixture.IndexFolder);
        var index = Assert.IsType<ImageIndex>(searcher.Index);
        Assert.Equal(24, index.Manifest.Count);
        Assert.True(index.Manifest.Contrastive);
        Assert.Equal("score-head", index.Manifest.Score);
        // Recompute each indexed image's vector one at a time (no batch padding) and compare with the stored one.
        using (var scope = NewDisposeScope())
        {
            for (var p = 0; p < index.Manifest.Count; p += 5)
            {
                var regions = RegionCollator.Collate([searcher.Store.Read(index.Images[p].Id)], searcher.Store.Manifest.FeatureSize, searcher.Model.Config.MaxRegionLength);
                var expected = UnimodalEmbedding.Image(searcher.Model, regions).data<float>().ToArray();
                var stored = index.Vector(p).ToArray();
                Assert.Equal(expected.Length, stored.Length);
                for (var d = 0; d < expected.Length; d++) Assert.Equal(expected[d], stored[d], 4);
            }
        }
        var query = searcher.QueryVector(searcher.Tokens("一个蓝色的正方形"));
        var bruteForce = Enumerable.Range(0, index.Manifest.Count)
            .Select(p => (Position: p, Cosine: index.Vector(p).ToArray().Zip(query, (a, b) => (double)a * b).Sum()))
            .OrderByDescending(x => x.Cosine).ThenBy(x => x.Position).ToList();
        var exact = index.Nearest(query, 10, SearchMode.Exact);
        Assert.Equal(bruteForce.Take(10).Select(x => x.Position), exact.Select(x => x.Position));
        Assert.Equal(bruteForce[0].Cosine, exact[0].Similarity, 4);
        var approximate = index.Nearest(query, 10, SearchMode.Approximate);
        Assert.Equal(exact.Select(x => x.Position).Order(), approximate.Select(x => x.Position).Order());
        Assert.Equal(exact[0].Similarity, approximate[0].Similarity, 3);
    }

    [Fact]
    public void WithEveryImageAsACandidateTwoStageRanksExactlyAsExhaustiveScoring()
    {
        using var searcher = TwoStageSearcher.Open(fixture.IndexFolder);
        var maxTokens = searcher.Model.Config.TextLength;
        var corpus = CaptionCorpus.Load(fixture.Dataset, ["test"], searcher.Store, searcher.Tokenizer, maxTokens);
        var query = corpus.WithCaptions([7]);
        var hits = searcher.Search(query.Captions[0], top: 24, candidates: 24, ranking: InterBert.Tasks.SearchRanking.Score);
        Assert.Equal(24, hits.Count);
        Assert.Equal(24, hits.Select(h => h.Id).Distinct().Count());
        // Independent reference: the evaluation's batched scorer over (the query x every test image).
        using var pairs = new PreparedPairs(query, searcher.Store, searcher.Tokenizer.PadId, searcher.Model.Config.VFeatureSize, searcher.Model.Config.MaxRegionLength);
        var scores = RetrievalScorer.ScoreAll(searcher.Model, pairs, zeroShot: false);
        var reference = Enumerable.Range(0, pairs.ImageCount).ToDictionary(i => query.ImageIds[i], i => scores[0, i]);
        foreach (var hit in hits) Assert.Equal(reference[hit.Id], hit.Score, 3);
        for (var k = 1; k < hits.Count; k++) Assert.True(hits[k - 1].Score >= hits[k].Score);

        // BLIP-2's re-ranking: the same scores plus the first-stage cosine times the contrastive inverse temperature.
        var scale = Math.Min(100, Math.Exp(searcher.Model.LogitScale.item<float>()));
        var blended = searcher.Search(query.Captions[0], top: 24, candidates: 24, ranking: InterBert.Tasks.SearchRanking.ScoreAndSimilarity);
        Assert.Equal(hits.Select(h => h.Id).Order(), blended.Select(h => h.Id).Order());
        foreach (var hit in blended) Assert.Equal(reference[hit.Id] + scale * hit.FirstStageSimilarity, hit.Score, 3);
        for (var k = 1; k < blended.Count; k++) Assert.True(blended[k - 1].Score >= blended[k].Score);

        // Word-region matching: each hit's score is the evaluation's word-region score of the pair plus its cosine, both
        // on the same scale; with the cross-modal score on top in the ranking of all three.
        var allPairs = Enumerable.Range(0, pairs.ImageCount).Select(i => (0, i)).ToList();
        var matching = TokenRegionScores.Of(searcher.Model, pairs, allPairs);
        var matchingOf = Enumerable.Range(0, pairs.ImageCount).ToDictionary(i => query.ImageIds[i], i => matching[0, i]);
        var byWords = searcher.Search(query.Captions[0], top: 24, candidates: 24, ranking: SearchRanking.WordRegionAndSimilarity);
        Assert.Equal(hits.Select(h => h.Id).Order(), byWords.Select(h => h.Id).Order());
        foreach (var hit in byWords) Assert.Equal(scale * (matchingOf[hit.Id] + hit.FirstStageSimilarity), hit.Score, 3);
        for (var k = 1; k < byWords.Count; k++) Assert.True(byWords[k - 1].Score >= byWords[k].Score);
        var allThree = searcher.Search(query.Captions[0], top: 24, candidates: 24, ranking: SearchRanking.ScoreWordRegionAndSimilarity);
        foreach (var hit in allThree) Assert.Equal(reference[hit.Id] + scale * (matchingOf[hit.Id] + hit.FirstStageSimilarity), hit.Score, 3);
    }

    [Fact]
    public void Bf16SearchScoresFollowFp32s()
    {
        using var exact = TwoStageSearcher.Open(fixture.IndexFolder);
        using var mixed = TwoStageSearcher.Open(fixture.IndexFolder, precision: Precision.Bf16);
        Assert.Equal(Precision.Bf16, mixed.Model.Precision);
        var maxTokens = exact.Model.Config.TextLength;
        var corpus = CaptionCorpus.Load(fixture.Dataset, ["test"], exact.Store, exact.Tokenizer, maxTokens);
        foreach (var caption in new[] { 3, 7, 11 })
        {
            var query = corpus.Captions[caption];
            var reference = exact.Search(query, top: 24, candidates: 24).ToDictionary(h => h.Id, h => h.Score);
            // Twice: the second query reuses the bf16 weights the model thread's autocast region cached.
            for (var repeat = 0; repeat < 2; repeat++)
            {
                var hits = mixed.Search(query, top: 24, candidates: 24);
                Assert.Equal(reference.Keys.Order(), hits.Select(h => h.Id).Order());
                var scale = reference.Values.Max(Math.Abs);
                var differences = hits.Select(h => Math.Abs(h.Score - reference[h.Id])).ToList();
                Assert.True(differences.Max() < 0.05 * scale, $"bf16 scores differ by up to {differences.Max()} at scale {scale}");
                Assert.True(differences.Max() > 0, "bf16 scores equal fp32's exactly: the re-ranking did not run in bf16");
            }
        }
    }

    [Fact]
    public void AnIndexRefusesAnotherModel()
    {
        var error = Assert.Throws<InterBertException>(() => TwoStageSearcher.Open(fixture.IndexFolder, fixture.OtherWeights));
        Assert.Contains("built with the model", error.Message);
        Assert.Contains(fixture.OtherWeights, error.Message);
        var (code, output, stderr) = CliProcess.Run("search", "--index", fixture.IndexFolder, "--weights", fixture.OtherWeights, "红色");
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Empty(output.Trim());
    }

    [Fact]
    public void AnInterruptedBuildContinuesAndEndsEqualToAnUninterruptedOne()
    {
        using var folder = new TempFolder();
        using var store = FeatureStore.Open(fixture.Features);
        using var model = ModelCheckpoint.Load(fixture.SearchWeights);
        var images = store.Ids.Order(StringComparer.Ordinal).Take(20).Select(id => new IndexedImage(id, null)).ToList();
        var full = ImageIndex.Build(model, fixture.SearchWeights, store, images, folder.File("full"), imagesPerBatch: 5);
        Assert.False(full.Cancelled);

        using var cancel = new CancellationTokenSource();
        var target = folder.File("resumed");
        var first = ImageIndex.Build(model, fixture.SearchWeights, store, images, target, null, new InterBert.Training.SynchronousProgress<(int Done, int Total)>(_ => cancel.Cancel()), cancel.Token, imagesPerBatch: 5);
        Assert.True(first.Cancelled);
        Assert.Contains("not finished", Assert.Throws<InterBertException>(() => ImageIndex.Open(target)).Message);
        var second = ImageIndex.Build(model, fixture.SearchWeights, store, images, target, imagesPerBatch: 5);
        Assert.False(second.Cancelled);
        Assert.Equal(5, second.Resumed);
        Assert.False(Directory.Exists(target + ".partial"));
        Assert.Equal(File.ReadAllBytes(Path.Combine(folder.File("full"), "vectors.f32")), File.ReadAllBytes(Path.Combine(target, "vectors.f32")));
        using var index = ImageIndex.Open(target);
        Assert.Equal(20, index.Manifest.Count);
    }

    [Fact]
    public void BadIndexFilesGiveErrorsNamingThem()
    {
        using var folder = new TempFolder();
        Assert.Contains("not an image index", Assert.Throws<InterBertException>(() => ImageIndex.Open(folder.Path)).Message);
        var copy = folder.File("copy");
        Directory.CreateDirectory(copy);
        foreach (var file in Directory.GetFiles(fixture.IndexFolder)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        var vectors = Path.Combine(copy, "vectors.f32");
        File.WriteAllBytes(vectors, File.ReadAllBytes(vectors)[..100]);
        var error = Assert.Throws<InterBertException>(() => ImageIndex.Open(copy)).Message;
        Assert.Contains(vectors, error);
        File.WriteAllText(Path.Combine(copy, ImageIndex.ManifestFile), "{ not json");
        Assert.Contains("corrupt index description", Assert.Throws<InterBertException>(() => ImageIndex.Open(copy)).Message);
    }
}
