using BenchmarkDotNet.Attributes;

namespace Kernels.Benchmarks;

/// <summary>
/// Causal linear attention with decay (<see cref="LinearAttention.Causal(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, float)"/>, generated from linear_attention.causal),
/// D = F = 64, against the FMA peak of the widest accelerated width on every core over the cascade's FLOPs (the
/// operations `kernels analyze` counts at these sizes), measured in the same run. No library .NET users have
/// computes it.
/// </summary>
[BenchmarkCategory("linear-attention")]
public class LinearAttentionBenchmarks : IWork
{
    public double Flops => LinearAttention.CausalDescriptor.Analyze(new Dictionary<string, int> { ["T"] = Length, ["D"] = Dim, ["F"] = Dim }).Einsums.Sum(e => e.FlopsValue ?? 0);

    public double Bytes => 4.0 * Length * Dim * sizeof(float);

    [Params(1024, 4096, 16384)] public int Length;
    public const int Dim = 64;
    private float[] _q = Array.Empty<float>(), _k = Array.Empty<float>(), _v = Array.Empty<float>(), _o = Array.Empty<float>();
    private double _flops;

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(4);
        float[] Make(int n, double scale) => Enumerable.Range(0, n).Select(_ => (float)((r.NextDouble() * 2 - 1) * scale)).ToArray();
        (_q, _k, _v) = (Make(Length * Dim, 0.5), Make(Length * Dim, 0.5), Make(Length * Dim, 1));
        _o = new float[Length * Dim];
        _flops = Flops;
    }

    [Benchmark(Description = "Kernels LinearAttention.Causal"), Ours]
    public void Ours() => LinearAttention.Causal(_q, _k, _v, _o, Length, Dim, Dim, 0.05f);

    [Benchmark(Baseline = true, Description = "FMA peak, same FLOPs (all cores)"), Limit]
    public float Peak() => Limits.FmaPeak(_flops);
}

/// <summary>
/// Causal linear attention over heads (<see cref="LinearAttention.Causal(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, int, int, ReadOnlySpan{float})"/>,
/// generated from linear_attention.heads), B = 1, H = 8, D = F = 64, each head with its own slope, against the FMA peak
/// of the widest accelerated width on every core over the cascade's FLOPs, measured in the same run.
/// </summary>
[BenchmarkCategory("linear-attention")]
public class LinearAttentionHeadsBenchmarks : IWork
{
    public const int Heads = 8, Dim = 64;

    public double Flops => LinearAttention.HeadsDescriptor.Analyze(new Dictionary<string, int> { ["B"] = 1, ["H"] = Heads, ["T"] = Length, ["D"] = Dim, ["F"] = Dim }).Einsums.Sum(e => e.FlopsValue ?? 0);

    public double Bytes => 4.0 * Heads * Length * Dim * sizeof(float);

    [Params(1024, 16384)] public int Length;
    private float[] _q = Array.Empty<float>(), _k = Array.Empty<float>(), _v = Array.Empty<float>(), _o = Array.Empty<float>(), _slopes = Array.Empty<float>();
    private double _flops;

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(4);
        float[] Make(int n, double scale) => Enumerable.Range(0, n).Select(_ => (float)((r.NextDouble() * 2 - 1) * scale)).ToArray();
        (_q, _k, _v) = (Make(Heads * Length * Dim, 0.5), Make(Heads * Length * Dim, 0.5), Make(Heads * Length * Dim, 1));
        _o = new float[Heads * Length * Dim];
        // ALiBi's slopes for 8 heads: 2^-1, 2^-2, ..., 2^-8, scaled down to the decay per token Lightning Attention uses.
        _slopes = Enumerable.Range(1, Heads).Select(h => (float)(Math.Pow(2, -h) * 0.1)).ToArray();
        _flops = Flops;
    }

    [Benchmark(Description = "Kernels LinearAttention.Causal, 8 heads"), Ours]
    public void Ours() => LinearAttention.Causal(_q, _k, _v, _o, 1, Heads, Length, Dim, Dim, _slopes);

    [Benchmark(Baseline = true, Description = "FMA peak, same FLOPs (all cores)"), Limit]
    public float Peak() => Limits.FmaPeak(_flops);
}

