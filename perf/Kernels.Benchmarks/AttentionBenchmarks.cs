using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;

namespace Kernels.Benchmarks;

/// <summary>
/// Multi-head attention, B = 1, H = 8, D = 64 (FLOPs = 4 * H * L * L * D): ours (one pass, generated from
/// attention.fusemax, one call per head) against ONNX Runtime's MultiHeadAttention (com.microsoft) with as many
/// intra-op threads, and against the machine's FMA peak measured in the same run: the widest accelerated vector
/// width, 12 independent accumulators on every core, timed over the same number of FLOPs.
/// </summary>
[BenchmarkCategory("attention")]
public class AttentionBenchmarks : IWork
{
    public double Flops => 4.0 * Heads * Length * (double)Length * HeadDim;

    public double Bytes => 4.0 * Heads * Length * HeadDim * sizeof(float);

    [Params(512, 1000, 1024, 2048, 4095, 4096)] public int Length;
    public const int Heads = 8;
    public const int HeadDim = 64;
    private float[][] _q = Array.Empty<float[]>(), _k = Array.Empty<float[]>(), _v = Array.Empty<float[]>(), _o = Array.Empty<float[]>();
    private float[] _query = Array.Empty<float>(), _key = Array.Empty<float>(), _value = Array.Empty<float>(), _output = Array.Empty<float>();
    private float[] _qAll = Array.Empty<float>(), _kAll = Array.Empty<float>(), _vAll = Array.Empty<float>(), _oAll = Array.Empty<float>();
    private OnnxRun? _onnx, _onnxCausal;

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(2);
        float[] Make(int n) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
        _q = Enumerable.Range(0, Heads).Select(_ => Make(Length * HeadDim)).ToArray();
        _k = Enumerable.Range(0, Heads).Select(_ => Make(Length * HeadDim)).ToArray();
        _v = Enumerable.Range(0, Heads).Select(_ => Make(Length * HeadDim)).ToArray();
        _o = Enumerable.Range(0, Heads).Select(_ => new float[Length * HeadDim]).ToArray();
        // ONNX Runtime takes [batch, length, heads * headDim] with the heads interleaved per token.
        float[] Interleave(float[][] heads)
        {
            var all = new float[Length * Heads * HeadDim];
            for (var h = 0; h < Heads; h++)
                for (var t = 0; t < Length; t++)
                    Array.Copy(heads[h], t * HeadDim, all, (t * Heads + h) * HeadDim, HeadDim);
            return all;
        }
        (_query, _key, _value) = (Interleave(_q), Interleave(_k), Interleave(_v));
        (_qAll, _kAll, _vAll, _oAll) = (_q.SelectMany(x => x).ToArray(), _k.SelectMany(x => x).ToArray(), _v.SelectMany(x => x).ToArray(), new float[Length * Heads * HeadDim]);
        _output = new float[_query.Length];
        var shape = new long[] { 1, Length, Heads * HeadDim };
        _onnx = new OnnxRun(OnnxModels.MultiHeadAttention(Length, Heads, HeadDim), Environment.ProcessorCount,
            new[] { ("query", _query, shape), ("key", _key, shape), ("value", _value, shape) }, new[] { ("output", _output, shape) });
        _onnxCausal = new OnnxRun(OnnxModels.MultiHeadAttention(Length, Heads, HeadDim, causal: true), Environment.ProcessorCount,
            new[] { ("query", _query, shape), ("key", _key, shape), ("value", _value, shape) }, new[] { ("output", _output, shape) });
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _onnx?.Dispose();
        _onnxCausal?.Dispose();
    }

    [Benchmark(Description = "Kernels Attention.Forward, per head"), Ours]
    public void Ours()
    {
        for (var h = 0; h < Heads; h++) Attention.Forward(_q[h], _k[h], _v[h], _o[h], Length, Length, HeadDim, HeadDim);
    }

    [Benchmark(Description = "Kernels Attention.MultiHead, all heads in one call"), Ours]
    public void OursMultiHead() => Attention.MultiHead(_qAll, _kAll, _vAll, _oAll, 1, Heads, Length, Length, HeadDim, HeadDim);

    /// <summary>Causal (each query sees the keys up to its own position): half the scores, and the tiles past the
    /// diagonal skipped. Its time against <see cref="OursMultiHead"/> is the saving; against ONNX Runtime's
    /// unidirectional MultiHeadAttention, the comparison on equal work.</summary>
    [Benchmark(Description = "Kernels Attention.Forward, causal, all heads in one call"), Ours]
    public void OursCausal() => Attention.Forward(_qAll, _kAll, _vAll, _oAll, AttentionShape.MultiHead(1, Heads, Length, Length, HeadDim), new AttentionOptions(Causal: true));

    [Benchmark(Description = "ONNX Runtime MultiHeadAttention"), Peer]
    public void Onnx() => _onnx!.Run();

    [Benchmark(Description = "ONNX Runtime MultiHeadAttention, unidirectional (causal)"), Peer]
    public void OnnxCausal() => _onnxCausal!.Run();

    [Benchmark(Baseline = true, Description = "FMA peak, same FLOPs (all cores)"), Limit]
    public float Peak() => Limits.FmaPeak(4.0 * Heads * Length * Length * HeadDim);
}

