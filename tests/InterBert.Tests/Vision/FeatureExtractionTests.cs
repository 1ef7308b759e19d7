using InterBert.Data;
using InterBert.Vision;
using SkiaSharp;

namespace InterBert.Tests.Vision;

[Collection("feature extraction")]
public class FeatureExtractionTests
{
    private static readonly Lazy<ResNetFeatureExtractor> Network = new(() => new ResNetFeatureExtractor());

    [Fact]
    public void CocoSampleIsStoredWithGivenBoxesElseDetectorRegions()
    {
        using var folder = new TempFolder();
        var images = DatasetReader.Read(SharedData.CocoDataset).Select(i => (i.Id, i.Location)).ToList();
        var boxes = RegionBoxFile.Read(SharedData.Path("data", "coco-sample", "objects.jsonl"));
        using var detector = new YoloxDetector(SharedData.Path("models", "yolox-nano", "yolox_nano.onnx"));
        var extractor = new RegionFeatureExtractor(Network.Value, detector, new ImageDecoder());
        var result = FeatureExtractionJob.Run(images, extractor, boxes, folder.Path, float16: true, skipBad: false);
        Assert.Equal(239, result.Stored);

        using var store = FeatureStore.Open(folder.Path);
        Assert.Equal(239, store.Count);
        var withBoxes = 0;
        foreach (var (id, _) in images)
        {
            var regions = store.Read(id);
            Assert.Equal([0f, 0f, regions.Width, regions.Height], regions.Boxes[..4]); // whole image first
            Assert.Equal(512, regions.FeatureSize);
            Assert.NotNull(regions.Classes); // one-hot from labels, or the detector's distributions
            Assert.InRange(regions.RegionCount, 2, 36);
            if (boxes.TryGetValue(id, out var given))
            {
                withBoxes++;
                Assert.Equal(Math.Min(given.Count + 1, 36), regions.RegionCount);
                var stored = Enumerable.Range(1, regions.RegionCount - 1).Select(r => regions.Boxes[(r * 4)..(r * 4 + 4)]).ToList();
                Assert.Contains(stored, b => given.Any(g => Math.Abs(g.X1 - b[0]) < 1e-3 && Math.Abs(g.Y2 - b[3]) < 1e-3));
                Assert.Equal(1f, regions.Classes![80..160].Max()); // one-hot
            }
        }
        Assert.Equal(159, withBoxes);

        // A second run reuses everything.
        var again = FeatureExtractionJob.Run(images, extractor, boxes, folder.Path, float16: true, skipBad: false);
        Assert.Equal((0, 239), (again.Stored, again.AlreadyStored));
    }

    public static TheoryData<string, string> BadImages => new()
    {
        { "truncated.jpg", "corrupt or truncated" },
        { "empty.jpg", "empty file" },
        { "text.jpg", "not a decodable image" },
        { "huge.png", "exceeds the limit" },
    };

    private static void WriteBadImage(string path)
    {
        var good = File.ReadAllBytes(SharedData.Path("data", "coco-sample", "images", "000000000790.jpg"));
        switch (Path.GetFileName(path))
        {
            case "truncated.jpg": File.WriteAllBytes(path, good[..(good.Length / 3)]); break;
            case "empty.jpg": File.WriteAllBytes(path, []); break;
            case "text.jpg": File.WriteAllText(path, "this is a text file, not a picture"); break;
            case "huge.png":
                // A valid PNG (signature, IHDR claiming 30,000 x 30,000 pixels, a little image data, IEND): a decompression bomb's header.
                using (var stream = File.Create(path))
                {
                    stream.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
                    WriteChunk(stream, "IHDR", [0, 0, 0x75, 0x30, 0, 0, 0x75, 0x30, 8, 2, 0, 0, 0]);
                    var compressed = new MemoryStream();
                    using (var z = new System.IO.Compression.ZLibStream(compressed, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true)) z.Write(new byte[4096]);
                    WriteChunk(stream, "IDAT", compressed.ToArray());
                    WriteChunk(stream, "IEND", []);
                }
                break;
        }
    }

    private static void WriteChunk(Stream stream, string type, byte[] data)
    {
        stream.Write([(byte)(data.Length >> 24), (byte)(data.Length >> 16), (byte)(data.Length >> 8), (byte)data.Length]);
        var typed = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        stream.Write(typed);
        var crc = Crc32(typed);
        stream.Write([(byte)(crc >> 24), (byte)(crc >> 16), (byte)(crc >> 8), (byte)crc]);
    }

