using BenchmarkDotNet.Attributes;
using System.Numerics.Tensors;

namespace Kernels.Benchmarks;

/// <summary>
/// Row softmax: ours (Softmax.Rows: three passes from softmax.3pass, or for rows longer than the cache with 512-bit
/// vectors two from softmax.2pass.lse; and each spec on its own) against ONNX Runtime's Softmax (opset 13) with as
/// many intra-op threads as we use, TensorPrimitives.SoftMax row by row, and the machine's limit measured in the
/// same run: a copy of the same array on every core. A row in cache between its passes moves 1 read + 1 write out
/// of cache (a copy); a two-pass row longer than the cache 2 reads + 1 write, about 1.5 copies. Shapes: 4096x4096 (64 MiB, out of cache), 64x4096 (1 MiB, in cache) and one
/// row of 16M.
/// </summary>
[BenchmarkCategory("softmax")]
public class SoftmaxBenchmarks : IWork
{
    /// <summary>The operations of softmax.3pass as `kernels analyze` counts them (max, subtract, exp, sum, divide).</summary>
    public double Flops => Softmax.RowsDescriptor.Analyze(new Dictionary<string, int> { ["P"] = Rows, ["N"] = Columns }).Einsums.Sum(e => e.FlopsValue ?? 0);

    public double Bytes => 2.0 * Rows * Columns * sizeof(float);

    private int Rows => int.Parse(Shape.Split('x')[0], System.Globalization.CultureInfo.InvariantCulture);

    private int Columns => int.Parse(Shape.Split('x')[1], System.Globalization.CultureInfo.InvariantCulture);

    [Params("4096x4096", "64x4096", "1x16777216")] public string Shape = "4096x4096";
    private int _rows, _columns;
    private float[] _x = Array.Empty<float>();
    private float[] _y = Array.Empty<float>();
    private OnnxRun? _onnx;

    [GlobalSetup]
    public void Setup()
    {
        var parts = Shape.Split('x');
        (_rows, _columns) = (int.Parse(parts[0]), int.Parse(parts[1]));
        var r = new Random(1);
        _x = Enumerable.Range(0, _rows * _columns).Select(_ => (float)(r.NextDouble() * 20 - 10)).ToArray();
        _y = new float[_x.Length];
        var shape = new long[] { _rows, _columns };
        _onnx = new OnnxRun(OnnxModels.Softmax(_rows, _columns), Environment.ProcessorCount, new[] { ("X", _x, shape) }, new[] { ("Y", _y, shape) });
    }

    [GlobalCleanup]
    public void Cleanup() => _onnx?.Dispose();

    [Benchmark(Baseline = true, Description = "copy, all cores (memory limit)"), Limit]
    public void Copy() => Limits.ParallelCopy(_x, _y);

    [Benchmark(Description = "Kernels Softmax.Rows"), Ours]
    public void Ours() => Softmax.Rows(_x, _y, _rows, _columns);

    [Benchmark(Description = "Kernels softmax.3pass"), Ours]
    public void OursThreePass() => SpecKernels.SoftmaxThreePass(_x, _y, _rows, _columns);

    [Benchmark(Description = "Kernels softmax.2pass"), Ours]
    public void OursTwoPass() => SpecKernels.SoftmaxTwoPass(_x, _y, _rows, _columns);

    [Benchmark(Description = "ONNX Runtime Softmax"), Peer]
    public void Onnx() => _onnx!.Run();

    [Benchmark(Description = "TensorPrimitives.SoftMax per row"), Peer]
    public void TensorPrimitivesRows()
    {
        for (var p = 0; p < _rows; p++) TensorPrimitives.SoftMax(_x.AsSpan(p * _columns, _columns), _y.AsSpan(p * _columns, _columns));
    }
}

/// <summary>The other softmax cascade of specs/, generated here as a user's kernel would be.</summary>
public static partial class SpecKernels
{
    [Einsum(SpecFile = "softmax.3pass.einsum")]
    public static partial void SoftmaxThreePass(ReadOnlySpan<float> X, Span<float> Y, int P, int N);

    [Einsum(SpecFile = "softmax.2pass.einsum")]
    public static partial void SoftmaxTwoPass(ReadOnlySpan<float> X, Span<float> Y, int P, int N);
}
