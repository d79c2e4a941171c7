using System.Globalization;
using System.Numerics.Tensors;
using Kernels.Einsum;
using Kernels.Measure;

namespace Kernels.Cli.Run;

/// <summary>The shapes <c>kernels run</c> uses; every one can be overridden on the command line.</summary>
internal sealed record RunShapes(int Heads = 8, int SequenceLength = 1024, int HeadDim = 64, int SoftmaxRows = 4096, int SoftmaxColumns = 4096,
    int LinearLength = 4096, int Channels = 1536, int ScanLength = 2048, int StateSize = 16);

/// <summary>One built-in kernel on one shape: its inputs, the call, its peers and the check of its result.</summary>
internal abstract class Workload : IDisposable
{
    protected static readonly int Threads = Environment.ProcessorCount;

    /// <summary>The public API the workload calls, e.g. <c>Attention.Forward</c>.</summary>
    public abstract string Kernel { get; }

    public abstract string Shape { get; }

    /// <summary>The cascade of the kernel, as the generator wrote it.</summary>
    public abstract KernelDescriptor Descriptor { get; }

    /// <summary>The sizes of one call, by the cascade's size names.</summary>
    public abstract IReadOnlyDictionary<string, int> Sizes { get; }

    /// <summary>The FLOPs of one call as the field counts them, where that differs from the cascade's operations as
    /// written (attention's scale factor is one multiply per query, not one per term of the sum); null: the cascade's.</summary>
    public virtual double? NominalFlops => null;

    /// <summary>Calls of the cascade's sizes per run.</summary>
    public virtual int Calls => 1;

    /// <summary>The largest error <see cref="Verify"/> may find (relative to the largest magnitude of the reference).</summary>
    public virtual double Tolerance => 1e-4;

    /// <summary>Allocates and fills the inputs, and builds the peers.</summary>
    public abstract void Setup();

    /// <summary>Runs the kernel once over the whole shape.</summary>
    public abstract void Run();

    /// <summary>The same computation by other libraries, fastest first is not assumed.</summary>
    public virtual IReadOnlyList<(string Name, Action Run)> Peers => Array.Empty<(string, Action)>();

    /// <summary>The largest error of the last <see cref="Run"/>'s result on a sample, against the interpreter.</summary>
    public abstract double Verify();

    public virtual void Dispose()
    {
    }

    protected static float[] Random(int seed, long count, double scale)
    {
        var r = new Random(seed);
        var data = new float[count];
        for (long i = 0; i < count; i++) data[i] = (float)((r.NextDouble() * 2 - 1) * scale);
        return data;
    }

    /// <summary>Up to <paramref name="count"/> distinct points of [0, size), the first and last among them.</summary>
    protected static int[] Sample(int size, int count, int seed)
    {
        if (size <= count) return Enumerable.Range(0, size).ToArray();
        var r = new Random(seed);
        return new[] { 0, size - 1 }.Concat(Enumerable.Range(0, size).OrderBy(_ => r.Next()).Take(count - 2)).Distinct().Order().ToArray();
    }

    protected static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>ONNX Runtime's MultiHeadAttention over heads laid out [heads, length, dim] here, which it takes as
    /// [1, length, heads * dim]: the heads interleaved per token, as a model's projections produce them.</summary>
    protected static OnnxRun MultiHeadPeer(float[] q, float[] k, float[] v, int heads, int length, int dim, bool causal)
    {
        long size = (long)heads * length * dim;
        float[] Interleave(float[] all)
        {
            var interleaved = new float[size];
            for (var h = 0; h < heads; h++)
                for (var t = 0; t < length; t++)
                    Array.Copy(all, ((long)h * length + t) * dim, interleaved, ((long)t * heads + h) * dim, dim);
            return interleaved;
        }
        var shape = new long[] { 1, length, heads * dim };
        return new OnnxRun(OnnxModels.MultiHeadAttention(length, heads, dim, causal), Threads,
            new[] { ("query", Interleave(q), shape), ("key", Interleave(k), shape), ("value", Interleave(v), shape) },
            new[] { ("output", new float[size], shape) });
    }
}

/// <summary>
/// Multi-head attention, all heads in one call, against ONNX Runtime's MultiHeadAttention (com.microsoft) over the same
/// heads interleaved per token, as a model's projections produce them. Without a mask it calls
/// <see cref="Attention.MultiHead"/>; causal (each query sees the keys up to its own position) it calls
/// <c>Attention.Forward</c> with <see cref="AttentionOptions.Causal"/>, against ORT with <c>unidirectional</c> set.
/// </summary>
internal sealed class AttentionWorkload(RunShapes shapes, bool causal = false) : Workload
{
    private readonly int _h = shapes.Heads, _l = shapes.SequenceLength, _d = shapes.HeadDim;
    private float[] _q = Array.Empty<float>(), _k = Array.Empty<float>(), _v = Array.Empty<float>(), _o = Array.Empty<float>();
    private OnnxRun? _onnx;

