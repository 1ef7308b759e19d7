using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace InterBert.Modeling;

/// <summary>
/// A region of code whose CPU matrix products run in bfloat16: libtorch's own autocast (the dispatcher mode behind
/// PyTorch's <c>torch.autocast("cpu")</c>), which TorchSharp does not expose, switched on for the calling thread.
/// Inside it, linear layers, matmul and scaled-dot-product attention cast their inputs to bf16, and fp32 leaf
/// parameters are cast once and cached until the outermost region ends; losses that autocast lists run in fp32.
/// Regions nest; the state is per thread, so a region must end on the thread that began it.
/// </summary>
public sealed class AutocastScope : IDisposable
{
    private const sbyte CpuDevice = 0; // c10::DeviceType::CPU
    private readonly bool changed;
    private readonly bool previousEnabled;
    private readonly sbyte previousType;
    private bool disposed;

    private AutocastScope(Precision precision)
    {
        var enabled = precision == Precision.Bf16;
        if (!enabled && !Native.Loaded) return; // fp32 with autocast never used in this process: nothing to switch off
        var api = Native.Api;
        previousEnabled = api.IsEnabled(CpuDevice) != 0;
        previousType = api.GetDtype(CpuDevice);
        if (previousEnabled == enabled && (!enabled || previousType == (sbyte)ScalarType.BFloat16)) return;
        api.SetEnabled(CpuDevice, enabled ? (byte)1 : (byte)0);
        if (enabled) api.SetDtype(CpuDevice, (sbyte)ScalarType.BFloat16);
        api.IncrementNesting();
        changed = true;
    }

    /// <summary>Begins a region of <paramref name="precision"/> on this thread (fp32 switches an enclosing bf16 region off until it ends).</summary>
    public static AutocastScope Enter(Precision precision) => new(precision);

    /// <summary>Whether bf16 autocast is on for this thread.</summary>
    public static bool IsActive => Native.Loaded && Native.Api.IsEnabled(CpuDevice) != 0;

    /// <summary>A tensor in fp32 if autocast produced it in a 16-bit type (LayerNorm inputs and outputs leaving the model); any other tensor as it is.</summary>
    public static Tensor Widen(Tensor tensor) =>
        tensor.dtype is ScalarType.BFloat16 or ScalarType.Float16 ? tensor.to_type(ScalarType.Float32) : tensor;

    /// <summary>Restores the state the region began in; the outermost region also frees the cached bf16 weights.</summary>
    public void Dispose()
    {
        if (disposed || !changed) return;
        disposed = true;
        var api = Native.Api;
        // As torch.autocast's __exit__: the weight cache lives until the outermost region ends.
        if (api.DecrementNesting() == 0) api.ClearCache();
        api.SetEnabled(CpuDevice, previousEnabled ? (byte)1 : (byte)0);
        api.SetDtype(CpuDevice, previousType);
    }

    /// <summary>libtorch's autocast functions, found by their C++ (Itanium ABI) names in the already loaded libtorch_cpu.</summary>
    private sealed unsafe class Native
    {
        private static readonly Lazy<Native> Instance = new(() => new Native());

        public static bool Loaded => Instance.IsValueCreated;
        public static Native Api => Instance.Value;

        private readonly delegate* unmanaged<sbyte, byte, void> setEnabled;
        private readonly delegate* unmanaged<sbyte, byte> isEnabled;
        private readonly delegate* unmanaged<sbyte, sbyte, void> setDtype;
        private readonly delegate* unmanaged<sbyte, sbyte> getDtype;
        private readonly delegate* unmanaged<int> incrementNesting;
        private readonly delegate* unmanaged<int> decrementNesting;
        private readonly delegate* unmanaged<void> clearCache;

        private Native()
        {
            // Any torch call loads TorchSharp's native libraries; libtorch_cpu is then found among the loaded ones.
            _ = get_num_threads();
            if (!NativeLibrary.TryLoad("libtorch_cpu.so", out var library)
                && !NativeLibrary.TryLoad("torch_cpu", typeof(torch).Assembly, null, out library))
                throw new InterBertException("bf16 precision: libtorch_cpu, TorchSharp's native library, was not found in this process");
            IntPtr Export(string name) => NativeLibrary.TryGetExport(library, name, out var address) ? address
                : throw new InterBertException($"bf16 precision: this libtorch build has no autocast entry point {name} (it is found in libtorch 2.x for Linux); use --precision fp32");
            setEnabled = (delegate* unmanaged<sbyte, byte, void>)Export("_ZN2at8autocast20set_autocast_enabledEN3c1010DeviceTypeEb");
            isEnabled = (delegate* unmanaged<sbyte, byte>)Export("_ZN2at8autocast19is_autocast_enabledEN3c1010DeviceTypeE");
            setDtype = (delegate* unmanaged<sbyte, sbyte, void>)Export("_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE");
            getDtype = (delegate* unmanaged<sbyte, sbyte>)Export("_ZN2at8autocast18get_autocast_dtypeEN3c1010DeviceTypeE");
            incrementNesting = (delegate* unmanaged<int>)Export("_ZN2at8autocast17increment_nestingEv");
            decrementNesting = (delegate* unmanaged<int>)Export("_ZN2at8autocast17decrement_nestingEv");
            clearCache = (delegate* unmanaged<void>)Export("_ZN2at8autocast11clear_cacheEv");
        }

        public void SetEnabled(sbyte device, byte enabled) => setEnabled(device, enabled);
        public byte IsEnabled(sbyte device) => isEnabled(device);
        public void SetDtype(sbyte device, sbyte type) => setDtype(device, type);
        public sbyte GetDtype(sbyte device) => getDtype(device);
        public int IncrementNesting() => incrementNesting();
        public int DecrementNesting() => decrementNesting();
        public void ClearCache() => clearCache();
    }
}
