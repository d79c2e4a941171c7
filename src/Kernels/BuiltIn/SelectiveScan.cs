using System;

namespace Kernels;

/// <summary>Mamba's selective scan for one sequence.</summary>
/// <remarks>Generated from specs/selective_scan.einsum; channels are split across threads and the N-wide state of each channel is carried along the sequence in registers-sized scratch.</remarks>
public static partial class SelectiveScan
{
    [Einsum(SpecFile = "selective_scan.einsum")]
    private static partial void Scan(ReadOnlySpan<float> U, ReadOnlySpan<float> DELTA, ReadOnlySpan<float> A, ReadOnlySpan<float> B, ReadOnlySpan<float> C, ReadOnlySpan<float> DS, ReadOnlySpan<float> Z, ReadOnlySpan<float> DB, Span<float> Y, int D, int L, int N);

    /// <summary>y = (C . x_l + D u) * silu(z), x_{l+1} = exp(dt A) x_l + dt B u, dt = softplus(delta + deltaBias).</summary>
    /// <param name="u">[channels, length]</param>
    /// <param name="delta">[channels, length]</param>
    /// <param name="a">[channels, stateSize]</param>
    /// <param name="b">[stateSize, length]</param>
    /// <param name="c">[stateSize, length]</param>
    /// <param name="d">[channels], the skip.</param>
    /// <param name="z">[channels, length], the gate.</param>
    /// <param name="deltaBias">[channels]</param>
    /// <param name="y">[channels, length]</param>
    /// <param name="channels">D.</param>
    /// <param name="length">L.</param>
    /// <param name="stateSize">N.</param>
    public static void Forward(ReadOnlySpan<float> u, ReadOnlySpan<float> delta, ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> c, ReadOnlySpan<float> d, ReadOnlySpan<float> z, ReadOnlySpan<float> deltaBias, Span<float> y, int channels, int length, int stateSize) =>
        Scan(u, delta, a, b, c, d, z, deltaBias, y, channels, length, stateSize);

    /// <summary>The cascade of <see cref="Forward"/> (selective_scan.einsum) as data, for the hardware models of Kernels.Hardware:
    /// <c>ForwardDescriptor.Cost(SpatialPresets.FuseMax, sizes)</c> with the sizes D, L, N.</summary>
    public static Kernels.Einsum.KernelDescriptor ForwardDescriptor => ScanDescriptor;
}