    public override string Kernel => causal ? "Attention.Causal" : "Attention.MultiHead";

    public override string Shape => Invariant($"B=1 H={_h} L={_l} D={_d}");

    public override KernelDescriptor Descriptor => causal ? Attention.CausalDescriptor : Attention.MultiHeadDescriptor;

    public override IReadOnlyDictionary<string, int> Sizes => causal
        ? new Dictionary<string, int> { ["B"] = 1, ["H"] = _h, ["G"] = 1, ["P"] = _l, ["M"] = _l, ["E"] = _d, ["F"] = _d }
        : new Dictionary<string, int> { ["B"] = 1, ["H"] = _h, ["P"] = _l, ["M"] = _l, ["E"] = _d, ["F"] = _d };

    /// <summary>The two matrix products, 2 L L D each per head: the count ONNX Runtime's and FlashAttention's figures use;
    /// causal, over the scores the mask keeps (key &lt;= query), about half.</summary>
    public override double? NominalFlops => causal ? 4.0 * _h * (_l * (_l + 1.0) / 2) * _d : 4.0 * _h * _l * _l * _d;

    public override void Setup()
    {
        long size = (long)_h * _l * _d;
        var seed = causal ? 11 : 10;
        (_q, _k, _v, _o) = (Random(seed, size, 1), Random(seed * 10, size, 1), Random(seed * 100, size, 1), new float[size]);
        _onnx = MultiHeadPeer(_q, _k, _v, _h, _l, _d, causal);
    }

    public override void Run()
    {
        if (causal) Attention.Forward(_q, _k, _v, _o, AttentionShape.MultiHead(1, _h, _l, _l, _d), new AttentionOptions(Causal: true));
        else Attention.MultiHead(_q, _k, _v, _o, 1, _h, _l, _l, _d, _d);
    }

    public override IReadOnlyList<(string Name, Action Run)> Peers =>
        new (string, Action)[] { (causal ? "ONNX Runtime MultiHeadAttention, unidirectional" : "ONNX Runtime MultiHeadAttention", () => _onnx!.Run()) };

    /// <summary>16 queries of every head (the sampled rank is p; b and h are whole). Causal, the last 16: the mask is
    /// aligned bottom-right (key m seen by query p when m &lt;= p + M - P), so the last n queries with P = n are exactly
    /// those queries, where any other sample would move the diagonal.</summary>
    public override double Verify() => SampledCheck.MaxError(Descriptor.Cascade, Sizes,
        new Dictionary<string, float[]> { ["Q"] = _q, ["K"] = _k, ["V"] = _v, ["AV"] = _o }, new Dictionary<string, double>(), "p",
        causal ? Enumerable.Range(Math.Max(0, _l - 16), Math.Min(16, _l)).ToArray() : Sample(_l, 16, 7));

    public override void Dispose() => _onnx?.Dispose();
}

/// <summary>Softmax over each row of a matrix, against ONNX Runtime's Softmax and TensorPrimitives.SoftMax row by row.</summary>
internal sealed class SoftmaxWorkload(RunShapes shapes) : Workload
{
    private readonly int _rows = shapes.SoftmaxRows, _columns = shapes.SoftmaxColumns;
    private float[] _x = Array.Empty<float>(), _y = Array.Empty<float>(), _peerY = Array.Empty<float>();
    private OnnxRun? _onnx;

    public override string Kernel => "Softmax.Rows";

    public override string Shape => Invariant($"{_rows}x{_columns}");

    public override KernelDescriptor Descriptor => Softmax.RowsDescriptor;

    public override IReadOnlyDictionary<string, int> Sizes => new Dictionary<string, int> { ["P"] = _rows, ["N"] = _columns };

    public override void Setup()
    {
        _x = Random(7, (long)_rows * _columns, 10);
        _y = new float[_x.Length];
        _peerY = new float[_x.Length];
        var shape = new long[] { _rows, _columns };
        _onnx = new OnnxRun(OnnxModels.Softmax(_rows, _columns), Threads, new[] { ("X", _x, shape) }, new[] { ("Y", _peerY, shape) });
    }

    public override void Run() => Softmax.Rows(_x, _y, _rows, _columns);