    /// <summary>PNG's CRC-32 (polynomial 0xEDB88320), for a hand-written chunk.</summary>
    private static uint Crc32(byte[] data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }

    [Theory]
    [MemberData(nameof(BadImages))]
    public void BadImageIsAClearErrorOrSkippedAndStoredWorkIsKept(string fileName, string reason)
    {
        using var folder = new TempFolder();
        var imagesFolder = Directory.CreateDirectory(folder.File("images")).FullName;
        File.Copy(SharedData.Path("data", "coco-sample", "images", "000000000790.jpg"), Path.Combine(imagesFolder, "a-good.jpg"));
        var bad = Path.Combine(imagesFolder, fileName);
        WriteBadImage(bad);
        var extractor = new RegionFeatureExtractor(Network.Value, null, new ImageDecoder());
        var store = folder.File("store");
        var images = FeatureExtractionJob.ImagesInFolder(imagesFolder);

        var error = Assert.Throws<InterBertException>(() => FeatureExtractionJob.Run(images, extractor, null, store, false, skipBad: false, shardSize: 1));
        Assert.Contains(bad, error.Message);
        Assert.Contains(reason, error.Message);
        Assert.DoesNotContain('\n', error.Message);
        // The good image before it was stored and stays intact; the store says where its regions came from (a grid alone).
        using (var partial = FeatureStore.Open(store))
        {
            Assert.Equal(["a-good"], partial.Ids);
            Assert.Contains("regions: the whole image, then a 3x3 grid;", partial.Manifest.Extractor);
        }
        var shardBytes = File.ReadAllBytes(Path.Combine(store, "shard-00000.bin"));

        var result = FeatureExtractionJob.Run(images, extractor, null, store, false, skipBad: true, shardSize: 1);
        Assert.Equal((0, 1, 1), (result.Stored, result.AlreadyStored, result.Skipped));
        Assert.Contains(reason, result.SkipReasons[0]);
        Assert.Equal(shardBytes, File.ReadAllBytes(Path.Combine(store, "shard-00000.bin")));
    }

    [Fact]
    public void ParallelImagesStoreExactlyWhatOneAtATimeStores()
    {
        using var folder = new TempFolder();
        var images = DatasetReader.Read(SharedData.CocoDataset).Select(i => (i.Id, i.Location)).Take(7).ToList();
        var detectorPath = SharedData.Path("models", "yolox-nano", "yolox_nano.onnx");
        using var detector = new YoloxDetector(detectorPath);
        var single = new RegionFeatureExtractor(Network.Value, detector, new ImageDecoder());
        FeatureExtractionJob.Run(images, single, null, folder.File("single"), float16: false, skipBad: false);

        // Three workers over seven images: two full rounds and a last one of a single image.
        using var parallel = RegionFeatureExtractor.Open(detectorPath, 36, threads: 3, parallelImages: true);
        Assert.Equal(3, parallel.Workers.Count);
        Assert.Equal(3, parallel.Workers.Distinct().Count());
        var result = FeatureExtractionJob.Run(images, parallel, null, folder.File("parallel"), float16: false, skipBad: false);
        Assert.Equal(7, result.Stored);
        using (var store = FeatureStore.Open(folder.File("parallel"))) Assert.Equal(images.Select(i => i.Id), store.Ids);
        foreach (var file in new[] { "shard-00000.bin", "shard-00000.index.json" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(folder.File("single"), file)), File.ReadAllBytes(Path.Combine(folder.File("parallel"), file)));

        // Without parallel images (a search by photo extracts one photo): one copy of the networks, not one per thread.
        using var oneAtATime = RegionFeatureExtractor.Open(detectorPath, 36, threads: 3);
        Assert.Single(oneAtATime.Workers);
    }

