using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using InterBert.Modeling;
using Onnx;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace InterBert.Vision;

/// <summary>
/// Region features from the ImageNet ResNet-18 that NuGet's Microsoft.ML.DnnImageFeaturizer.ResNet18 ships,
/// with its own preprocessing graph (RGB → BGR minus the mean image). The CNN runs once per image at 224 x 224 (or at
/// <see cref="Size"/>); its last 512 x 7 x 7 feature map (the input of the graph's final 7 x 7 average pool, exposed as an
/// extra graph output) is pooled per region by RoI align, so the whole-image region equals the graph's own output.
/// </summary>
public sealed class ResNetFeatureExtractor : IDisposable
{
    /// <summary>Side of the square input the packaged graphs take.</summary>
    public const int InputSize = 224;
    /// <summary>Smallest and largest side <see cref="Size"/> takes (multiples of 32, the network's stride).</summary>
    public const int MinInputSize = 64, MaxInputSize = 1024;
    /// <summary>Dimension of a region feature.</summary>
    public const int FeatureSize = 512;
    /// <summary>The graph's tensor of the last feature map ([512, 7, 7] at 224 x 224), the one region features are pooled from.</summary>
    internal const string FeatureMapName = "ReLU393_Output_0";
    /// <summary>The graph's tensor of the map after layer3 ([256, 14, 14] at 224 x 224), the input of the stage a model can train (<see cref="ResNetStage"/>).</summary>
    public const string Layer3MapName = "ReLU347_Output_0";
    private readonly InferenceSession? preprocess;
    private readonly float[]? meanImage;
    private readonly InferenceSession network;

