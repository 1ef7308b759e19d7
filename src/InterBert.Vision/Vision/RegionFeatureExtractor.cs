using InterBert.Data;
using InterBert.Modeling;
using static TorchSharp.torch;

namespace InterBert.Vision;

/// <summary>
/// Turns an image into regions with features: the whole image first, then given boxes, else detector boxes,
/// else a fixed grid (with <see cref="GridAlways"/>, detector boxes and then the grid); at most <see cref="MaxRegions"/> in all. The CNN runs once per image and every region is
/// pooled from its feature map.
/// </summary>
public sealed class RegionFeatureExtractor(ResNetFeatureExtractor network, YoloxDetector? detector, ImageDecoder decoder) : IDisposable
{
    private bool ownsNetworks;

    /// <summary>
    /// The one way the tool assembles an extractor: ResNet-18, the YOLOX detector at <paramref name="detectorPath"/> when
    /// given (else the grid), at most <paramref name="maxRegions"/> regions; it owns (and disposes) both networks.
    /// With <paramref name="stage"/> (a model with its own fine-tuned CNN stage), the region features are that stage's (<see cref="Stage"/>).
    /// With <paramref name="parallelImages"/>, the <paramref name="threads"/> (0: every core) go to as many copies of the
    /// networks, each on one thread and its own image (<see cref="Workers"/>), rather than to one image at a time: on these
    /// small networks ONNX Runtime gains nearly nothing from a second thread, while one image per core ran 2.75 times as
    /// fast on 2 cores (`bench features`).
    /// </summary>
    /// With <paramref name="gridAlways"/>, every image without given boxes gets the grid after its detector boxes (<see cref="GridAlways"/>);
    /// <paramref name="inputSize"/> is the side photos are resized to for the CNN (<see cref="ResNetFeatureExtractor.Size"/>).
    public static RegionFeatureExtractor Open(string? detectorPath, int maxRegions, int threads, int gridSize = 3, InterBertBackbone? stage = null, bool parallelImages = false, bool gridAlways = false,
        int inputSize = ResNetFeatureExtractor.InputSize)
    {
        ResNetFeatureExtractor.CheckSize(inputSize);
        if (stage?.HasVisualStage == true && inputSize != ResNetFeatureExtractor.InputSize)
            throw new InterBertException($"input size {inputSize}: a model's own CNN stage was trained on maps of 224-pixel photos; extract its store at 224");
        var cores = threads > 0 ? threads : Environment.ProcessorCount;
        // A model's own stage is one module: its images go through it one at a time.
        var workers = parallelImages && stage?.HasVisualStage != true ? Math.Clamp(cores, 1, MaxWorkers) : 1;
        var threadsEach = workers == 1 ? threads : Math.Max(1, cores / workers);
        var opened = new List<RegionFeatureExtractor>();
        try
        {
            for (var w = 0; w < workers; w++) opened.Add(OpenOne(detectorPath, maxRegions, threadsEach, gridSize, stage, gridAlways, inputSize));
            opened[0].siblings = opened.Skip(1).ToList();
            return opened[0];
        }
        catch
        {
            foreach (var extractor in opened) extractor.Dispose();
            throw;
        }
    }

    /// <summary>Most copies of the networks <see cref="Open"/> makes for parallel images (each holds both networks, about 100 MB).</summary>
    public const int MaxWorkers = 8;

    private static RegionFeatureExtractor OpenOne(string? detectorPath, int maxRegions, int threads, int gridSize, InterBertBackbone? stage, bool gridAlways, int inputSize)
    {
        var network = new ResNetFeatureExtractor(threads: threads, size: inputSize);
        YoloxDetector? boxes = null;
        try
        {
            boxes = detectorPath is null ? null : new YoloxDetector(detectorPath, threads);
            return new RegionFeatureExtractor(network, boxes, new ImageDecoder()) { MaxRegions = Math.Max(1, maxRegions), GridSize = gridSize, GridAlways = gridAlways, Stage = stage?.HasVisualStage == true ? stage : null, ownsNetworks = true };
        }
        catch
        {
            boxes?.Dispose();
            network.Dispose();
            throw;
        }
    }

    private List<RegionFeatureExtractor> siblings = [];

    /// <summary>
    /// The extractors that work at once, each on its own image: this one, and the copies <see cref="Open"/> made beside
    /// it for parallel images. An extractor is used by one thread at a time.
    /// </summary>
    public IReadOnlyList<RegionFeatureExtractor> Workers => [this, .. siblings];

    /// <summary>Disposes the networks when this extractor was made by <see cref="Open"/>; one built around given networks leaves them to their owner.</summary>
    public void Dispose()
    {
        foreach (var sibling in siblings) sibling.Dispose();
        siblings = [];
        if (!ownsNetworks) return;
        ownsNetworks = false;
        detector?.Dispose();
        network.Dispose();
    }

    /// <summary>
    /// A model with its own fine-tuned CNN stage (<see cref="InterBertConfig.VisualStage"/>) whose stage computes the
    /// region features: the packaged network runs to layer3, the model's stage does the rest, and its map is pooled
    /// per region as usual. Null: the packaged network throughout.
    /// </summary>
    public InterBertBackbone? Stage { get; init; }

    /// <summary>Most regions per image, the whole-image region included.</summary>
    public int MaxRegions { get; init; } = 36;

    /// <summary>Cells per side of the fallback grid.</summary>
    public int GridSize { get; init; } = 3;

    /// <summary>
    /// Whether images without given boxes get the grid's cells after their detector boxes, not only when nothing is
    /// detected: on photos the detector boxes a person or two (Flickr8k: 4.7 regions on average, the whole image
    /// included), and the cells give the cross-modal layers the scene around them to attend to. The boxes then take
    /// at most <see cref="MaxRegions"/> - 1 - the cells' count places.
    /// </summary>
    public bool GridAlways { get; init; }

