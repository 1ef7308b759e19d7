using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>
/// The last stage of the packaged ResNet-18 (Microsoft.ML.DnnImageFeaturizer.ResNet18's graph), as modules the model
/// trains: from the 256-channel map after layer3 to the 512-channel map region features are pooled from, in three
/// residual blocks (the graph's: the first strided, with a 1 x 1 strided shortcut; two plain), batch normalisation with
/// the graph's statistics kept fixed. The strided 3 x 3 convolution pads the top and left only, as the graph does,
/// so that weights converted from the graph compute its map. Keys: <c>blocks.{b}.conv1</c>, <c>bn1</c>,
/// <c>conv2</c>, <c>bn2</c>, and <c>blocks.0.shortcut_conv</c>, <c>shortcut_bn</c>.
/// </summary>
public sealed class ResNetStage : nn.Module<Tensor, Tensor>
{
    /// <summary>The <see cref="InterBertConfig.VisualStage"/> value that selects this stage.</summary>
    public const string Name = "resnet18-layer4";
    /// <summary>Channels of the map the stage takes (ResNet-18's layer3 output).</summary>
    public const int InputChannels = 256;
    /// <summary>Channels of the map it gives: the region feature size.</summary>
    public const int OutputChannels = 512;
    /// <summary>Residual blocks in the packaged graph's last stage.</summary>
    public const int BlockCount = 3;
    private readonly ModuleList<Block> blocks = new();

    /// <summary>A stage with PyTorch's default convolution initialisation and identity normalisation; load the converted weights into it.</summary>
    public ResNetStage() : base(nameof(ResNetStage))
    {
        for (var b = 0; b < BlockCount; b++) blocks.Add(new Block(b == 0 ? InputChannels : OutputChannels, OutputChannels, strided: b == 0));
        register_module("blocks", blocks);
    }

    /// <summary>The map [B, 512, H/2, W/2] of a layer3 map [B, 256, H, W].</summary>
    public override Tensor forward(Tensor layer3Map)
    {
        var x = layer3Map;
        foreach (var block in blocks) x = block.call(x);
        return x;
    }

    /// <summary>Submodules are registered explicitly in the constructor.</summary>
    protected override void RegisterComponents() { }

    /// <summary>One basic residual block: conv3x3, BN, ReLU, conv3x3, BN, plus the shortcut, ReLU.</summary>
    private sealed class Block : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1;
        private readonly FrozenBatchNorm bn1;
        private readonly Conv2d conv2;
        private readonly FrozenBatchNorm bn2;
        private readonly Conv2d? shortcutConv;
        private readonly FrozenBatchNorm? shortcutBn;
        private readonly bool strided;

        public Block(int input, int output, bool strided) : base(nameof(Block))
        {
            this.strided = strided;
            conv1 = nn.Conv2d(input, output, 3, stride: strided ? 2 : 1, padding: strided ? 0 : 1, bias: false);
            bn1 = new FrozenBatchNorm(output);
            conv2 = nn.Conv2d(output, output, 3, padding: 1, bias: false);
            bn2 = new FrozenBatchNorm(output);
            register_module("conv1", conv1);
            register_module("bn1", bn1);
            register_module("conv2", conv2);
            register_module("bn2", bn2);
            if (strided)
            {
                shortcutConv = nn.Conv2d(input, output, 1, stride: 2, bias: false);
                shortcutBn = new FrozenBatchNorm(output);
                register_module("shortcut_conv", shortcutConv);
                register_module("shortcut_bn", shortcutBn);
            }
        }

        public override Tensor forward(Tensor x)
        {
            // The graph pads a strided convolution at the start only ([top, left] = 1, [bottom, right] = 0).
            var first = strided ? nn.functional.pad(x, [1, 0, 1, 0]) : x;
            var y = bn2.call(conv2.call(nn.functional.relu(bn1.call(conv1.call(first)))));
            var shortcut = shortcutConv is null ? x : shortcutBn!.call(shortcutConv.call(x));
            return nn.functional.relu(y.add(shortcut));
        }

        protected override void RegisterComponents() { }
    }
}
