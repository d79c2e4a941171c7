using System;
using System.Diagnostics;
using ILGPU;
using ILGPU.Runtime;

namespace Kernels.Gpu;

/// <summary>
/// The accelerator's own limits, measured (not taken from a datasheet) so that a kernel's figures can be read as a share
/// of what the device does: the bandwidth of a copy kernel over a buffer far larger than any cache, and the rate of
/// independent fused multiply-adds in registers.
/// </summary>
public static class GpuLimits
{
    /// <summary>GB/s moved (read plus written) by a kernel that copies <paramref name="megabytes"/> MB; the best of a few runs.</summary>
    public static double CopyBandwidth(Accelerator accelerator, int megabytes = 512)
    {
        if (accelerator is null) throw new ArgumentNullException(nameof(accelerator));
        var count = (long)megabytes * (1 << 20) / 4;
        using var from = accelerator.Allocate1D<float>(count);
        using var to = accelerator.Allocate1D<float>(count);
        from.MemSetToZero();
        var copy = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>>(Copy);
        var best = double.MaxValue;
        for (var i = 0; i < 5; i++)
        {
            var watch = Stopwatch.StartNew();
            copy((int)count, from.View, to.View);
            accelerator.Synchronize();
            if (i > 0) best = Math.Min(best, watch.Elapsed.TotalSeconds);
        }
        return 2.0 * count * 4 / best / 1e9;
    }

    /// <summary>GFLOP/s of fused multiply-adds (two FLOPs each): every thread runs 8 independent chains of
    /// <paramref name="iterations"/> steps.</summary>
    public static double FmaPeak(Accelerator accelerator, int iterations = 4096)
    {
        if (accelerator is null) throw new ArgumentNullException(nameof(accelerator));
        var threads = accelerator.AcceleratorType == AcceleratorType.CPU ? 1 << 12 : accelerator.NumMultiprocessors * accelerator.MaxNumThreadsPerMultiprocessor * 4;
        using var sink = accelerator.Allocate1D<float>(threads);
        var fma = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, int>(Fma);
        var best = double.MaxValue;
        for (var i = 0; i < 4; i++)
        {
            var watch = Stopwatch.StartNew();
            fma(threads, sink.View, iterations);
            accelerator.Synchronize();
            if (i > 0) best = Math.Min(best, watch.Elapsed.TotalSeconds);
        }
        return 2.0 * 8 * threads * (double)iterations / best / 1e9;
    }

    private static void Copy(Index1D i, ArrayView<float> from, ArrayView<float> to) => to[i] = from[i];

    private static void Fma(Index1D i, ArrayView<float> sink, int iterations)
    {
        float a = i, b = a + 1, c = a + 2, d = a + 3, e = a + 4, f = a + 5, g = a + 6, h = a + 7;
        const float m = 0.999f, k = 0.001f;
        for (var n = 0; n < iterations; n++)
        {
            a = a * m + k; b = b * m + k; c = c * m + k; d = d * m + k;
            e = e * m + k; f = f * m + k; g = g * m + k; h = h * m + k;
        }
        sink[i] = a + b + c + d + e + f + g + h;
    }
}
