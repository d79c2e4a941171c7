using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Ir;
using Kernels.Hardware.Fpga;

namespace Kernels.Hardware.Tests;

/// <summary>
/// The C simulation: for every spec in specs/, emit HLS C++, compile it with g++ together with the generated test bench,
/// run it on random inputs and compare every output with the reference interpreter. The design computes in float, the
/// interpreter in double: elements must agree within 1e-4 relative to max(1, |reference|).
/// </summary>
public class HlsSimulationTests
{
    private const double Tolerance = 1e-4;

    public static TheoryData<string> SpecNames() => new(Specs.Names);

    public static TheoryData<string, bool> SpecNamesAndTiling()
    {
        var data = new TheoryData<string, bool>();
        foreach (var name in Specs.Names)
        {
            data.Add(name, false);
            data.Add(name, true);
        }
        return data;
    }

    /// <summary>Small sizes: a partitioned rank spans two tiles of its default size, every other size is 8.</summary>
    internal static Dictionary<string, int> SmallSizes(Cascade cascade) => SmallSizes(cascade, ragged: false);

    /// <summary>As <see cref="SmallSizes(Cascade)"/>; ragged: a partitioned rank is 3 short of two tiles, so its last tile is partial
    /// and the padding's points are absent.</summary>
    internal static Dictionary<string, int> SmallSizes(Cascade cascade, bool ragged)
    {
        var sizes = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (size, def) in CascadeShapes.RequiredSizes(cascade))
        {
            if (def is not null) continue;
            var tile = cascade.Ranks.FirstOrDefault(r => r.Kind == RankKind.PartitionInner && r.PartitionOf?.ToUpperInvariant() == size);
            sizes[size] = tile?.DefaultSize is { } t ? 2 * t - (ragged ? 3 : 0) : 8;
        }
        return sizes;
    }

    [Theory]
    [MemberData(nameof(SpecNamesAndTiling))]
    public void EmittedHlsCompilesRunsAndMatchesTheInterpreter(string spec, bool raggedTiles)
    {
        var cascade = Specs.Load(spec);
        var sizes = SmallSizes(cascade, raggedTiles);
        var shapes = CascadeShapes.Bind(cascade, sizes);
        var random = new Random(1234);
        var inputs = new Dictionary<string, double[]>(StringComparer.Ordinal);
        foreach (var t in cascade.Inputs)
        {
            var n = (int)shapes.ElementCount(t.Name);
            // Scalars and vectors read inside exp are decay rates (small and positive: a slope per head); larger tensors that
            // reach an exp only through copies and sums are log decays (small and negative: a gate per token); other tensors
            // are uniform in [-1, 1].
            var rate = t.Rank == 0 || (t.Rank == 1 && cascade.Einsums.Any(e => InsideExp(e.Body, t.Name, false)));
            var logDecay = !rate && LogDecays(cascade).Contains(t.Name);
            // An i32 input (a sequence's key length) is an integer from -1 to just past the largest size.
            inputs[t.Name] = t.ElementType == ElementType.Int32
                ? Enumerable.Range(0, n).Select(_ => (double)random.Next(-1, sizes.Values.Max() + 2)).ToArray()
                : Enumerable.Range(0, n).Select(_ => rate ? 0.1 * random.NextDouble() : logDecay ? -0.1 * random.NextDouble() : 2 * random.NextDouble() - 1).ToArray();
        }
        var expected = ReferenceInterpreter.Run(cascade, sizes, inputs);

        var design = HlsEmitter.Emit(cascade, sizes, new HlsOptions(ReuseFactor: 4));
        var failure = HlsSimulation.Compare(expected, HlsSimulation.Run(design, inputs), Tolerance);
        Assert.True(failure is null, $"{spec} {string.Join(",", sizes.Select(p => $"{p.Key}={p.Value}"))}: {failure}");
    }

    /// <summary>Tensors read inside exp, and those whose values reach one only through copies and sums (<c>BG = G[..]</c>,
    /// <c>GC = sum[c0] BG[..]</c>, <c>exp(GC[..])</c>).</summary>
    private static HashSet<string> LogDecays(Cascade cascade)
    {
        var names = new HashSet<string>(cascade.Tensors.Where(t => cascade.Einsums.Any(e => InsideExp(e.Body, t.Name, false))).Select(t => t.Name), StringComparer.Ordinal);
        for (var changed = true; changed;)
        {
            changed = false;
            foreach (var e in cascade.Einsums)
                if (names.Contains(e.Output.Name) && e.Body is TensorRead read && e.Reduction is null or ReduceOperator.Sum)
                    changed |= names.Add(read.Tensor.Name);
        }
        return names;
    }

    private static bool InsideExp(Expr x, string tensor, bool inside) => x switch
    {
        TensorRead r => inside && r.Tensor.Name == tensor,
        Unary u => InsideExp(u.Operand, tensor, inside || u.Function == UnaryFunction.Exp),
        Binary b => InsideExp(b.Left, tensor, inside) || InsideExp(b.Right, tensor, inside),
        _ => false,
    };

    /// <summary>Floor division and remainder in subscripts (grouped-query attention, and a read that falls before the
    /// tensor) in the emitted C++, against the interpreter; 7 heads in groups of 3 leave the last group partial.</summary>
    [Theory]
    [InlineData("input Q[h,p,e], K[kh,m,e], V[kh,m,f]\noutput AV[h,p,f]\npartition H -> KH x G\nQK[h,p,m] = Q[h,p,e] * K[h / G, m, e]\nSD[h,p] = sum[m] exp(QK[h,p,m])\nAV[h,p,f] = exp(QK[h,p,m]) * V[h / G, m, f] / SD[h,p]\n", "H=7,G=3,P=2,M=5,E=4,F=3")]
    [InlineData("input X[i], W[j]\noutput Y[i,j]\nY[i,j] = X[(i + j) % I] * W[j] + X[(i - 3) / 2]\n", "I=9,J=4")]
    public void IndexDivisionInHlsMatchesTheInterpreter(string spec, string sizeText)
    {
        var cascade = Kernels.Einsum.CascadeCompiler.Compile(spec).Cascade!;
        var sizes = sizeText.Split(',').Select(p => p.Split('=')).ToDictionary(p => p[0], p => int.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture));
        var shapes = CascadeShapes.Bind(cascade, sizes);
        var random = new Random(7);
        var inputs = cascade.Inputs.ToDictionary(t => t.Name, t => Enumerable.Range(0, (int)shapes.ElementCount(t.Name)).Select(_ => 2 * random.NextDouble() - 1).ToArray());
        var expected = ReferenceInterpreter.Run(cascade, sizes, inputs);
        var failure = HlsSimulation.Compare(expected, HlsSimulation.Run(HlsEmitter.Emit(cascade, sizes, new HlsOptions(ReuseFactor: 1)), inputs), Tolerance);
        Assert.True(failure is null, failure);
    }

    [Fact]
    public void OneFunctionPerPassWithPragmasAndBuffersFromTheLiveFootprint()
    {
        var three = HlsEmitter.Emit(Specs.Load("attention.3pass"), Specs.Sizes(("P", 8), ("M", 64), ("E", 8), ("F", 8)), new HlsOptions(ReuseFactor: 2));
        Assert.Equal(new[] { "pass1", "pass2", "pass3" }, three.PassFunctions);
        Assert.Contains("#pragma HLS PIPELINE II=2", three.Code);
        Assert.Contains("#pragma HLS UNROLL factor=4", three.Code); // sum[e] over E = 8 at RF 2
        Assert.Contains("#pragma HLS ARRAY_PARTITION variable=QK cyclic factor=16 dim=1", three.Code);

        // FuseMax: one pass; the running state keeps two steps of m1 and the per-tile values one, so no buffer but the
        // copies of K and V grows with M.
        var sizes = Specs.Sizes(("P", 8), ("M", 256), ("E", 8), ("F", 8));
        var one = HlsEmitter.Emit(Specs.Load("attention.fusemax"), sizes);
        Assert.Equal(new[] { "pass1" }, one.PassFunctions);
        var rnv = one.Buffers.Single(b => b.Name == "RNV");
        Assert.Equal(new long[] { 2, 8, 8 }, rnv.Extents);
        Assert.Equal(new long[] { 256 / 64 + 1, 8, 8 }, rnv.FullExtents);
        Assert.Equal(new long[] { 1, 64, 8 }, one.Buffers.Single(b => b.Name == "BQK").Extents);
        var bigger = HlsEmitter.Emit(Specs.Load("attention.fusemax"), Specs.Sizes(("P", 8), ("M", 1024), ("E", 8), ("F", 8)));
        Assert.Equal(one.Buffers.Where(b => b.Name is not ("BK" or "BV")).Sum(b => b.Elements), bigger.Buffers.Where(b => b.Name is not ("BK" or "BV")).Sum(b => b.Elements));
    }
}
