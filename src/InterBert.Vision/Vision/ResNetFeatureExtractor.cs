using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using InterBert.Modeling;
using Onnx;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace InterBert.Vision;

/// <summary>
/// Region features from the ImageNet ResNet-18 that NuGet's Microsoft.ML.DnnImageFeaturizer.ResNet18 ships,
/// with its own preprocessing graph (RGB → BGR minus the mean image). The CNN runs once per image at 224 x 224;
/// its last 512 x 7 x 7 feature map (the input of the graph's final 7 x 7 average pool, exposed as an extra
/// graph output) is pooled per region by RoI align, so the whole-image region equals the graph's own output.
/// </summary>
public sealed class ResNetFeatureExtractor : IDisposable
{
    /// <summary>Side of the square input the packaged graphs take.</summary>
    public const int InputSize = 224;
    /// <summary>Dimension of a region feature.</summary>
    public const int FeatureSize = 512;
    /// <summary>The graph's tensor of the last feature map ([512, 7, 7] at 224 x 224), the one region features are pooled from.</summary>
    internal const string FeatureMapName = "ReLU393_Output_0";
    /// <summary>The graph's tensor of the map after layer3 ([256, 14, 14] at 224 x 224), the input of the stage a model can train (<see cref="ResNetStage"/>).</summary>
    public const string Layer3MapName = "ReLU347_Output_0";
    private readonly InferenceSession preprocess;
    private readonly InferenceSession network;

    /// <summary>Loads both graphs from <paramref name="modelsFolder"/> (default: <c>DnnImageModels</c> beside the binaries).</summary>
    public ResNetFeatureExtractor(string? modelsFolder = null, int threads = 0)
    {
        (PreprocessPath, NetworkPath) = PackagedGraphs(modelsFolder);
        var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 };
        preprocess = new InferenceSession(PreprocessPath, options);
        network = new InferenceSession(WithFeatureMapOutput(NetworkPath), options);
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

    /// <summary>Runs preprocessing and the CNN on an image resized to 224 x 224; returns the [512, 7, 7] feature map.</summary>
    public Tensor FeatureMap(DecodedImage image) => FeatureMap(image.ToPlanar(InputSize, InputSize, InputSize, InputSize, bgr: false));

    /// <summary>Runs preprocessing and the CNN on planar RGB 0-255 pixels [3, 224, 224]; returns the [512, 7, 7] feature map.</summary>
    public Tensor FeatureMap(float[] rgbPlanar) => Map(rgbPlanar, FeatureMapName);

    /// <summary>Runs preprocessing and the CNN up to layer3 on an image resized to 224 x 224; returns the [256, 14, 14] map (<see cref="Layer3MapName"/>).</summary>
    public Tensor Layer3Map(DecodedImage image) => Map(image.ToPlanar(InputSize, InputSize, InputSize, InputSize, bgr: false), Layer3MapName);

    private Tensor Map(float[] rgbPlanar, string name)
    {
        var input = new DenseTensor<float>(rgbPlanar, [1, 3, InputSize, InputSize]);
        using var prepared = preprocess.Run([NamedOnnxValue.CreateFromTensor(preprocess.InputMetadata.Keys.First(), input)]);
        var preparedTensor = prepared.First().AsTensor<float>();
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

    /// <summary>Adds the final feature map and the layer3 map as graph outputs (ONNX Runtime only returns declared outputs).</summary>
    private static byte[] WithFeatureMapOutput(string path)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        foreach (var name in new[] { FeatureMapName, Layer3MapName })
        {
            if (!model.Graph.Node.Any(n => n.Output.Contains(name)))
                throw new InterBertException($"{path}: not the expected ResNet-18 graph (no tensor '{name}')");
            model.Graph.Output.Add(new ValueInfoProto { Name = name });
        }
        using var stream = new MemoryStream();
        using (var coded = new Google.Protobuf.CodedOutputStream(stream)) model.WriteTo(coded);
        return stream.ToArray();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        preprocess.Dispose();
        network.Dispose();
    }
}
