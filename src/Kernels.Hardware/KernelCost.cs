using Kernels.Einsum;
using Kernels.Hardware.Fpga;
using Kernels.Hardware.Pim;
using Kernels.Hardware.Roofline;
using Kernels.Hardware.Spatial;
using Kernels.Hardware.Targets;

namespace Kernels.Hardware;

/// <summary>
/// The hardware models applied to a generated kernel's <see cref="KernelDescriptor"/>, so that user code costs the
/// kernel it compiles: <c>MyKernels.RmsNormDescriptor.Cost(SpatialPresets.FuseMax, sizes)</c>. Each overload is the
/// model of Kernels.Hardware for that kind of target, on the descriptor's cascade; nothing is parsed.
/// </summary>
/// <remarks>
/// Sizes are the kernel's size parameters (<see cref="KernelDescriptor.Sizes"/>) by name. A bad size (unknown, negative,
/// missing) is an <see cref="ArgumentException"/> naming <c>sizes</c>, raised before anything is computed.
/// </remarks>
public static class KernelCost
{
    /// <summary>The kernel on a spatial array (FuseMax, FLAT, unfused, or a target from JSON): latency, utilisation,
    /// DRAM traffic, buffer need and energy.</summary>
    /// <param name="instances">Independent copies run back to back (batch x heads for attention).</param>
    /// <param name="bindingOverrides">Output tensor name -> array name, to override the derived binding.</param>
    public static SpatialResult Cost(this KernelDescriptor kernel, SpatialTarget target, IReadOnlyDictionary<string, int> sizes, double instances = 1,
        IReadOnlyDictionary<string, string>? bindingOverrides = null)
    {
        Check(kernel, sizes);
        return SpatialArrayModel.Evaluate(kernel.Cascade, sizes, target, instances, bindingOverrides);
    }

    /// <summary>The kernel as an HLS design on an FPGA: DSP, BRAM, LUT, FF and latency at a reuse factor (hls4ml-style closed forms).</summary>
    public static HlsEstimate Cost(this KernelDescriptor kernel, FpgaDevice device, IReadOnlyDictionary<string, int> sizes, int reuseFactor = 1, int bits = 16)
    {
        Check(kernel, sizes);
        if (device is null) throw new ArgumentNullException(nameof(device));
        return HlsEstimator.Estimate(kernel.Cascade, sizes, reuseFactor, bits, device);
    }

    /// <summary>The kernel placed Einsum by Einsum across an xPU and processing-in-memory targets (<see cref="PimPresets.All"/>) by roofline.</summary>
    /// <param name="fused">True: values used in the pass that writes them stay on chip; false: every Einsum goes through DRAM.</param>
    public static PimResult Cost(this KernelDescriptor kernel, IReadOnlyList<PimTarget> targets, IReadOnlyDictionary<string, int> sizes, double instances = 1, bool fused = true)
    {
        Check(kernel, sizes);
        if (targets is null) throw new ArgumentNullException(nameof(targets));
        if (targets.Count == 0) throw new ArgumentException("Give at least one target, e.g. PimPresets.All.", nameof(targets));
        return PimPlacement.Place(kernel.Cascade, sizes, instances, fused, targets);
    }

    /// <summary>The kernel as HLS C++ (one function per pass) that g++ compiles as a C simulation.</summary>
    public static HlsDesign EmitHls(this KernelDescriptor kernel, IReadOnlyDictionary<string, int> sizes, HlsOptions? options = null)
    {
        Check(kernel, sizes);
        return HlsEmitter.Emit(kernel.Cascade, sizes, options);
    }

    /// <summary>The kernel's Einsums on a spatial target's roofline (`kernels roofline` draws it as SVG).</summary>
    public static RooflineData Roofline(this KernelDescriptor kernel, SpatialTarget target, IReadOnlyDictionary<string, int> sizes, double instances = 1)
    {
        Check(kernel, sizes);
        return RooflinePlot.ForSpatial(kernel.Cascade, sizes, target, instances);
    }

    // Binding the sizes checks every name and value and throws ArgumentException(sizes) before a model runs.
    private static void Check(KernelDescriptor kernel, IReadOnlyDictionary<string, int> sizes)
    {
        if (kernel is null) throw new ArgumentNullException(nameof(kernel));
        if (sizes is null) throw new ArgumentNullException(nameof(sizes));
        Kernels.Einsum.Interpretation.CascadeShapes.Bind(kernel.Cascade, sizes);
    }
}