/// <summary>
/// What each attention option costs, B = 1, H = 8, D = 64, L = 4096, causal: a sliding window of 512 keys
/// (attention.window), a scale of the model's own (attention.scaled), a soft cap on the logits (attention.softcap) and an
/// additive mask with the last eighth of the keys padded out (attention.masked) and the [batch, sequence, heads, dim]
/// layout (attention.bshd), each against the plain causal call
/// (attention.gqa.causal) and the FMA peak over the full FLOPs (4 H L^2 D) in the same run.
/// </summary>
[BenchmarkCategory("attention")]
public class AttentionOptionsBenchmarks : IWork
{
    public const int Heads = 8, HeadDim = 64, Length = 4096;

    public double Flops => 4.0 * Heads * Length * (double)Length * HeadDim;

    public double Bytes => 4.0 * Heads * Length * HeadDim * sizeof(float);

    private float[] _q = Array.Empty<float>(), _k = Array.Empty<float>(), _v = Array.Empty<float>(), _o = Array.Empty<float>(), _mask = Array.Empty<float>();
    private readonly AttentionShape _shape = AttentionShape.MultiHead(1, Heads, Length, Length, HeadDim);

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(2);
        float[] Make(int n) => Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
        (_q, _k, _v, _o) = (Make(Heads * Length * HeadDim), Make(Heads * Length * HeadDim), Make(Heads * Length * HeadDim), new float[Heads * Length * HeadDim]);
        _mask = new float[Length * Length];
        for (var p = 0; p < Length; p++) _mask.AsSpan(p * Length + Length * 7 / 8, Length / 8).Fill(float.NegativeInfinity);
    }

    [Benchmark(Description = "Kernels Attention.Forward, causal (no option)"), Peer]
    public void Causal() => Attention.Forward(_q, _k, _v, _o, _shape, new AttentionOptions(Causal: true));

    [Benchmark(Description = "causal, sliding window of 512"), Ours]
    public void Window() => Attention.Forward(_q, _k, _v, _o, _shape, new AttentionOptions(Causal: true, Window: 512));

    [Benchmark(Description = "causal, scale 1/16"), Ours]
    public void Scaled() => Attention.Forward(_q, _k, _v, _o, _shape, new AttentionOptions(Causal: true, Scale: 1 / 16f));

    [Benchmark(Description = "causal, soft cap 50"), Ours]
    public void SoftCap() => Attention.Forward(_q, _k, _v, _o, _shape, new AttentionOptions(Causal: true, SoftCap: 50));

    [Benchmark(Description = "causal, [batch, sequence, heads, dim] layout"), Ours]
    public void SequenceMajor() => Attention.Forward(_q, _k, _v, _o, _shape, new AttentionOptions(Causal: true, Layout: AttentionLayout.BatchSequenceHead));

    [Benchmark(Description = "causal, additive mask (padding)"), Ours]
    public void Masked() => Attention.Forward(_q, _k, _v, _o, _shape, new AttentionOptions(Causal: true), _mask);

    [Benchmark(Baseline = true, Description = "FMA peak, same FLOPs (all cores)"), Limit]
    public float Peak() => Limits.FmaPeak(Flops);
}