    /// <summary>Side in pixels each photo is resized to for the CNN (<see cref="ResNetFeatureExtractor.Size"/>).</summary>
    public int InputSize => network.Size;

    /// <summary>Number of classes of the stored distributions (the 80 COCO categories).</summary>
    public static int ClassCount => CocoCategories.Names.Count;

    /// <summary>
    /// A description of the extractor for the store's manifest: where the regions come from, in order of preference,
    /// as this run was configured (given boxes only when a boxes file was given).
    /// </summary>
    public string Describe(bool givenBoxes) =>
        $"ResNet-18 (Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1) {network.Size}x{network.Size}, RoI align 7x7; regions: the whole image, then " +
        string.Join(", else ", new[] { givenBoxes ? "given boxes" : null, detector is null ? null : "YOLOX detector boxes" + (GridAlways ? $" and a {GridSize}x{GridSize} grid" : ""), $"a {GridSize}x{GridSize} grid" }.OfType<string>()) +
        $"; at most {MaxRegions}" + (Stage is null ? "" : $"; last stage: a model's own fine-tuned {ResNetStage.Name} ({Stage.VisualStageFingerprint()})");

    /// <summary>The structured form of <see cref="Describe"/>, recorded in the store so that new photos can be extracted alike.</summary>
    public RegionSource Source(bool givenBoxes) => new() { MaxRegions = MaxRegions, GridSize = GridSize, GridAlways = GridAlways, Detector = detector?.ModelPath, GivenBoxes = givenBoxes,
        InputSize = network.Size == ResNetFeatureExtractor.InputSize ? 0 : network.Size };

    /// <summary>Extracts the regions of one encoded image.</summary>
    public ImageRegions Extract(string id, byte[] encoded, string source, IReadOnlyList<RegionBox>? givenBoxes)
    {
        using var image = decoder.Decode(encoded, source);
        var (width, height) = (image.Width, image.Height);
        List<RegionBox> regions;
        if (givenBoxes is { Count: > 0 })
        {
            // Given boxes keep their order, so region r + 1 is the file's r-th box (VCR object references rely on it);
            // empty boxes keep their place as a zero-area region.
            regions = givenBoxes.Select(b => b.ClipTo(width, height)).Take(MaxRegions - 1).ToList();
        }
        else if (GridAlways)
        {
            var grid = Grid(width, height);
            var room = MaxRegions - 1 - grid.Count;
            var detected = room > 0 && detector is not null ? detector.Detect(image, room) : [];
            // The whole image's class distribution is its detected objects', as without the grid. A cell is no object:
            // its row is zero, which gives masked region modeling's KL nothing to learn from it, while the boxes keep
            // their targets (without any box, the record has no classes, as with the fallback grid).
            if (detected.Count > 0 && detected.All(r => r.ClassDistribution is not null))
                grid = grid.Select(cell => cell with { ClassDistribution = new float[detected[0].ClassDistribution!.Length] }).ToList();
            return Record(id, image, [RegionBox.WholeImageOf(width, height, detected), .. detected, .. grid]);
        }
        else
        {
            regions = detector?.Detect(image, MaxRegions - 1) ?? [];
            if (regions.Count == 0) regions = Grid(width, height);
        }
        regions.Insert(0, RegionBox.WholeImageOf(width, height, regions));
        return Record(id, image, regions);
    }

    private ImageRegions Record(string id, DecodedImage image, List<RegionBox> regions)
    {
        var (width, height) = (image.Width, image.Height);
        using var scope = NewDisposeScope();
        float[] features;
        if (Stage is null)
        {
            features = ResNetFeatureExtractor.PoolRegions(network.FeatureMap(image), regions, width, height).data<float>().ToArray();
        }
        else
        {
            using var noGrad = no_grad();
            var layer3 = network.Layer3Map(image);
            features = Stage.RegionFeatures(layer3.unsqueeze(0), ResNetFeatureExtractor.RegionGrid(regions, width, height, layer3)).squeeze(0).contiguous().data<float>().ToArray();
        }
        return RegionBox.RecordOf(id, width, height, regions, features);
    }

    /// <summary>
    /// The map after layer3 of one encoded image ([256, 14, 14] at 224 x 224, the input of the stage a model can train,
    /// <see cref="Modeling.ResNetStage"/>), stored as a record of one whole-image region whose features are the map.
    /// </summary>
    public ImageRegions ExtractLayer3Map(string id, byte[] encoded, string source)
    {
        using var image = decoder.Decode(encoded, source);
        using var scope = NewDisposeScope();
        var map = network.Layer3Map(image).data<float>().ToArray();
        var whole = RegionBox.WholeImage(image.Width, image.Height);
        return new ImageRegions(id, image.Width, image.Height, 1, [whole.X1, whole.Y1, whole.X2, whole.Y2], whole.Location(image.Width, image.Height).ToArray(), map, null);
    }

    /// <summary>Shape of the stored layer3 maps (channels, height, width).</summary>
    public static IReadOnlyList<int> Layer3MapShape { get; } = [Modeling.ResNetStage.InputChannels, ResNetFeatureExtractor.InputSize / 16, ResNetFeatureExtractor.InputSize / 16];

    private List<RegionBox> Grid(int width, int height)
    {
        var cells = new List<RegionBox>();
        for (var y = 0; y < GridSize; y++)
            for (var x = 0; x < GridSize; x++)
                cells.Add(new RegionBox((float)x * width / GridSize, (float)y * height / GridSize, (float)(x + 1) * width / GridSize, (float)(y + 1) * height / GridSize));
        return cells.Take(MaxRegions - 1).ToList();
    }
}
