using InterBert.Data;
using InterBert.Vision;

namespace InterBert.Tests;

/// <summary>Region features of the COCO sample (given boxes, else the detector), extracted once for the tests that need real features.</summary>
public sealed class CocoFeatures : IDisposable
{
    private readonly TempFolder folder = new();

    public CocoFeatures()
    {
        var images = DatasetReader.Read(SharedData.CocoDataset).Select(i => (i.Id, i.Location)).ToList();
        var boxes = RegionBoxFile.Read(SharedData.Path("data", "coco-sample", "objects.jsonl"));
        using var network = new ResNetFeatureExtractor();
        using var detector = new YoloxDetector(SharedData.Path("models", "yolox-nano", "yolox_nano.onnx"));
        FeatureExtractionJob.Run(images, new RegionFeatureExtractor(network, detector, new ImageDecoder()), boxes, StorePath, float16: false, skipBad: false);
    }

    public string StorePath => folder.File("store");

    public void Dispose() => folder.Dispose();
}

[CollectionDefinition("coco features")]
public sealed class CocoFeaturesCollection : ICollectionFixture<CocoFeatures>;
