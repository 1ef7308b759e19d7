using System.Text.Json.Nodes;
using InterBert.Vision;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace InterBert.Tests.Vision;

public class VisionModelTests(ITestOutputHelper output)
{
    [Fact]
    public void WholeImageFeatureEqualsThePackagedGraphsOutput()
    {
        using var scope = NewDisposeScope();
        using var image = new ImageDecoder().Decode(SharedData.Path("data", "coco-sample", "images", "000000000790.jpg"));
        var pixels = image.ToPlanar(224, 224, 224, 224, bgr: false);

        // The packaged graphs, unmodified, run by ONNX Runtime on the same pixels.
        using var extractor = new ResNetFeatureExtractor();
        using var prep = new InferenceSession(extractor.PreprocessPath);
        using var net = new InferenceSession(extractor.NetworkPath);
        using var prepared = prep.Run([NamedOnnxValue.CreateFromTensor("OriginalInput", new DenseTensor<float>(pixels, [1, 3, 224, 224]))]);
        using var pooled = net.Run([NamedOnnxValue.CreateFromTensor("Input247", prepared.First().AsTensor<float>())]);
        var reference = pooled.First().AsTensor<float>().ToArray();
        Assert.Equal(512, reference.Length);

        var map = extractor.FeatureMap(pixels);
        Assert.Equal([512L, 7, 7], map.shape);
        var whole = map.mean([1, 2]).data<float>().ToArray();
        var worst = whole.Zip(reference).Max(p => Math.Abs(p.First - p.Second));
        output.WriteLine($"whole-image feature vs packaged graphs: max abs difference {worst:E2}");
        Assert.True(worst <= 1e-4, $"max abs difference {worst}");

        var box = ResNetFeatureExtractor.PoolRegions(map, [RegionBox.WholeImage(640, 422)], 640, 422).data<float>().ToArray();
        var relative = box.Zip(reference).Sum(p => Math.Abs(p.First - p.Second)) / reference.Sum(Math.Abs);
        output.WriteLine($"whole-image box by RoI align: relative difference {relative:E2}");
        Assert.True(relative <= 1e-3, $"relative difference {relative}");

        // A region is not the whole image: a corner box pools something else.
        var corner = ResNetFeatureExtractor.PoolRegions(map, [new RegionBox(0, 0, 200, 150)], 640, 422).data<float>().ToArray();
        Assert.True(corner.Zip(reference).Sum(p => Math.Abs(p.First - p.Second)) / reference.Sum(Math.Abs) > 0.05);
    }

    [Fact]
    public void DetectorFindsAnnotatedObjectsInMostImages()
    {
        var boxes = new Dictionary<long, List<RegionBox>>();
        foreach (var line in File.ReadLines(SharedData.Path("data", "coco-sample", "objects.jsonl")))
        {
            var o = JsonNode.Parse(line)!;
            var b = o["bbox"]!.AsArray().Select(v => v!.GetValue<float>()).ToArray();
            var id = o["image_id"]!.GetValue<long>();
            (boxes.TryGetValue(id, out var list) ? list : boxes[id] = []).Add(new RegionBox(b[0], b[1], b[0] + b[2], b[1] + b[3], Label: o["category"]!.GetValue<string>()));
        }
        var files = JsonNode.Parse(File.ReadAllText(SharedData.CocoDataset))!["images"]!.AsArray()
            .ToDictionary(i => i!["cocoid"]!.GetValue<long>(), i => i!["filename"]!.GetValue<string>());
        using var detector = new YoloxDetector(SharedData.Path("models", "yolox-nano", "yolox_nano.onnx"));
        var decoder = new ImageDecoder();
        var found = 0;
        foreach (var (id, truth) in boxes)
        {
            using var image = decoder.Decode(SharedData.Path("data", "coco-sample", "images", files[id]));
            var detections = detector.Detect(image, 36);
            Assert.All(detections, d => Assert.Equal(80, d.ClassDistribution!.Length));
            if (detections.Any(d => truth.Any(t => CocoCategories.Canonical(t.Label!) == d.Label && t.IoU(d) >= 0.5f))) found++;
        }
        var fraction = (double)found / boxes.Count;
        output.WriteLine($"detector matched a ground-truth box (IoU >= 0.5, same category) in {found} of {boxes.Count} images ({fraction:P1})");
        Assert.True(fraction >= 0.7, $"only {fraction:P1}");
    }

    [Fact]
    public void NonMaximumSuppressionKeepsTheBestOfOverlappingBoxesPerClass()
    {
        var boxes = new[]
        {
            new RegionBox(0, 0, 10, 10, Label: "dog", Score: 0.9f),
            new RegionBox(1, 1, 11, 11, Label: "dog", Score: 0.8f), // overlaps the first: suppressed
            new RegionBox(1, 1, 11, 11, Label: "cat", Score: 0.7f), // other class: kept
            new RegionBox(50, 50, 60, 60, Label: "dog", Score: 0.6f),
        };
        var kept = YoloxDetector.Suppress(boxes, 0.45f, 10);
        Assert.Equal([0.9f, 0.7f, 0.6f], kept.Select(k => k.Score));
        Assert.Single(YoloxDetector.Suppress(boxes, 0.45f, 1));
    }
}
