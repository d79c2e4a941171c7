using BenchmarkDotNet.Attributes;

namespace Kernels.Benchmarks;

/// <summary>
/// A batch of sequences of different lengths padded to one (issue 10's per-batch key lengths): B = 4, H = 16, D = 64,
/// padded to L = 1024, of 1024, 768, 512 and 256 tokens, causal. Ours (Attention.Forward with AttentionOptions.KeyLengths,
/// specs/attention.padded.einsum, which skips the key tiles past each length) against ONNX Runtime's GroupQueryAttention
/// given the same lengths (seqlens_k), our causal call over the whole padded batch (the work without the lengths), and the
/// FMA peak over the FLOPs the lengths leave (4 H D per query-key pair a causal row keeps) in the same run.
/// </summary>
[BenchmarkCategory("attention")]
public class PaddedBenchmarks : IWork
{
    private const int B = 4, H = 16, D = 64, L = 1024;
    private static readonly int[] Lengths = { 1024, 768, 512, 256 };

    private float[] _q = Array.Empty<float>(), _k = Array.Empty<float>(), _v = Array.Empty<float>(), _o = Array.Empty<float>(), _full = Array.Empty<float>();
    private OnnxRun? _onnx;

    public double Flops => 4.0 * H * D * Lengths.Sum(n => (double)n * (n + 1) / 2);

    public double Bytes => 4.0 * Lengths.Sum() * H * D * sizeof(float);

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(7);
        float[] Make(long n) { var x = new float[n]; for (long i = 0; i < n; i++) x[i] = (float)(r.NextDouble() * 2 - 1); return x; }
        _q = Make((long)B * H * L * D);
        _k = Make((long)B * H * L * D);
        _v = Make((long)B * H * L * D);
        _o = new float[_q.Length];
        _full = new float[_q.Length];
        var shape = new long[] { B, L, H * D };
        var present = new long[] { B, H, L, D };
        var onnxOutput = new float[_q.Length];
        _onnx = new OnnxRun(OnnxModels.GroupQueryAttention(B, L, H, H, D), Environment.ProcessorCount,
            new[] { ("query", SequenceMajor(_q), shape), ("key", SequenceMajor(_k), shape), ("value", SequenceMajor(_v), shape) },
            new[] { ("output", onnxOutput, shape), ("present_key", new float[_k.Length], present), ("present_value", new float[_v.Length], present) },
            new[] { ("seqlens_k", Lengths.Select(n => n - 1).ToArray(), new long[] { B }), ("total_sequence_length", new[] { L }, new long[] { 1 }) });
        // The same attention on every query of a sequence, or the comparison means nothing (the padded rows past a length
        // are padding, which each library fills as it defines).
        _onnx.Run();
        Ours();
        var ours = SequenceMajor(_o);
        var worst = 0f;
        for (var b = 0; b < B; b++)
            for (var t = 0; t < Lengths[b]; t++)
                for (var i = 0; i < H * D; i++)
                {
                    var at = ((long)b * L + t) * H * D + i;
                    worst = Math.Max(worst, Math.Abs(ours[at] - onnxOutput[at]));
                }
        if (!(worst < 1e-3f)) throw new InvalidOperationException($"GroupQueryAttention with seqlens_k and ours with KeyLengths differ by {worst}.");
    }

    /// <summary>[B, H, L, D] as ORT's [B, L, H * D].</summary>
    private static float[] SequenceMajor(float[] x)
    {
        var y = new float[x.Length];
        for (var b = 0; b < B; b++)
            for (var t = 0; t < L; t++)
                for (var h = 0; h < H; h++)
                    Array.Copy(x, (((long)b * H + h) * L + t) * D, y, (((long)b * L + t) * H + h) * D, D);
        return y;
    }

    [GlobalCleanup]
    public void Cleanup() => _onnx?.Dispose();

    [Benchmark(Description = "Kernels Attention.Forward, causal, key lengths"), Ours]
    public void Ours() => Attention.Forward(_q, _k, _v, _o, new AttentionShape(B, H, H, L, L, D, D), new AttentionOptions(Causal: true, KeyLengths: Lengths));

    [Benchmark(Description = "ONNX Runtime GroupQueryAttention (causal, seqlens_k)"), Peer]
    public void Onnx() => _onnx!.Run();

    [Benchmark(Description = "Kernels Attention.Forward, causal, whole padded batch"), Ours]
    public void OursWhole() => Attention.Forward(_q, _k, _v, _full, new AttentionShape(B, H, H, L, L, D, D), new AttentionOptions(Causal: true));

    [Benchmark(Baseline = true, Description = "FMA peak, same FLOPs (all cores)"), Limit]
    public float Peak() => Limits.FmaPeak(Flops);
}