    [Fact]
    public void GridAlwaysPutsTheCellsAfterTheDetectorBoxesAndNewPhotosGetThemToo()
    {
        using var folder = new TempFolder();
        var images = DatasetReader.Read(SharedData.CocoDataset).Select(i => (i.Id, i.Location)).Take(5).ToList();
        var detectorPath = SharedData.Path("models", "yolox-nano", "yolox_nano.onnx");
        using var detector = new YoloxDetector(detectorPath);
        var plain = new RegionFeatureExtractor(Network.Value, detector, new ImageDecoder());
        var gridded = new RegionFeatureExtractor(Network.Value, detector, new ImageDecoder()) { GridAlways = true };
        FeatureExtractionJob.Run(images, plain, null, folder.File("plain"), float16: false, skipBad: false);
        FeatureExtractionJob.Run(images, gridded, null, folder.File("grid"), float16: false, skipBad: false);

        using (var plainStore = FeatureStore.Open(folder.File("plain")))
        using (var gridStore = FeatureStore.Open(folder.File("grid")))
        {
            Assert.True(gridStore.Manifest.Regions!.GridAlways);
            Assert.False(plainStore.Manifest.Regions!.GridAlways);
            var detectedSomewhere = false;
            foreach (var (id, _) in images)
            {
                var without = plainStore.Read(id);
                var with = gridStore.Read(id);
                var detected = without.Classes is null ? 0 : without.RegionCount - 1; // no classes: nothing detected, the grid stood in
                detectedSomewhere |= detected > 0;
                Assert.Equal(1 + detected + 9, with.RegionCount);
                // The whole image and the detector's boxes come first, exactly as without the grid.
                var shared = (1 + detected) * without.FeatureSize;
                Assert.Equal(without.Boxes[..((1 + detected) * 4)], with.Boxes[..((1 + detected) * 4)]);
                Assert.Equal(without.Features[..shared], with.Features[..shared]);
                // Then the 3 x 3 cells, row by row.
                for (var cell = 0; cell < 9; cell++)
                {
                    var (x, y) = (cell % 3, cell / 3);
                    var box = with.Boxes[((1 + detected + cell) * 4)..((2 + detected + cell) * 4)];
                    Assert.Equal([x * with.Width / 3f, y * with.Height / 3f, (x + 1) * with.Width / 3f, (y + 1) * with.Height / 3f], box);
                }
                if (detected == 0) { Assert.Null(with.Classes); continue; }
                // The boxes keep their class distributions; a cell's row is zero (no target for masked region modeling).
                Assert.Equal(without.Classes, with.Classes![..((1 + detected) * 80)]);
                Assert.All(with.Classes[((1 + detected) * 80)..], v => Assert.Equal(0f, v));
            }
            Assert.True(detectedSomewhere);
        }

        // A store is extended only the way it was made.
        var error = Assert.Throws<InterBertException>(() => FeatureExtractionJob.Run(
            DatasetReader.Read(SharedData.CocoDataset).Select(i => (i.Id, i.Location)).Skip(5).Take(1).ToList(), plain, null, folder.File("grid"), float16: false, skipBad: false));
        Assert.Contains("--grid-always", error.Message);

        // A new photo searched against a model whose store had the grid gets the grid as well.
        using var photos = new InterBert.Search.PhotoRegions(new ImagePreprocessing { Regions = new RegionSource { GridAlways = true, Detector = detectorPath } }, folder.Path);
        var photo = photos.Extract(File.ReadAllBytes(images[0].Location.Path), "photo.jpg");
        using var reference = FeatureStore.Open(folder.File("grid"));
        Assert.Equal(reference.Read(images[0].Id).Boxes, photo.Boxes);

        // Indexing a store made otherwise than the model's training photos is noted, the matching one is not.
        var model = Directory.CreateDirectory(folder.File("model")).FullName;
        new ImagePreprocessing { Regions = reference.Manifest.Regions! }.WriteTo(model);
        Assert.Null(InterBert.Workflows.IndexJob.RegionsNote(new InterBert.Workflows.IndexJobOptions { Weights = model, Features = folder.File("grid") }));
        Assert.Contains("features --grid-always", InterBert.Workflows.IndexJob.RegionsNote(new InterBert.Workflows.IndexJobOptions { Weights = model, Features = folder.File("plain") }));
    }

    [Fact]
    public void ALargerInputSizeGivesFinerMapsAndStoresKeepTheirSize()
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var folder = new TempFolder();
        Assert.Contains("multiple of 32", Assert.Throws<InterBertException>(() => new ResNetFeatureExtractor(size: 300)).Message);

