using Onnx;
using InterBert.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InterBert.Vision;

/// <summary>
/// The packaged ResNet-18 (the ONNX graphs <see cref="ResNetFeatureExtractor"/> runs with ONNX Runtime) converted once
/// into TorchSharp modules, so that its weights can be fine-tuned with the rest of the model. The graph is read node
/// by node: each convolution becomes a <c>Conv2d</c> and each batch normalisation an affine map with the graph's
/// statistics (kept fixed: batches of a few photos would make poor statistics; its scale and shift learn), under the
/// node's own name; the forward pass runs the nodes in the graph's order, with the graph's own (asymmetric) paddings,
/// so the feature map is the packaged graph's. Preprocessing is the packaged one's: RGB to BGR, minus the mean image.
/// </summary>
public sealed class TrainableResNet18 : nn.Module<Tensor, Tensor>
{
    /// <summary>The tensor of the last feature map ([512, 7, 7] at 224 x 224), the one region features are pooled from.</summary>
    public const string FeatureMapName = ResNetFeatureExtractor.FeatureMapName;
    /// <summary>The tensor of the map after layer3 ([256, 14, 14] at 224 x 224), the input of the last stage (<see cref="ResNetStage"/>).</summary>
    public const string Layer3MapName = ResNetFeatureExtractor.Layer3MapName;
    private static readonly string[] KnownOperators = ["Conv", "BatchNormalization", "Relu", "MaxPool", "Add", "AveragePool"];
    private readonly List<NodeProto> nodes;
    private readonly string inputName;
    private readonly ModuleDict<nn.Module> layers = new();
    private readonly Tensor meanImage;

    private TrainableResNet18(ModelProto preprocess, ModelProto network, string source) : base(nameof(TrainableResNet18))
    {
        var mean = preprocess.Graph.Initializer.FirstOrDefault(i => i.Name == "MeanImage")
            ?? throw new InterBertException($"{source}: the preprocessing graph has no MeanImage");
        meanImage = ToTensor(mean);
        register_buffer("mean_image", meanImage);
        var graph = network.Graph;
        inputName = graph.Input[0].Name;
        var weights = graph.Initializer.ToDictionary(i => i.Name);
        Tensor Weight(string name) => weights.TryGetValue(name, out var proto) ? ToTensor(proto) : throw new InterBertException($"{source}: no initializer '{name}'");
        nodes = [];
        foreach (var node in graph.Node)
        {
            if (!KnownOperators.Contains(node.OpType)) throw new InterBertException($"{source}: operator {node.OpType} ({node.Name}) is not one a ResNet-18 graph has");
            nodes.Add(node);
            if (node.OpType == "Conv")
            {
                // Copied into the module's own parameter, so the graph's tensor is freed at once.
                using var weight = Weight(node.Input[1]);
                var conv = nn.Conv2d(weight.shape[1], weight.shape[0], (weight.shape[2], weight.shape[3]), stride: Pair(node, "strides", 1), padding: (0, 0), bias: node.Input.Count > 2);
                using (no_grad())
                {
                    conv.weight!.copy_(weight);
                    if (node.Input.Count > 2)
                    {
                        using var bias = Weight(node.Input[2]);
                        conv.bias!.copy_(bias);
                    }
                }
                layers.Add(node.Name, conv);
            }
            else if (node.OpType == "BatchNormalization")
            {
                layers.Add(node.Name, new FrozenBatchNorm(Weight(node.Input[1]), Weight(node.Input[2]), Weight(node.Input[3]), Weight(node.Input[4]),
                    node.Attribute.FirstOrDefault(a => a.Name == "epsilon")?.F ?? 1e-5f));
            }
        }
        if (!nodes.Any(n => n.Output.Contains(FeatureMapName))) throw new InterBertException($"{source}: not the expected ResNet-18 graph (no tensor '{FeatureMapName}')");
        register_module("layers", layers);
    }

    /// <summary>Converts the packaged graphs (default: <c>DnnImageModels</c> beside the binaries, as <see cref="ResNetFeatureExtractor"/>).</summary>
    public static TrainableResNet18 FromPackagedGraphs(string? modelsFolder = null)
    {
        var (preprocessPath, networkPath) = ResNetFeatureExtractor.PackagedGraphs(modelsFolder);
        return new TrainableResNet18(ModelProto.Parser.ParseFrom(File.ReadAllBytes(preprocessPath)), ModelProto.Parser.ParseFrom(File.ReadAllBytes(networkPath)), networkPath);
    }

