using TorchSharp;
using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>
/// Dropout that, under bf16 autocast, draws its masks from a fast counter-seeded generator instead of libtorch's
/// per-element one (which, without MKL, costs more than the bf16 matrix products of a layer here). In fp32 it is
/// exactly <c>nn.Dropout</c>. The generator is seeded from torch's default generator, so masks follow
/// <c>manual_seed</c> and a restored generator state; the keep probability is rounded to a multiple of 1/65536.
/// </summary>
public sealed class AutocastDropout : nn.Module<Tensor, Tensor>
{
    private readonly double probability;

    /// <summary>Creates a dropout of probability <paramref name="probability"/>.</summary>
    public AutocastDropout(double probability) : base(nameof(AutocastDropout)) => this.probability = probability;

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        if (!training || probability <= 0) return input;
        if (!AutocastScope.IsActive) return nn.functional.dropout(input, probability, true);
        return Apply(input, probability);
    }

    /// <summary>Zeroes elements of <paramref name="input"/> with probability <paramref name="probability"/> and scales the rest by 1 / (1 - p), with a fast mask.</summary>
    public static Tensor Apply(Tensor input, double probability)
    {
        var keep = KeepMask(input.shape, probability, input.device);
        return input * (keep.to_type(input.dtype) * (1.0 / (1.0 - probability)));
    }

    /// <summary>A boolean mask of <paramref name="shape"/> that is true with probability 1 - <paramref name="probability"/>.</summary>
    public static Tensor KeepMask(long[] shape, double probability, Device? device = null)
    {
        var count = shape.Aggregate(1L, (a, b) => a * b);
        // 16 random bits per element, filled 64 at a time; int16 lanes are uniform on [-32768, 32767].
        var lanes = empty((count + 3) / 4 * 4, ScalarType.Int16);
        var seed = randint(long.MaxValue, [1], dtype: ScalarType.Int64).item<long>();
        FillRandom(lanes, (ulong)seed);
        var threshold = (long)Math.Round(probability * 65536) - 32768;
        var keep = lanes.narrow(0, 0, count).ge(threshold).view(shape);
        return device is null || device.type == DeviceType.CPU ? keep : keep.to(device);
    }

    private const long ChunkWords = 1 << 15;

    /// <summary>Fills a CPU tensor's memory with xoshiro256** output, one stream per chunk of 2^15 words (independent of the thread count).</summary>
    private static unsafe void FillRandom(Tensor target, ulong seed)
    {
        // TorchSharp's bytes span of a contiguous CPU tensor is its own memory, not a copy.
        var bytes = target.bytes;
        fixed (byte* pointer = bytes) FillRandom((ulong*)pointer, bytes.Length / 8, seed);
    }

    private static unsafe void FillRandom(ulong* start, long words, ulong seed)
    {
        var chunks = (words + ChunkWords - 1) / ChunkWords;
        Parallel.For(0L, chunks, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, get_num_threads()) }, chunk =>
        {
            var splitMix = seed ^ (0x9E3779B97F4A7C15UL * (ulong)(chunk + 1));
            ulong s0 = SplitMix(ref splitMix), s1 = SplitMix(ref splitMix), s2 = SplitMix(ref splitMix), s3 = SplitMix(ref splitMix);
            var end = Math.Min(words, (chunk + 1) * ChunkWords);
            for (var i = chunk * ChunkWords; i < end; i++)
            {
                start[i] = BitRotate(s1 * 5, 7) * 9;
                var t = s1 << 17;
                s2 ^= s0;
                s3 ^= s1;
                s1 ^= s2;
                s0 ^= s3;
                s2 ^= t;
                s3 = BitRotate(s3, 45);
            }
        });
    }

    private static ulong BitRotate(ulong x, int k) => (x << k) | (x >> (64 - k));

    private static ulong SplitMix(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