        // At 448 the graph, freed of its 224-pixel shapes, gives a 14 x 14 map; the converted network (its own execution of
        // the same graph, in TorchSharp) computes the same map from the same pixels.
        using var large = new ResNetFeatureExtractor(size: 448);
        using var image = new ImageDecoder().Decode(SharedData.Path("data", "coco-sample", "images", "000000000790.jpg"));
        var pixels = image.ToPlanar(448, 448, 448, 448, bgr: false);
        var map = large.FeatureMap(pixels);
        Assert.Equal([512L, 14, 14], map.shape);
        using (var network = TrainableResNet18.FromPackagedGraphs())
        using (TorchSharp.torch.no_grad())
        {
            network.eval();
            var converted = network.call(TorchSharp.torch.tensor(pixels, [1, 3, 448, 448])).squeeze(0);
            Assert.True(converted.sub(map).abs().max().item<float>() <= 1e-3f * map.abs().max().item<float>());
        }
        // Not the 224 map in disguise: upsampled, that one differs from it by far more than rounding.
        var small = Network.Value.FeatureMap(image);
        var upsampled = TorchSharp.torch.nn.functional.interpolate(small.unsqueeze(0), [14, 14], mode: TorchSharp.torch.InterpolationMode.Bilinear).squeeze(0);
        Assert.True(upsampled.sub(map).abs().mean().item<float>() > 0.1f * map.abs().mean().item<float>());

        // A store records the size; the whole-image region is the 448 map's average; it is extended only at its size.
        var images = DatasetReader.Read(SharedData.CocoDataset).Select(i => (i.Id, i.Location)).Take(3).ToList();
        using (var extractor = RegionFeatureExtractor.Open(null, 36, threads: 1, inputSize: 448))
            FeatureExtractionJob.Run(images, extractor, null, folder.File("448"), float16: false, skipBad: false);
        using (var store = FeatureStore.Open(folder.File("448")))
        {
            Assert.Equal(448, store.Manifest.Regions!.InputSize);
            Assert.Contains("448x448", store.Manifest.Extractor);
            var first = store.Read(images[0].Id);
            using var decoded = new ImageDecoder().Decode(images[0].Location.Path);
            var average = large.FeatureMap(decoded).mean([1, 2]).data<float>().ToArray();
            Assert.True(average.Zip(first.Features[..512]).Max(p => Math.Abs(p.First - p.Second)) <= 1e-3f * average.Max(Math.Abs));
        }
        using (var plain = RegionFeatureExtractor.Open(null, 36, threads: 1))
        {
            var refused = Assert.Throws<InterBertException>(() => FeatureExtractionJob.Run(
                DatasetReader.Read(SharedData.CocoDataset).Select(i => (i.Id, i.Location)).Skip(3).Take(1).ToList(), plain, null, folder.File("448"), float16: false, skipBad: false));
            Assert.Contains("--input-size", refused.Message);
        }

        // A photo searched against a model whose store was extracted at 448 is extracted at 448.
        using var reference = FeatureStore.Open(folder.File("448"));
        using var photos = new InterBert.Search.PhotoRegions(new ImagePreprocessing { Regions = reference.Manifest.Regions! }, folder.Path);
        Assert.Equal(reference.Read(images[0].Id).Features, photos.Extract(File.ReadAllBytes(images[0].Location.Path), "photo.jpg").Features);

