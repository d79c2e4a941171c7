using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;

namespace Kernels.Benchmarks;

/// <summary>
/// One head of attention (FLOPs = 4 * P * M * E), ours (one pass, generated from attention.fusemax)
/// against the machine's FMA peak measured in the same run: a Vector512 FMA loop with 12 independent
/// accumulators on every core, timed over the same number of FLOPs.
/// </summary>
public class AttentionBenchmarks
{
    [Params(1024, 4096)] public int Length;
    public const int HeadDim = 64;
    private float[] _q = Array.Empty<float>(), _k = Array.Empty<float>(), _v = Array.Empty<float>(), _o = Array.Empty<float>();

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(2);
        float[] Make(int n) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
        _q = Make(Length * HeadDim); _k = Make(Length * HeadDim); _v = Make(Length * HeadDim); _o = new float[Length * HeadDim];
    }

    [Benchmark(Description = "Kernels Attention.Forward")]
    public void Ours() => Attention.Forward(_q, _k, _v, _o, Length, Length, HeadDim, HeadDim);

    [Benchmark(Baseline = true, Description = "FMA peak, same FLOPs (all cores)")]
    public float Peak()
    {
        var flops = 4.0 * Length * Length * HeadDim;
        var cores = Environment.ProcessorCount;
        var perCore = (long)(flops / cores / (12 * 2 * Vector512<float>.Count));
        var sums = new float[cores];
        Parallel.For(0, cores, c => sums[c] = Fma(perCore));
        return sums.Sum();
    }

    private static float Fma(long iterations)
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
}