/// <summary>
/// Mamba's selective scan (<see cref="SelectiveScan.Forward(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int)"/>, generated from selective_scan), 1536 channels, state
/// size 16, against a copy on every core of as many bytes as the scan reads and writes (each input read once, the
/// output written once), and against the plain scalar loop a .NET engineer would write, on one thread and split over all
/// cores (no library .NET users have computes it), measured in the same run.
/// </summary>
[BenchmarkCategory("selective-scan")]
public class SelectiveScanBenchmarks : IWork
{
    public double Flops => SelectiveScan.ForwardDescriptor.Analyze(new Dictionary<string, int> { ["D"] = Channels, ["L"] = Length, ["N"] = State }).Einsums.Sum(e => e.FlopsValue ?? 0);

    public double Bytes => (4.0 * Channels * Length + 2.0 * State * Length + Channels * State + 2.0 * Channels) * sizeof(float);

    [Params(1024, 4096)] public int Length;
    public const int Channels = 1536, State = 16;
    private float[] _u = Array.Empty<float>(), _delta = Array.Empty<float>(), _a = Array.Empty<float>(), _b = Array.Empty<float>(), _c = Array.Empty<float>();
    private float[] _d = Array.Empty<float>(), _z = Array.Empty<float>(), _bias = Array.Empty<float>(), _y = Array.Empty<float>();
    private float[] _copyFrom = Array.Empty<float>(), _copyTo = Array.Empty<float>();

    [GlobalSetup]
    public void Setup()
    {
        var r = new Random(5);
        float[] Make(int n, double scale) => Enumerable.Range(0, n).Select(_ => (float)((r.NextDouble() * 2 - 1) * scale)).ToArray();
        int dl = Channels * Length, nl = State * Length;
        (_u, _delta, _z) = (Make(dl, 1), Make(dl, 1), Make(dl, 1));
        _a = Make(Channels * State, 1).Select(x => -0.5f - Math.Abs(x)).ToArray();
        (_b, _c) = (Make(nl, 1), Make(nl, 1));
        (_d, _bias) = (Make(Channels, 1), Make(Channels, 0.5));
        _y = new float[dl];
        // Half the bytes are read and half written by a copy: one array of the scan's whole traffic / 2 each way.
        var floats = (4L * dl + 2L * nl + Channels * State + 2L * Channels) / 2;
        (_copyFrom, _copyTo) = (Make((int)floats, 1), new float[floats]);
    }

    [Benchmark(Description = "Kernels SelectiveScan.Forward"), Ours]
    public void Ours() => SelectiveScan.Forward(_u, _delta, _a, _b, _c, _d, _z, _bias, _y, Channels, Length, State);

    [Benchmark(Baseline = true, Description = "copy of the same bytes, all cores (memory limit)"), Limit]
    public void Copy() => Limits.ParallelCopy(_copyFrom, _copyTo);

    [Benchmark(Description = "plain scalar C# loop, one thread"), Peer]
    public void LoopOneThread() => Loop(0, Channels);

    [Benchmark(Description = "plain scalar C# loop, channels split over all cores"), Peer]
    public void LoopAllCores()
    {
        var parts = Environment.ProcessorCount;
        Parallel.For(0, parts, part => Loop(Channels * part / parts, Channels * (part + 1) / parts));
    }

    /// <summary>
    /// The recurrence as a .NET engineer writes it without this library, for channels [from, to): softplus in float
    /// (log1p(exp) below 20), the N states of a channel in a stack array, MathF.Exp per state and step.
    /// </summary>
    private void Loop(int from, int to)
    {
        int length = Length;
        Span<float> x = stackalloc float[State];
        for (var d = from; d < to; d++)
        {
            x.Clear();
            for (var l = 0; l < length; l++)
            {
                var v = _delta[d * length + l] + _bias[d];
                var dt = v > 20 ? v : MathF.Log(1 + MathF.Exp(v));
                float u = _u[d * length + l], acc = 0;
                for (var n = 0; n < State; n++)
                {
                    x[n] = MathF.Exp(dt * _a[d * State + n]) * x[n] + dt * _b[n * length + l] * u;
                    acc += _c[n * length + l] * x[n];
                }
                var z = _z[d * length + l];
                _y[d * length + l] = (acc + _d[d] * u) * z / (1 + MathF.Exp(-z));
            }
        }
    }
}