    /// <summary>
    /// Loads both graphs from <paramref name="modelsFolder"/> (default: <c>DnnImageModels</c> beside the binaries). At a
    /// <paramref name="size"/> other than 224 the network runs on a larger (or smaller) photo: its map has size/32 cells a
    /// side, so that small boxes have more than a cell or two to pool from; the mean image is resized to match.
    /// </summary>
    public ResNetFeatureExtractor(string? modelsFolder = null, int threads = 0, int size = InputSize)
    {
        CheckSize(size);
        Size = size;
        (PreprocessPath, NetworkPath) = PackagedGraphs(modelsFolder);
        var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 };
        if (size == InputSize) preprocess = new InferenceSession(PreprocessPath, options);
        else meanImage = ResizedMeanImage(PreprocessPath, size);
        network = new InferenceSession(WithFeatureMapOutput(NetworkPath, anySize: size != InputSize), options);
    }

    /// <summary>Side of the square the photo is resized to before the network (224: the packaged graphs' own).</summary>
    public int Size { get; }

    /// <summary>Throws a one-line error unless <paramref name="size"/> is a side the network can run at.</summary>
    public static void CheckSize(int size)
    {
        if (size < MinInputSize || size > MaxInputSize || size % 32 != 0)
            throw new InterBertException($"input size {size}: expected a multiple of 32 from {MinInputSize} to {MaxInputSize} (224: the network's own)");
    }

    /// <summary>
    /// The paths of the packaged preprocessing and ResNet-18 graphs in <paramref name="modelsFolder"/> (default:
    /// <c>DnnImageModels</c> beside the binaries); throws naming the one that is missing.
    /// </summary>
    internal static (string Preprocess, string Network) PackagedGraphs(string? modelsFolder)
    {
        modelsFolder ??= Path.Combine(AppContext.BaseDirectory, "DnnImageModels");
        var preprocess = Path.Combine(modelsFolder, "ResNetPrepOnnx", "ResNetPreprocess.onnx");
        var network = Path.Combine(modelsFolder, "ResNet18Onnx", "ResNet18.onnx");
        foreach (var path in new[] { preprocess, network })
            if (!File.Exists(path)) throw new InterBertException($"{path}: ResNet-18 graph not found (it ships with the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18)");
        return (preprocess, network);
    }

    /// <summary>The packaged preprocessing graph.</summary>
    public string PreprocessPath { get; }
    /// <summary>The packaged ResNet-18 graph.</summary>
    public string NetworkPath { get; }

    /// <summary>Runs preprocessing and the CNN on an image resized to <see cref="Size"/> a side; returns the [512, Size/32, Size/32] feature map.</summary>
    public Tensor FeatureMap(DecodedImage image) => FeatureMap(image.ToPlanar(Size, Size, Size, Size, bgr: false));

    /// <summary>Runs preprocessing and the CNN on planar RGB 0-255 pixels [3, Size, Size]; returns the [512, Size/32, Size/32] feature map.</summary>
    public Tensor FeatureMap(float[] rgbPlanar) => Map(rgbPlanar, FeatureMapName);

    /// <summary>Runs preprocessing and the CNN up to layer3 on an image resized to <see cref="Size"/>; returns the [256, Size/16, Size/16] map (<see cref="Layer3MapName"/>).</summary>
    public Tensor Layer3Map(DecodedImage image) => Map(image.ToPlanar(Size, Size, Size, Size, bgr: false), Layer3MapName);

    private Tensor Map(float[] rgbPlanar, string name)
    {
        if (preprocess is null)
        {
            // The packaged preprocessing, at this size: RGB to BGR, minus the mean image resized.
            var plane = Size * Size;
            var bgr = new float[rgbPlanar.Length];
            for (var c = 0; c < 3; c++)
                for (var i = 0; i < plane; i++) bgr[c * plane + i] = rgbPlanar[(2 - c) * plane + i] - meanImage![c * plane + i];
            return Run(new DenseTensor<float>(bgr, [1, 3, Size, Size]), name);
        }
        var input = new DenseTensor<float>(rgbPlanar, [1, 3, Size, Size]);
        using var prepared = preprocess.Run([NamedOnnxValue.CreateFromTensor(preprocess.InputMetadata.Keys.First(), input)]);
        return Run(prepared.First().AsTensor<float>(), name);
    }

    private Tensor Run(Microsoft.ML.OnnxRuntime.Tensors.Tensor<float> preparedTensor, string name)
    {
        using var outputs = network.Run([NamedOnnxValue.CreateFromTensor(network.InputMetadata.Keys.First(), preparedTensor)], [name]);
        var map = outputs.First().AsTensor<float>();
        var dims = map.Dimensions.ToArray();
        return tensor(map.ToArray(), [dims[1], dims[2], dims[3]]);
    }

    /// <summary>
    /// RoI align over the feature map: each box (pixels of an image of <paramref name="width"/> x <paramref name="height"/>)
    /// is divided into 7 x 7 bins, each sampled bilinearly at its centre, and the bins are averaged: [R, 512].
    /// A box covering the whole image samples every cell's centre, i.e. the global average pool.
    /// </summary>
    public static Tensor PoolRegions(Tensor featureMap, IReadOnlyList<RegionBox> boxes, int width, int height, int bins = RoiAlign.Bins)
    {
        using var scope = NewDisposeScope();
        return RoiAlign.Pool(featureMap.unsqueeze(0), RegionGrid(boxes, width, height, featureMap, bins)).squeeze(0).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>The RoI-align grid [1, R, bins, bins, 2] of one image's boxes over its map [C, H, W] (<see cref="RoiAlign.Grid"/>).</summary>
    internal static Tensor RegionGrid(IReadOnlyList<RegionBox> boxes, int width, int height, Tensor map, int bins = RoiAlign.Bins)
    {
        var corners = boxes.SelectMany(b => new[] { b.X1, b.Y1, b.X2, b.Y2 }).ToArray();
        return tensor(RoiAlign.Grid(corners, boxes.Count, width, height, map.shape[^1], map.shape[^2], bins), [1, boxes.Count, bins, bins, 2]);
    }

    /// <summary>The preprocessing graph's mean image [3, 224, 224] resized bilinearly to [3, size, size], flattened.</summary>
    private static float[] ResizedMeanImage(string preprocessPath, int size)
    {
        var graph = ModelProto.Parser.ParseFrom(File.ReadAllBytes(preprocessPath)).Graph;
        var mean = graph.Initializer.FirstOrDefault(i => i.Name == "MeanImage") ?? throw new InterBertException($"{preprocessPath}: the preprocessing graph has no MeanImage");
        using var scope = NewDisposeScope();
        var image = TrainableResNet18.ToTensor(mean).view(1, 3, InputSize, InputSize);
        return nn.functional.interpolate(image, [size, size], mode: InterpolationMode.Bilinear, align_corners: false).contiguous().data<float>().ToArray();
    }

    /// <summary>
    /// Adds the final feature map and the layer3 map as graph outputs (ONNX Runtime only returns declared outputs).
    /// With <paramref name="anySize"/>, the input's height and width become free and the graph ends at those two maps:
    /// its final 7 x 7 pool and what follows assume a 224-pixel input, and declared intermediate shapes would too.
    /// </summary>
    private static byte[] WithFeatureMapOutput(string path, bool anySize)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        string[] maps = [FeatureMapName, Layer3MapName];
        foreach (var name in maps)
            if (!model.Graph.Node.Any(n => n.Output.Contains(name)))
                throw new InterBertException($"{path}: not the expected ResNet-18 graph (no tensor '{name}')");
        if (anySize)
        {
            var graph = model.Graph;
            var needed = new HashSet<string>(maps);
            var kept = new List<NodeProto>();
            foreach (var node in graph.Node.Reverse())
            {
                if (!node.Output.Any(needed.Contains)) continue;
                kept.Insert(0, node);
                foreach (var input in node.Input) needed.Add(input);
            }
            graph.Node.Clear();
            graph.Node.AddRange(kept);
            graph.Output.Clear();
            graph.ValueInfo.Clear();
            var unused = graph.Initializer.Where(i => !needed.Contains(i.Name)).ToList();
            foreach (var initializer in unused) graph.Initializer.Remove(initializer);
            var initializers = graph.Initializer.Select(i => i.Name).ToHashSet();
            foreach (var input in graph.Input.Where(i => !initializers.Contains(i.Name)).ToList())
            {
                if (!needed.Contains(input.Name)) { graph.Input.Remove(input); continue; }
                var dims = input.Type.TensorType.Shape.Dim;
                dims[2] = new TensorShapeProto.Types.Dimension { DimParam = "height" };
                dims[3] = new TensorShapeProto.Types.Dimension { DimParam = "width" };
            }
        }
        foreach (var name in maps) model.Graph.Output.Add(new ValueInfoProto { Name = name });
        using var stream = new MemoryStream();
        using (var coded = new Google.Protobuf.CodedOutputStream(stream)) model.WriteTo(coded);
        return stream.ToArray();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        preprocess?.Dispose();
        network.Dispose();
    }
}
