using BenchmarkDotNet.Attributes;

namespace Kernels.Benchmarks;

/// <summary>
/// A user-declared cascade with a contraction, generated with no code written for it: a batched matrix product, a
/// bias and a ReLU, 8 batches of 256 x 256 x 256 (2 * 8 * 256^3 FLOPs). Against ONNX Runtime running the same three
/// operators (MatMul, Add, Relu) with as many intra-op threads, and the FMA peak of the widest accelerated width on
/// every core over the same FLOPs, measured in the same run.
/// </summary>
[BenchmarkCategory("contraction")]
public class ContractionBenchmarks : IWork
{
    public double Flops => 2.0 * Batch * Size * Size * Size;

    public double Bytes => (3.0 * Batch * Size * Size + Size) * sizeof(float);

    public const int Batch = 8, Size = 256;
    private float[] _a = Array.Empty<float>(), _w = Array.Empty<float>(), _bias = Array.Empty<float>(), _y = Array.Empty<float>(), _onnxY = Array.Empty<float>();
    private OnnxRun? _onnx;

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(3);
        float[] Make(int n) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
        (_a, _w, _bias) = (Make(Batch * Size * Size), Make(Batch * Size * Size), Make(Size));
        _y = new float[Batch * Size * Size];
        _onnxY = new float[_y.Length];
        var cube = new long[] { Batch, Size, Size };
        _onnx = new OnnxRun(OnnxModels.MatMulBiasRelu(Batch, Size, Size, Size), Environment.ProcessorCount,
            new[] { ("A", _a, cube), ("W", _w, cube), ("bias", _bias, new long[] { Size }) }, new[] { ("Y", _onnxY, cube) });
        // The two must agree before either is timed.
        UserKernels.BatchedMatMulBiasRelu(_a, _w, _bias, _y, Batch, Size, Size, Size);
        _onnx.Run();
        var worst = _y.Zip(_onnxY, (x, y) => Math.Abs(x - y)).Max();
        if (worst > 1e-3f) throw new InvalidOperationException($"ours and ONNX Runtime differ by {worst}");
    }

    [GlobalCleanup]
    public void Cleanup() => _onnx?.Dispose();

    [Benchmark(Description = "Kernels, generated from the user's cascade"), Ours]
    public void Ours() => UserKernels.BatchedMatMulBiasRelu(_a, _w, _bias, _y, Batch, Size, Size, Size);

    [Benchmark(Description = "ONNX Runtime MatMul + Add + Relu"), Peer]
    public void Onnx() => _onnx!.Run();

    [Benchmark(Baseline = true, Description = "FMA peak, same FLOPs (all cores)"), Limit]
    public float Peak() => Limits.FmaPeak(2.0 * Batch * Size * Size * Size);
}

/// <summary>Cascades a user would declare; nothing but the spec is written for them.</summary>
public static partial class UserKernels
{
    [Einsum("""
        kernel batched_matmul_bias_relu
        input  A[b,m,k], W[b,k,n], BIAS[n]
        output Y[b,m,n]
        C[b,m,n] = A[b,m,k] * W[b,k,n]
        Y[b,m,n] = relu(C[b,m,n] + BIAS[n])
        """)]
    public static partial void BatchedMatMulBiasRelu(ReadOnlySpan<float> A, ReadOnlySpan<float> W, ReadOnlySpan<float> BIAS, Span<float> Y, int B, int M, int K, int N);
}
