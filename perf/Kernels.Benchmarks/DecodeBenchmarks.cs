using BenchmarkDotNet.Attributes;

namespace Kernels.Benchmarks;

/// <summary>
/// One decode step: one query per head against a KV cache, B = 1, H = 32, D = 128, M = 8192 keys (a 7B-class model
/// at 8K context), with 32 key/value heads (multi-head), 8 (grouped-query, as Llama 3 8B and Mistral 7B) or 1
/// (multi-query: fewer key/value heads than cores, so the step splits its keys into blocks across them). Ours
/// (Attention.Forward with an AttentionShape; below KernelRuntime.FewRows queries it reads K and V in place, and the
/// four query heads of a key/value head are rows of one) against ONNX Runtime's MultiHeadAttention over the same cache
/// (with 8 key/value heads, over the cache repeated to 32 heads, as a model without grouped-query support runs it; the
/// repeat is made once, outside the timing), and against the memory limit: a copy of as many floats as K on every core,
/// which moves as many bytes as reading K and V once (the least any decode step must do), and a vector sum of K and V on
/// every core (the same bytes read and none written: on the 2-core EPYC VM it takes longer than the copy).
/// <para>The copy runs out of cache, as the machine's copy bandwidth is measured (STREAM's rule): each call copies the
/// next slot of a source pool into the next slot of a destination pool, both at least 256 MB, so that no call finds
/// what an earlier one read or wrote in the last-level cache. A decode step finds nothing there either: it reads K and V
/// (64 MB with 8 key/value heads) once per call. Copying K onto the same buffer every call let the copy of 32 MB keep
/// part of its 64 MB in the 32 MB L3 of the EPYC VM: 0.60-0.76 ms (about 100 GB/s), where the same copy out of cache
/// takes 1.14-1.20 ms (56 GB/s; the 32-head case, 128 MB, was out of cache already).</para>
/// </summary>
[BenchmarkCategory("attention")]
public class DecodeBenchmarks : IWork
{
    public const int Heads = 32, HeadDim = 128;

    [Params(8192)] public int Keys;

    [Params(32, 8, 1)] public int KeyValueHeads;

    public double Flops => 4.0 * Heads * Keys * HeadDim;

    public double Bytes => 2.0 * KeyValueHeads * Keys * HeadDim * sizeof(float);

    /// <summary>The least size of each of the copy's pools, in floats (256 MB).</summary>
    private const long PoolFloats = 64L << 20;

    private float[] _q = Array.Empty<float>(), _k = Array.Empty<float>(), _v = Array.Empty<float>(), _o = Array.Empty<float>();
    private float[][] _from = Array.Empty<float[]>(), _to = Array.Empty<float[]>();
    private int _slot;
    private OnnxRun? _onnx;

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(5);
        float[] Make(long n) { var x = new float[n]; for (long i = 0; i < n; i++) x[i] = (float)(r.NextDouble() * 2 - 1); return x; }
        (_q, _k, _v, _o) = (Make(Heads * HeadDim), Make((long)KeyValueHeads * Keys * HeadDim), Make((long)KeyValueHeads * Keys * HeadDim), new float[Heads * HeadDim]);
        // The copy's pools: slots of K's size, as many as make 256 MB (at least two), each written once so that its pages
        // are in memory before the timing.
        var slots = (int)Math.Max(2, (PoolFloats + _k.Length - 1) / _k.Length);
        float[] Filled() { var x = new float[_k.Length]; x.AsSpan().Fill(1f); return x; }
        _from = Enumerable.Range(0, slots).Select(_ => Filled()).ToArray();
        _to = Enumerable.Range(0, slots).Select(_ => Filled()).ToArray();
        // ORT takes [1, 1, H * D] and [1, M, H * D]: the same bytes with the heads interleaved per token, each key/value
        // head repeated for the query heads it serves.
        var query = new long[] { 1, 1, Heads * HeadDim };
        var keys = new long[] { 1, Keys, Heads * HeadDim };
        _onnx = new OnnxRun(OnnxModels.MultiHeadAttention(1, Heads, HeadDim, keyLength: Keys), Environment.ProcessorCount,
            new[] { ("query", _q, query), ("key", Repeat(_k), keys), ("value", Repeat(_v), keys) }, new[] { ("output", new float[Heads * HeadDim], query) });
    }

    /// <summary>A [KeyValueHeads, Keys, HeadDim] cache as ORT's [Keys, Heads * HeadDim], each head repeated for its group.</summary>
    private float[] Repeat(float[] cache)
    {
        var group = Heads / KeyValueHeads;
        var x = new float[(long)Keys * Heads * HeadDim];
        for (var m = 0; m < Keys; m++)
            for (var h = 0; h < Heads; h++)
                Array.Copy(cache, ((long)(h / group) * Keys + m) * HeadDim, x, ((long)m * Heads + h) * HeadDim, HeadDim);
        return x;
    }

    [GlobalCleanup]
    public void Cleanup() => _onnx?.Dispose();

    [Benchmark(Description = "Kernels Attention.Forward, one query per head"), Ours]
    public void Ours() => Attention.Forward(_q, _k, _v, _o, new AttentionShape(1, Heads, KeyValueHeads, 1, Keys, HeadDim, HeadDim));

    [Benchmark(Description = "ONNX Runtime MultiHeadAttention, one query"), Peer]
    public void Onnx() => _onnx!.Run();

    [Benchmark(Baseline = true, Description = "copy of K's size out of cache, all cores (moves K and V's bytes once)"), Limit]
    public void Copy()
    {
        Limits.ParallelCopy(_from[_slot], _to[_slot]);
        _slot = (_slot + 1) % _from.Length;
    }

    [Benchmark(Description = "read K and V once, all cores (a vector sum, no writes)"), Limit]
    public float Read() => Limits.ParallelRead(_k, _v);
}