        // Indexing a 448 store with a model trained at 224 is noted.
        var model = Directory.CreateDirectory(folder.File("model")).FullName;
        new ImagePreprocessing { Regions = reference.Manifest.Regions! with { InputSize = 0 } }.WriteTo(model);
        Assert.Contains("--input-size 224", InterBert.Workflows.IndexJob.RegionsNote(new InterBert.Workflows.IndexJobOptions { Weights = model, Features = folder.File("448") }));
    }

    [Fact]
    public void ParallelImagesStopAtTheBadImageInInputOrderOrSkipIt()
    {
        using var folder = new TempFolder();
        var imagesFolder = Directory.CreateDirectory(folder.File("images")).FullName;
        var good = SharedData.Path("data", "coco-sample", "images", "000000000790.jpg");
        foreach (var name in new[] { "a-good.jpg", "c-good.jpg", "d-good.jpg" }) File.Copy(good, Path.Combine(imagesFolder, name));
        var bad = Path.Combine(imagesFolder, "b-truncated.jpg");
        File.WriteAllBytes(bad, File.ReadAllBytes(good)[..1000]);
        using var extractor = RegionFeatureExtractor.Open(null, 36, threads: 2, parallelImages: true);
        var images = FeatureExtractionJob.ImagesInFolder(imagesFolder);
        var store = folder.File("store");

        // The bad image shares its round with a good one before it: that one is stored, nothing after the bad one is.
        var error = Assert.Throws<InterBertException>(() => FeatureExtractionJob.Run(images, extractor, null, store, false, skipBad: false, shardSize: 1));
        Assert.Contains(bad, error.Message);
        using (var partial = FeatureStore.Open(store)) Assert.Equal(["a-good"], partial.Ids);

        var result = FeatureExtractionJob.Run(images, extractor, null, store, false, skipBad: true, shardSize: 1);
        Assert.Equal((2, 1, 1), (result.Stored, result.AlreadyStored, result.Skipped));
        using (var complete = FeatureStore.Open(store)) Assert.Equal(["a-good", "c-good", "d-good"], complete.Ids);
    }

    [Fact]
    public void ExifOrientationAndGrayscaleAreHandled()
    {
        using var folder = new TempFolder();
        // A grayscale PNG, 40 x 20.
        using (var gray = new SKBitmap(new SKImageInfo(40, 20, SKColorType.Gray8)))
        {
            gray.Erase(new SKColor(128, 128, 128));
            using var data = gray.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(folder.File("gray.png"), data.ToArray());
        }
        using var image = new ImageDecoder().Decode(folder.File("gray.png"));
        Assert.Equal((40, 20), (image.Width, image.Height));
        var planar = image.ToPlanar(2, 2, 2, 2, bgr: false);
        Assert.All(planar, v => Assert.InRange(v, 120, 136));

        // A JPEG whose EXIF orientation is 6 (rotate 90° clockwise): stored 40 x 20, shown 20 x 40.
        using var wide = new SKBitmap(new SKImageInfo(40, 20, SKColorType.Rgba8888));
        wide.Erase(SKColors.Blue);
        using (var canvas = new SKCanvas(wide)) canvas.DrawRect(0, 0, 10, 20, new SKPaint { Color = SKColors.Red });
        using var jpeg = wide.Encode(SKEncodedImageFormat.Jpeg, 95);
        var bytes = jpeg.ToArray();
        // Insert an APP1 Exif segment (big-endian TIFF, one IFD entry: Orientation = 6) after SOI.
        byte[] exif = [0xFF, 0xE1, 0, 34, (byte)'E', (byte)'x', (byte)'i', (byte)'f', 0, 0, (byte)'M', (byte)'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0];
        var rotated = bytes[..2].Concat(exif).Concat(bytes[2..]).ToArray();
        using var upright = new ImageDecoder().Decode(rotated, "rotated.jpg");
        Assert.Equal((20, 40), (upright.Width, upright.Height));
        // The red strip (left edge when stored) is at the top after a 90° clockwise turn.
        var top = upright.Bitmap.GetPixel(10, 2);
        var bottom = upright.Bitmap.GetPixel(10, 37);
        Assert.True(top.Red > 200 && top.Blue < 80, $"top pixel {top}");
        Assert.True(bottom.Blue > 200 && bottom.Red < 80, $"bottom pixel {bottom}");
    }

    [Fact]
    public void BoxesWithCategoriesOfTheirOwnGetClassesOfTheirOwn()
    {
        using var folder = new TempFolder();
        var path = folder.File("objects.jsonl");
        File.WriteAllLines(path,
        [
            """{"image_id": "a", "bbox": [0, 0, 10, 10], "category": "small red circle"}""",
            """{"image_id": "a", "bbox": [5, 5, 10, 10], "category": "dog"}""",
            """{"image_id": "b", "bbox": [1, 1, 4, 4], "category": "large blue star"}""",
            """{"image_id": "b", "bbox": [2, 2, 4, 4]}""",
        ]);
        var boxes = RegionBoxFile.Read(path);
        // Not all COCO names: the file's own categories, in ordinal order, each box one-hot over them.
        Assert.Equal(["dog", "large blue star", "small red circle"], RegionBoxFile.ClassNames(boxes));
        Assert.Equal([0f, 0f, 1f], boxes["a"][0].ClassDistribution!);
        Assert.Equal([1f, 0f, 0f], boxes["a"][1].ClassDistribution!);
        Assert.Equal([0f, 1f, 0f], boxes["b"][0].ClassDistribution!);
        Assert.Null(boxes["b"][1].ClassDistribution);
        // COCO's names keep the 80 COCO classes.
        var coco = RegionBoxFile.Read(SharedData.Path("data", "coco-sample", "objects.jsonl"));
        Assert.Same(CocoCategories.Names, RegionBoxFile.ClassNames(coco));
        Assert.All(coco.Values.SelectMany(b => b), b => Assert.Equal(80, b.ClassDistribution!.Length));
    }
}
