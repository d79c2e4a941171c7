using BenchmarkDotNet.Attributes;

namespace Kernels.Benchmarks;

/// <summary>
/// One decode step: one query per head against a KV cache, B = 1, H = 32, D = 128, M = 8192 keys (a 7B-class model
/// at 8K context). Ours (Attention.Forward with an AttentionShape; below KernelRuntime.FewRows queries it reads K and
/// V in place) against ONNX Runtime's MultiHeadAttention over the same cache, and against the memory limit: a copy of
/// K on every core, which moves as many bytes as reading K and V once (the least any decode step must do).
/// </summary>
[BenchmarkCategory("attention")]
public class DecodeBenchmarks : IWork
{
    public const int Heads = 32, HeadDim = 128;

    [Params(8192)] public int Keys;

    public double Flops => 4.0 * Heads * Keys * HeadDim;

    public double Bytes => 2.0 * Heads * Keys * HeadDim * sizeof(float);

    private float[] _q = Array.Empty<float>(), _k = Array.Empty<float>(), _v = Array.Empty<float>(), _o = Array.Empty<float>(), _copy = Array.Empty<float>();
    private OnnxRun? _onnx;

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(5);
        float[] Make(long n) { var x = new float[n]; for (long i = 0; i < n; i++) x[i] = (float)(r.NextDouble() * 2 - 1); return x; }
        (_q, _k, _v, _o) = (Make(Heads * HeadDim), Make((long)Heads * Keys * HeadDim), Make((long)Heads * Keys * HeadDim), new float[Heads * HeadDim]);
        _copy = new float[_k.Length];
        // ORT takes [1, 1, H * D] and [1, M, H * D]: the same bytes with the heads interleaved per token.
        var query = new long[] { 1, 1, Heads * HeadDim };
        var keys = new long[] { 1, Keys, Heads * HeadDim };
        _onnx = new OnnxRun(OnnxModels.MultiHeadAttention(1, Heads, HeadDim, keyLength: Keys), Environment.ProcessorCount,
            new[] { ("query", _q, query), ("key", _k, keys), ("value", _v, keys) }, new[] { ("output", new float[Heads * HeadDim], query) });
    }

    [GlobalCleanup]
    public void Cleanup() => _onnx?.Dispose();

    [Benchmark(Description = "Kernels Attention.Forward, one query per head"), Ours]
    public void Ours() => Attention.Forward(_q, _k, _v, _o, new AttentionShape(1, Heads, Heads, 1, Keys, HeadDim, HeadDim));

    [Benchmark(Description = "ONNX Runtime MultiHeadAttention, one query"), Peer]
    public void Onnx() => _onnx!.Run();

    [Benchmark(Baseline = true, Description = "copy of K, all cores (reads K and V's bytes once)"), Limit]
    public void Copy() => Limits.ParallelCopy(_k, _copy);
}
