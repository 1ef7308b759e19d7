using InterBert.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace InterBert.Tests;

/// <summary>Random but seeded model inputs for tests.</summary>
internal static class TestInputs
{
    /// <summary>The tiny preset without dropout, so outputs are deterministic in training mode too.</summary>
    public static InterBertConfig TinyNoDropout => InterBertConfig.Tiny with
    {
        HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0, VHiddenDropoutProb = 0, VAttentionProbsDropoutProb = 0,
    };

    /// <summary>A text batch with per-row lengths (rows padded with 0 after their length).</summary>
    public static TextBatch Text(InterBertConfig config, int[] lengths, int paddedLength, int seed)
    {
        var generator = new Generator((ulong)seed);
        var ids = randint(1, config.VocabSize, [lengths.Length, paddedLength], generator: generator);
        var mask = zeros(lengths.Length, paddedLength, dtype: ScalarType.Int64);
        for (var row = 0; row < lengths.Length; row++) mask[row, TensorIndex.Slice(0, lengths[row])] = 1;
        return new TextBatch(ids * mask, mask);
    }

    /// <summary>An image batch with per-row region counts (padded regions hold random garbage that must not matter).</summary>
    public static ImageBatch Image(InterBertConfig config, int[] counts, int paddedRegions, int seed)
    {
        var generator = new Generator((ulong)seed + 1000);
        var features = randn([counts.Length, paddedRegions, config.VFeatureSize], generator: generator);
        var corner = rand([counts.Length, paddedRegions, 2], generator: generator) * 0.5;
        var size = rand([counts.Length, paddedRegions, 2], generator: generator) * 0.5;
        var area = (size[TensorIndex.Ellipsis, 0] * size[TensorIndex.Ellipsis, 1]).unsqueeze(-1);
        var locations = cat([corner, corner + size, area], -1);
        var mask = zeros(counts.Length, paddedRegions, dtype: ScalarType.Int64);
        for (var row = 0; row < counts.Length; row++) mask[row, TensorIndex.Slice(0, counts[row])] = 1;
        return new ImageBatch(features, locations, mask);
    }

    /// <summary>Extends a text batch with extra padding positions holding random ids.</summary>
    public static TextBatch PadText(TextBatch text, int extra, int seed)
    {
        var generator = new Generator((ulong)seed + 7);
        var rows = text.InputIds.shape[0];
        var junk = randint(1, 100, [rows, extra], generator: generator);
        return new TextBatch(cat([text.InputIds, junk], 1), cat([text.AttentionMask, zeros(rows, extra, dtype: ScalarType.Int64)], 1));
    }

    /// <summary>Extends an image batch with extra padded regions holding random features.</summary>
    public static ImageBatch PadImage(ImageBatch image, int extra, int seed)
    {
        var generator = new Generator((ulong)seed + 9);
        var rows = image.Features.shape[0];
        var features = cat([image.Features, randn([rows, extra, image.Features.shape[2]], generator: generator) * 5], 1);
        var locations = cat([image.Locations, rand([rows, extra, 5], generator: generator)], 1);
        return new ImageBatch(features, locations, cat([image.RegionMask, zeros(rows, extra, dtype: ScalarType.Int64)], 1));
    }

    /// <summary>The three pretraining losses on random targets (every token and region is a target here).</summary>
    public static Tensor PretrainingLossSum(InterBertModel model, TextBatch text, ImageBatch image, int seed)
    {
        var generator = new Generator((ulong)seed + 3);
        var config = model.Config;
        var output = model.Forward(text, image);
        var segmentLogits = model.SegmentLogits(output.TextSequence!);
        var targets = randint(config.VocabSize, text.InputIds.shape, generator: generator);
        var segmentLoss = nn.functional.cross_entropy(segmentLogits.flatten(0, 1), targets.flatten());
        var regionLogits = model.RegionLogits(output.ImageSequence!.narrow(1, 1, image.Features.shape[1]));
        var targetDistribution = softmax(randn(regionLogits.shape, generator: generator), -1);
        var regionLoss = nn.functional.kl_div(nn.functional.log_softmax(regionLogits, -1), targetDistribution, reduction: nn.Reduction.Sum, log_target: false) / regionLogits.shape[0];
        var matchLabels = randint(2, [text.InputIds.shape[0]], generator: generator);
        var matchingLoss = nn.functional.cross_entropy(model.MatchingLogits(output), matchLabels);
        return segmentLoss + regionLoss + matchingLoss;
    }
}
