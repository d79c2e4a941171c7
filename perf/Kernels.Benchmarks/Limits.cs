using System.Runtime.Intrinsics;

namespace Kernels.Benchmarks;

/// <summary>The machine's own limits, measured inside the same benchmark run as the kernels.</summary>
public static class Limits
{
    /// <summary>
    /// Runs <paramref name="flops"/> floating-point operations as fused multiply-adds of the widest accelerated vector
    /// width (Vector512 only where it is in hardware), 12 independent accumulators per core, on every core.
    /// </summary>
    public static float FmaPeak(double flops)
    {
        var cores = Environment.ProcessorCount;
        var width = Vector512.IsHardwareAccelerated ? Vector512<float>.Count : Vector256<float>.Count;
        var perCore = (long)(flops / cores / (12 * 2 * width));
        var sums = new float[cores];
        Parallel.For(0, cores, c => sums[c] = Vector512.IsHardwareAccelerated ? Fma512(perCore) : Fma256(perCore));
        return sums.Sum();
    }

    private static float Fma512(long iterations)
    {
        var x = Vector512.Create(0.999f);
        var y = Vector512.Create(1e-3f);
        Vector512<float> a0 = y, a1 = y, a2 = y, a3 = y, a4 = y, a5 = y, a6 = y, a7 = y, a8 = y, a9 = y, a10 = y, a11 = y;
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, x, y); a1 = Vector512.FusedMultiplyAdd(a1, x, y); a2 = Vector512.FusedMultiplyAdd(a2, x, y);
            a3 = Vector512.FusedMultiplyAdd(a3, x, y); a4 = Vector512.FusedMultiplyAdd(a4, x, y); a5 = Vector512.FusedMultiplyAdd(a5, x, y);
            a6 = Vector512.FusedMultiplyAdd(a6, x, y); a7 = Vector512.FusedMultiplyAdd(a7, x, y); a8 = Vector512.FusedMultiplyAdd(a8, x, y);
            a9 = Vector512.FusedMultiplyAdd(a9, x, y); a10 = Vector512.FusedMultiplyAdd(a10, x, y); a11 = Vector512.FusedMultiplyAdd(a11, x, y);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    private static float Fma256(long iterations)
    {
        var x = Vector256.Create(0.999f);
        var y = Vector256.Create(1e-3f);
        Vector256<float> a0 = y, a1 = y, a2 = y, a3 = y, a4 = y, a5 = y, a6 = y, a7 = y, a8 = y, a9 = y, a10 = y, a11 = y;
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, x, y); a1 = Vector256.FusedMultiplyAdd(a1, x, y); a2 = Vector256.FusedMultiplyAdd(a2, x, y);
            a3 = Vector256.FusedMultiplyAdd(a3, x, y); a4 = Vector256.FusedMultiplyAdd(a4, x, y); a5 = Vector256.FusedMultiplyAdd(a5, x, y);
            a6 = Vector256.FusedMultiplyAdd(a6, x, y); a7 = Vector256.FusedMultiplyAdd(a7, x, y); a8 = Vector256.FusedMultiplyAdd(a8, x, y);
            a9 = Vector256.FusedMultiplyAdd(a9, x, y); a10 = Vector256.FusedMultiplyAdd(a10, x, y); a11 = Vector256.FusedMultiplyAdd(a11, x, y);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    /// <summary>Copies <paramref name="source"/> into <paramref name="destination"/> in one contiguous chunk per core.</summary>
    public static void ParallelCopy(float[] source, float[] destination)
    {
        var cores = Environment.ProcessorCount;
        Parallel.For(0, cores, c =>
        {
            var start = (int)((long)source.Length * c / cores);
            var end = (int)((long)source.Length * (c + 1) / cores);
            source.AsSpan(start, end - start).CopyTo(destination.AsSpan(start, end - start));
        });
    }
}
