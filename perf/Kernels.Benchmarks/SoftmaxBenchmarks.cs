using BenchmarkDotNet.Attributes;
using System.Numerics.Tensors;

namespace Kernels.Benchmarks;

/// <summary>
/// Row softmax over 16M floats: ours (two passes, generated from softmax.2pass) against
/// TensorPrimitives.SoftMax row by row and against a copy of the same array, the memory limit
/// (two-pass softmax moves 2 reads + 1 write, so its floor is about 1.5 copies).
/// </summary>
[MemoryDiagnoser(false)]
public class SoftmaxBenchmarks
{
    [Params(4096)] public int Rows;
    [Params(4096)] public int Columns;
    private float[] _x = Array.Empty<float>();
    private float[] _y = Array.Empty<float>();

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(1);
        _x = Enumerable.Range(0, Rows * Columns).Select(_ => (float)(r.NextDouble() * 20 - 10)).ToArray();
        _y = new float[_x.Length];
    }

    [Benchmark(Baseline = true, Description = "copy (memory limit)")]
    public void Copy() => _x.AsSpan().CopyTo(_y);

    [Benchmark(Description = "Kernels Softmax.Rows")]
    public void Ours() => Softmax.Rows(_x, _y, Rows, Columns);

    [Benchmark(Description = "TensorPrimitives.SoftMax per row")]
    public void TensorPrimitivesRows()
    {
        for (var p = 0; p < Rows; p++) TensorPrimitives.SoftMax(_x.AsSpan(p * Columns, Columns), _y.AsSpan(p * Columns, Columns));
    }
}
