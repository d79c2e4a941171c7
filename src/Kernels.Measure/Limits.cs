using System.Runtime.Intrinsics;

namespace Kernels.Measure;

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
        var wide = Vector512.IsHardwareAccelerated;
        var perCore = (long)(flops / cores / (12 * 2 * (wide ? Kernels.Runtime.V512.Count : Kernels.Runtime.V256.Count)));
        var sums = new float[cores];
        // On the kernels' own worker threads, one chunk per core: Parallel.For could run both chunks of a 2-core machine
        // on the calling thread when no pool thread was free yet, which measured one core's peak (213 GFLOP/s here).
        Kernels.Runtime.KernelRuntime.For(cores, long.MaxValue, 0, (start, end) =>
        {
            for (var c = start; c < end; c++) sums[c] = wide ? Fma<Kernels.Runtime.V512>(perCore) : Fma<Kernels.Runtime.V256>(perCore);
        });
        return sums.Sum();
    }

    /// <summary>12 independent chains of fused multiply-adds, enough to cover the FMA latency on every current core.</summary>
    private static float Fma<TV>(long iterations) where TV : unmanaged, Kernels.Runtime.ISimdFloat<TV>
    {
        var x = TV.Create(0.999f);
        var y = TV.Create(1e-3f);
        TV a0 = y, a1 = y, a2 = y, a3 = y, a4 = y, a5 = y, a6 = y, a7 = y, a8 = y, a9 = y, a10 = y, a11 = y;
        for (long i = 0; i < iterations; i++)
        {
            a0 = TV.MultiplyAdd(a0, x, y); a1 = TV.MultiplyAdd(a1, x, y); a2 = TV.MultiplyAdd(a2, x, y);
            a3 = TV.MultiplyAdd(a3, x, y); a4 = TV.MultiplyAdd(a4, x, y); a5 = TV.MultiplyAdd(a5, x, y);
            a6 = TV.MultiplyAdd(a6, x, y); a7 = TV.MultiplyAdd(a7, x, y); a8 = TV.MultiplyAdd(a8, x, y);
            a9 = TV.MultiplyAdd(a9, x, y); a10 = TV.MultiplyAdd(a10, x, y); a11 = TV.MultiplyAdd(a11, x, y);
        }
        return TV.SumAcross(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    /// <summary>
    /// The FMA peak of this machine in GFLOP/s (2 FLOPs per lane per fused multiply-add), all cores, the widest
    /// accelerated width: the best of <paramref name="repeats"/> runs of about <paramref name="seconds"/> each.
    /// </summary>
    public static double MeasureFmaPeak(double seconds = 0.05, int repeats = 3)
    {
        var flops = 1e8;
        FmaPeak(flops); // compile and warm up
        var best = 0.0;
        for (var i = 0; i < repeats; i++)
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            FmaPeak(flops);
            var elapsed = watch.Elapsed.TotalSeconds;
            best = Math.Max(best, flops / elapsed / 1e9);
            if (elapsed < seconds / 2) { flops *= 4; i--; }
        }
        return best;
    }

    /// <summary>
    /// The copy bandwidth of this machine in GB/s (bytes read plus bytes written per second), all cores, out of
    /// cache: the best of <paramref name="repeats"/> copies of <paramref name="bytes"/> bytes.
    /// </summary>
    public static double MeasureCopyBandwidth(long bytes = 128L << 20, int repeats = 3)
    {
        var source = new float[bytes / sizeof(float)];
        var destination = new float[source.Length];
        source.AsSpan().Fill(1f);
        ParallelCopy(source, destination); // fault the pages in
        var best = 0.0;
        for (var i = 0; i < repeats; i++)
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            ParallelCopy(source, destination);
            best = Math.Max(best, 2.0 * bytes / watch.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    /// <summary>
    /// Reads <paramref name="first"/> and <paramref name="second"/> once, in one contiguous chunk of each per core, and
    /// returns their sum (TensorPrimitives.Sum, vectorised): the least a kernel that streams both arrays must do, with
    /// no write traffic, as a copy has.
    /// </summary>
    public static float ParallelRead(float[] first, float[] second)
    {
        var cores = Environment.ProcessorCount;
        var sums = new float[cores];
        Parallel.For(0, cores, c =>
        {
            var sum = 0f;
            foreach (var array in new[] { first, second })
            {
                var start = (int)((long)array.Length * c / cores);
                var end = (int)((long)array.Length * (c + 1) / cores);
                sum += System.Numerics.Tensors.TensorPrimitives.Sum(array.AsSpan(start, end - start));
            }
            sums[c] = sum;
        });
        return sums.Sum();
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