    /// <summary>
    /// The graph's last stage (from <see cref="Layer3MapName"/> to <see cref="FeatureMapName"/>) as the weights of a
    /// <see cref="ResNetStage"/> (its keys, no prefix): read block by block in the graph's order (an Add ends a block;
    /// in a block the 1 x 1 convolution is the shortcut, the 3 x 3 ones conv1 then conv2; each batch normalisation
    /// takes the role of the convolution it follows). Copies; the caller owns the tensors.
    /// </summary>
    public Dictionary<string, Tensor> StageState()
    {
        var state = new Dictionary<string, Tensor>();
        var roles = new Dictionary<string, string>(); // graph tensor name → key prefix of the convolution that made it
        var (block, started, threeByThree) = (0, false, 0);
        using var noGrad = no_grad();
        foreach (var node in nodes)
        {
            if (!started && !node.Input.Contains(Layer3MapName)) continue;
            started = true;
            if (node.OpType == "Conv")
            {
                var conv = (TorchSharp.Modules.Conv2d)layers[node.Name];
                var role = conv.weight!.shape[2] == 1 ? "shortcut_conv" : threeByThree++ == 0 ? "conv1" : "conv2";
                state[$"blocks.{block}.{role}.weight"] = conv.weight!.detach().clone();
                roles[node.Output[0]] = $"blocks.{block}.{role}";
            }
            else if (node.OpType == "BatchNormalization")
            {
                var prefix = roles.TryGetValue(node.Input[0], out var conv) ? conv.Replace("conv", "bn") : throw new InterBertException($"{node.Name}: a batch normalisation that follows no convolution of the last stage");
                foreach (var (name, tensor) in ((FrozenBatchNorm)layers[node.Name]).state_dict()) state[$"{prefix}.{name}"] = tensor.detach().clone();
            }
            else if (node.OpType == "Add")
            {
                (block, threeByThree) = (block + 1, 0);
            }
            if (node.Output.Contains(FeatureMapName)) break;
        }
        if (block != ResNetStage.BlockCount) throw new InterBertException($"the graph's last stage has {block} residual blocks, not the {ResNetStage.BlockCount} of {ResNetStage.Name}");
        return state;
    }

    /// <summary>The feature maps [B, 512, 7, 7] of planar RGB 0-255 pixels [B, 3, 224, 224].</summary>
    public override Tensor forward(Tensor rgbPixels) => Run(rgbPixels, FeatureMapName);

    /// <summary>
    /// Runs the graph on planar RGB 0-255 pixels [B, 3, H, W] up to the tensor <paramref name="until"/> (a node output
    /// of the graph, e.g. <see cref="FeatureMapName"/>). Sizes other than 224 x 224 take the mean image resized.
    /// </summary>
    public Tensor Run(Tensor rgbPixels, string until)
    {
        var mean = rgbPixels.shape[2] == meanImage.shape[2] && rgbPixels.shape[3] == meanImage.shape[3]
            ? meanImage
            : nn.functional.interpolate(meanImage, [rgbPixels.shape[2], rgbPixels.shape[3]], mode: InterpolationMode.Bilinear, align_corners: false);
        var prepared = rgbPixels.flip(1).sub(mean);
        return RunFrom(new Dictionary<string, Tensor> { [inputName] = prepared }, until);
    }

    /// <summary>
    /// Runs the nodes that the given tensors (by graph name) make computable, in the graph's order, up to
    /// <paramref name="until"/>: from an intermediate map (say a cached earlier stage) only the later nodes run.
    /// </summary>
    public Tensor RunFrom(IReadOnlyDictionary<string, Tensor> known, string until)
    {
        var values = new Dictionary<string, Tensor>(known);
        foreach (var node in nodes)
        {
            if (values.ContainsKey(until)) break;
            if (node.Input.Where(i => node.OpType is not ("Conv" or "BatchNormalization") || i == node.Input[0]).Any(i => !values.ContainsKey(i))) continue;
            values[node.Output[0]] = Apply(node, values);
        }
        return values.TryGetValue(until, out var result) ? result : throw new ArgumentException($"the graph does not reach '{until}' from {string.Join(", ", known.Keys)}");
    }

    private Tensor Apply(NodeProto node, Dictionary<string, Tensor> values)
    {
        var x = values[node.Input[0]];
        switch (node.OpType)
        {
            case "Conv":
                return ((Conv2d)layers[node.Name]).call(PadLike(node, x, 0));
            case "BatchNormalization":
                return ((FrozenBatchNorm)layers[node.Name]).call(x);
            case "Relu":
                return nn.functional.relu(x);
            case "Add":
                return x.add(values[node.Input[1]]);
            case "MaxPool":
                var (kh, kw) = Pair(node, "kernel_shape", 1);
                var (sh, sw) = Pair(node, "strides", 1);
                return nn.functional.max_pool2d(PadLike(node, x, float.NegativeInfinity), [kh, kw], [sh, sw]);
            default: // AveragePool, the graph's last node: without padding, a plain average pool
                var (ah, aw) = Pair(node, "kernel_shape", 1);
                var (ash, asw) = Pair(node, "strides", 1);
                return nn.functional.avg_pool2d(x, [ah, aw], [ash, asw]);
        }
    }

    /// <summary>ONNX pads are [top, left, bottom, right]; the packaged graph pads strided layers at the start only.</summary>
    private static Tensor PadLike(NodeProto node, Tensor x, float fill)
    {
        var pads = node.Attribute.FirstOrDefault(a => a.Name == "pads")?.Ints;
        if (pads is null || pads.All(p => p == 0)) return x;
        return nn.functional.pad(x, [pads[1], pads[3], pads[0], pads[2]], PaddingModes.Constant, fill);
    }

    private static (long, long) Pair(NodeProto node, string attribute, long fallback)
    {
        var values = node.Attribute.FirstOrDefault(a => a.Name == attribute)?.Ints;
        return values is { Count: 2 } ? (values[0], values[1]) : (fallback, fallback);
    }

    /// <summary>An ONNX initializer's float values as a tensor of its shape.</summary>
    internal static Tensor ToTensor(TensorProto proto)
    {
        var shape = proto.Dims.ToArray();
        float[] data;
        if (proto.FloatData.Count > 0)
        {
            data = proto.FloatData.ToArray();
        }
        else
        {
            var bytes = proto.RawData.Span;
            data = new float[bytes.Length / sizeof(float)];
            System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).CopyTo(data);
        }
        return tensor(data, shape);
    }

    /// <summary>Submodules and buffers are registered explicitly in the constructor.</summary>
    protected override void RegisterComponents() { }
}
