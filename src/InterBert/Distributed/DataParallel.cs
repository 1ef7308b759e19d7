using System.Runtime.InteropServices;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InterBert.Distributed;

/// <summary>
/// Data-parallel synchronisation of a model over a <see cref="ProcessGroup"/>: rank 0's parameters broadcast to every
/// rank, and gradients summed across ranks in a few large flat buffers (all-reduced in place) and divided by the
/// number of ranks, so every rank takes the same optimiser step.
/// </summary>
public static class DataParallel
{
    /// <summary>Elements per all-reduce buffer (32 MiB of float32).</summary>
    public const int BucketElements = 8 << 20;

    /// <summary>Copies rank 0's parameters to every rank.</summary>
    public static void BroadcastParameters(ProcessGroup group, IReadOnlyList<Parameter> parameters)
    {
        if (group.Size == 1) return;
        using var noGrad = no_grad();
        foreach (var bucket in Buckets(parameters))
        {
            using var scope = NewDisposeScope();
            var flat = cat(bucket.Select(p => p.detach().reshape(-1)).ToList()).contiguous();
            group.Broadcast(flat.bytes);
            Scatter(flat, bucket.Select(p => (Tensor)p).ToList());
        }
    }

    /// <summary>
    /// Replaces every gradient by its mean over the ranks. Parameters without a gradient on this rank take part with
    /// zeros (a parameter may be unused by one rank's batch and used by another's), so every rank reduces the same layout.
    /// </summary>
    public static void AverageGradients(ProcessGroup group, IReadOnlyList<Parameter> parameters)
    {
        if (group.Size == 1) return;
        using var noGrad = no_grad();
        EnsureGradients(parameters);
        foreach (var bucket in Buckets(parameters))
        {
            using var scope = NewDisposeScope();
            var flat = cat(bucket.Select(p => p.grad!.reshape(-1)).ToList()).contiguous();
            group.AllReduceSum(MemoryMarshal.Cast<byte, float>(flat.bytes));
            flat.div_(group.Size);
            Scatter(flat, bucket.Select(p => p.grad!).ToList());
        }
    }

    /// <summary>Gives every parameter a gradient tensor (zeros where backward did not reach it).</summary>
    public static void EnsureGradients(IReadOnlyList<Parameter> parameters)
    {
        var missing = parameters.Where(p => p.grad is null).ToList();
        if (missing.Count == 0) return;
        using var enable = enable_grad();
        using var scope = NewDisposeScope();
        // A zero-valued function of the parameters: backward allocates their gradients without changing any value.
        missing.Select(p => p.sum() * 0).Aggregate((a, b) => a + b).backward();
    }

    private static void Scatter(Tensor flat, IReadOnlyList<Tensor> targets)
    {
        long offset = 0;
        foreach (var target in targets)
        {
            var count = target.numel();
            target.copy_(flat.narrow(0, offset, count).view_as(target));
            offset += count;
        }
    }

    private static IEnumerable<List<Parameter>> Buckets(IReadOnlyList<Parameter> parameters)
    {
        var bucket = new List<Parameter>();
        long size = 0;
        foreach (var p in parameters)
        {
            if (bucket.Count > 0 && size + p.numel() > BucketElements)
            {
                yield return bucket;
                bucket = [];
                size = 0;
            }
            bucket.Add(p);
            size += p.numel();
        }
        if (bucket.Count > 0) yield return bucket;
    }
}