    public override IReadOnlyList<(string Name, Action Run)> Peers => new (string, Action)[]
    {
        ("ONNX Runtime Softmax", () => _onnx!.Run()),
        ("TensorPrimitives.SoftMax per row", () =>
        {
            for (var p = 0; p < _rows; p++) TensorPrimitives.SoftMax(_x.AsSpan(p * _columns, _columns), _peerY.AsSpan(p * _columns, _columns));
        }),
    };

    public override double Verify() => SampledCheck.MaxError(Descriptor.Cascade, Sizes,
        new Dictionary<string, float[]> { ["X"] = _x, ["Y"] = _y }, new Dictionary<string, double>(), "p", Sample(_rows, 16, 1));

    public override void Dispose() => _onnx?.Dispose();
}

/// <summary>Causal linear attention with decay (Lightning Attention-2); no peer among the libraries .NET users have.</summary>
internal sealed class LinearAttentionWorkload(RunShapes shapes) : Workload
{
    private const float Slope = 0.05f;
    private readonly int _t = shapes.LinearLength, _d = shapes.HeadDim;
    private float[] _q = Array.Empty<float>(), _k = Array.Empty<float>(), _v = Array.Empty<float>(), _o = Array.Empty<float>();

    public override string Kernel => "LinearAttention.Causal";

    public override string Shape => Invariant($"T={_t} D=F={_d} slope={Slope}");

    public override KernelDescriptor Descriptor => LinearAttention.CausalDescriptor;

    public override IReadOnlyDictionary<string, int> Sizes => new Dictionary<string, int> { ["T"] = _t, ["D"] = _d, ["F"] = _d };

    public override void Setup()
    {
        _q = Random(21, (long)_t * _d, 0.5);
        _k = Random(22, (long)_t * _d, 0.5);
        _v = Random(23, (long)_t * _d, 1);
        _o = new float[(long)_t * _d];
    }

    public override void Run() => LinearAttention.Causal(_q, _k, _v, _o, _t, _d, _d, Slope);

    /// <summary>The first 200 tokens: causal, so they depend on nothing later (the last block is partial).</summary>
    public override double Verify() => SampledCheck.MaxError(Descriptor.Cascade, Sizes,
        new Dictionary<string, float[]> { ["Q"] = _q, ["K"] = _k, ["V"] = _v, ["O"] = _o }, new Dictionary<string, double> { ["slope"] = Slope },
        "t", Enumerable.Range(0, Math.Min(_t, 200)).ToArray());
}

/// <summary>Mamba's selective scan over channels x length with an N-wide state; no peer among the libraries .NET users have.</summary>
internal sealed class SelectiveScanWorkload(RunShapes shapes) : Workload
{
    private readonly int _channels = shapes.Channels, _length = shapes.ScanLength, _n = shapes.StateSize;
    private float[] _u = Array.Empty<float>(), _delta = Array.Empty<float>(), _a = Array.Empty<float>(), _b = Array.Empty<float>(), _c = Array.Empty<float>();
    private float[] _skip = Array.Empty<float>(), _z = Array.Empty<float>(), _bias = Array.Empty<float>(), _y = Array.Empty<float>();

    public override string Kernel => "SelectiveScan.Forward";

    public override string Shape => Invariant($"D={_channels} L={_length} N={_n}");

    public override KernelDescriptor Descriptor => SelectiveScan.ForwardDescriptor;

    public override IReadOnlyDictionary<string, int> Sizes => new Dictionary<string, int> { ["D"] = _channels, ["L"] = _length, ["N"] = _n };

    public override void Setup()
    {
        long dl = (long)_channels * _length, nl = (long)_n * _length;
        _u = Random(31, dl, 1);
        _delta = Random(32, dl, 1);
        // A < 0, as Mamba's A = -exp(A_log): the state decays.
        _a = Random(33, (long)_channels * _n, 1).Select(x => -0.5f - Math.Abs(x)).ToArray();
        _b = Random(34, nl, 1);
        _c = Random(35, nl, 1);
        _skip = Random(36, _channels, 1);
        _z = Random(37, dl, 1);
        _bias = Random(38, _channels, 0.5);
        _y = new float[dl];
    }

    public override void Run() => SelectiveScan.Forward(_u, _delta, _a, _b, _c, _skip, _z, _bias, _y, _channels, _length, _n);

    public override double Verify() => SampledCheck.MaxError(Descriptor.Cascade, Sizes,
        new Dictionary<string, float[]> { ["U"] = _u, ["DELTA"] = _delta, ["A"] = _a, ["B"] = _b, ["C"] = _c, ["DS"] = _skip, ["Z"] = _z, ["DB"] = _bias, ["Y"] = _y },
        new Dictionary<string, double>(), "d", Sample(_channels, 8, 3));
}
