using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>
/// Scalars that live as long as the process. TorchSharp passes a <see cref="Scalar"/> to native code by its handle
/// only: a temporary one (the implicit <c>alpha</c> of <c>a + b</c>, the factor of <c>x * 0.5</c>) is unreachable
/// while the native call runs, so a garbage collection started by another thread can finalise it mid-call. A host
/// where other threads allocate (a web service) hits that at random. The model's forward pass therefore takes its
/// scalars from here, where a static reference keeps every one alive.
/// </summary>
internal static class KeptScalars
{
    private static readonly ConcurrentDictionary<double, Scalar> Values = new();

    /// <summary>1, the alpha of a plain addition.</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>0 (whole).</summary>
    public static readonly Scalar Zero = 0L.ToScalar();

    /// <summary>-1 (whole).</summary>
    public static readonly Scalar MinusOne = (-1L).ToScalar();

    /// <summary>A kept scalar of <paramref name="value"/> (a handful of distinct values per model: kept for good).</summary>
    public static Scalar Of(double value) => Values.GetOrAdd(value, v => v.ToScalar());

    /// <summary><paramref name="left"/> + <paramref name="right"/> with a kept alpha.</summary>
    public static Tensor Plus(this Tensor left, Tensor right) => left.add(right, One);
}
