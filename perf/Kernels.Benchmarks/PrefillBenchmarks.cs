using BenchmarkDotNet.Attributes;

namespace Kernels.Benchmarks;

/// <summary>
/// Prefill shapes of issue 10, unmasked: a batch of sequences (B = 4, H = 16, D = 64, L = 1024) and grouped-query
/// attention as Llama 3 8B runs it (B = 1, 32 query heads, 8 key/value heads, D = 128, L = 2048). Ours
/// (Attention.Forward with an AttentionShape, [batch, heads, sequence, dim]) against ONNX Runtime's MultiHeadAttention on
/// the same values in its [batch, sequence, heads * dim] layout (for grouped-query attention over K and V repeated to 32
/// heads, as a model without grouped-query support runs it; the repeat is made once, outside the timing), and the FMA
/// peak over the same FLOPs (4 B H L^2 D) in the same run.
/// </summary>
[BenchmarkCategory("attention")]
public class PrefillBenchmarks : IWork
{
    [Params("B4 H16 D64 L1024", "B1 H32/8 D128 L2048")] public string Case = "B4 H16 D64 L1024";

    private int _b, _h, _kvh, _d, _l;
    private float[] _q = Array.Empty<float>(), _k = Array.Empty<float>(), _v = Array.Empty<float>(), _o = Array.Empty<float>();
    private OnnxRun? _onnx, _onnxGroupQuery;
    private float[] _causal = Array.Empty<float>();

    public double Flops => 4.0 * _b * _h * (double)_l * _l * _d;

    public double Bytes => 4.0 * _b * _h * _l * _d * sizeof(float);

    [GlobalSetup]
    public void Setup()
    {
        (_b, _h, _kvh, _d, _l) = Case == "B4 H16 D64 L1024" ? (4, 16, 16, 64, 1024) : (1, 32, 8, 128, 2048);
        var r = new Random(7);
        float[] Make(long n) { var x = new float[n]; for (long i = 0; i < n; i++) x[i] = (float)(r.NextDouble() * 2 - 1); return x; }
        _q = Make((long)_b * _h * _l * _d);
        _k = Make((long)_b * _kvh * _l * _d);
        _v = Make((long)_b * _kvh * _l * _d);
        _o = new float[_q.Length];
        var shape = new long[] { _b, _l, _h * _d };
        _onnx = new OnnxRun(OnnxModels.MultiHeadAttention(_l, _h, _d, batch: _b), Environment.ProcessorCount,
            new[] { ("query", SequenceMajor(_q, _h), shape), ("key", SequenceMajor(_k, _kvh), shape), ("value", SequenceMajor(_v, _kvh), shape) },
            new[] { ("output", new float[_q.Length], shape) });
        // GroupQueryAttention takes K and V with their own heads, and its CPU kernel is causal: it runs beside ours causal.
        var keys = new long[] { _b, _l, _kvh * _d };
        var present = new long[] { _b, _kvh, _l, _d };
        _causal = new float[_q.Length];
        var groupQueryOutput = new float[_q.Length];
        _onnxGroupQuery = new OnnxRun(OnnxModels.GroupQueryAttention(_b, _l, _h, _kvh, _d), Environment.ProcessorCount,
            new[] { ("query", SequenceMajor(_q, _h), shape), ("key", SequenceMajor(_k, _kvh, _kvh), keys), ("value", SequenceMajor(_v, _kvh, _kvh), keys) },
            new[] { ("output", groupQueryOutput, shape), ("present_key", new float[_k.Length], present), ("present_value", new float[_v.Length], present) },
            new[] { ("seqlens_k", Enumerable.Repeat(_l - 1, _b).ToArray(), new long[] { _b }), ("total_sequence_length", new[] { _l }, new long[] { 1 }) });
        // The same attention, or the comparison means nothing: ORT's [B, L, H * D] against ours [B, H, L, D].
        _onnxGroupQuery.Run();
        OursCausal();
        var ours = SequenceMajor(_causal, _h);
        var worst = ours.Zip(groupQueryOutput, (x, y) => Math.Abs(x - y)).Max();
        if (!(worst < 1e-3f)) throw new InvalidOperationException($"GroupQueryAttention and ours causal differ by {worst}.");
    }

    /// <summary>[B, heads, L, D] as ORT's [B, L, to * D], each of the <paramref name="heads"/> repeated for the
    /// <paramref name="to"/> / heads heads it serves (to: the query heads unless given).</summary>
    private float[] SequenceMajor(float[] x, int heads, int to = 0)
    {
        to = to == 0 ? _h : to;
        var group = to / heads;
        var y = new float[(long)_b * _l * to * _d];
        for (var b = 0; b < _b; b++)
            for (var t = 0; t < _l; t++)
                for (var h = 0; h < to; h++)
                    Array.Copy(x, (((long)b * heads + h / group) * _l + t) * _d, y, (((long)b * _l + t) * to + h) * _d, _d);
        return y;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _onnx?.Dispose();
        _onnxGroupQuery?.Dispose();
    }

    [Benchmark(Description = "Kernels Attention.Forward"), Ours]
    public void Ours() => Attention.Forward(_q, _k, _v, _o, new AttentionShape(_b, _h, _kvh, _l, _l, _d, _d));

    [Benchmark(Description = "ONNX Runtime MultiHeadAttention"), Peer]
    public void Onnx() => _onnx!.Run();

    [Benchmark(Description = "Kernels Attention.Forward, causal"), Ours]
    public void OursCausal() => Attention.Forward(_q, _k, _v, _causal, new AttentionShape(_b, _h, _kvh, _l, _l, _d, _d), new AttentionOptions(Causal: true));

    [Benchmark(Description = "ONNX Runtime GroupQueryAttention (causal)"), Peer]
    public void OnnxGroupQuery() => _onnxGroupQuery!.Run();

    [Benchmark(Baseline = true, Description = "FMA peak, same FLOPs (all cores)"), Limit]
    public float Peak() => Limits.FmaPeak(Flops);
}
