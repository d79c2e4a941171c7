using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Tests.Reference;

namespace Kernels.Einsum.Tests;

/// <summary>
/// The specs of one workload agree with each other and with a direct loop written from the math,
/// over several shapes, including sizes that do not divide the tile size.
/// </summary>
public class SpecAgreementTests
{
    public static TheoryData<int, int, int, int, int, double> AttentionShapes => new()
    {
        // P, M, E, F, M0 (tile), scale of Q and K (large scale -> logits in the hundreds)
        { 1, 1, 1, 1, 64, 1.0 },
        { 5, 7, 3, 2, 64, 1.0 },
        { 9, 37, 4, 3, 8, 1.0 },
        { 6, 64, 8, 5, 16, 1.0 },
        { 7, 29, 4, 4, 5, 30.0 },
        { 3, 100, 16, 8, 64, 12.0 },
    };

    [Theory]
    [MemberData(nameof(AttentionShapes))]
    public void AttentionCascadesAgree(int p, int m, int e, int f, int tile, double scale)
    {
        var q = DirectLoops.RandomArray(p * e, 1, scale);
        var k = DirectLoops.RandomArray(m * e, 2, scale);
        var v = DirectLoops.RandomArray(m * f, 3);
        var expected = DirectLoops.Attention(q, k, v, p, m, e, f, causal: false);
        var inputs = new Dictionary<string, double[]> { ["Q"] = q, ["K"] = k, ["V"] = v };

        foreach (var spec in new[] { "attention.3pass", "attention.2pass", "attention.fusemax" })
        {
            var cascade = Specs.Load(spec);
            var sizes = Specs.Sizes(("P", p), ("M", m), ("E", e), ("F", f));
            if (spec != "attention.3pass") sizes["M0"] = tile;
            var actual = ReferenceInterpreter.Run(cascade, sizes, inputs)["AV"];
            Specs.AssertClose(expected, actual, 1e-12);
        }
    }

    [Theory]
    [InlineData(1, 1, 1.0)]
    [InlineData(4, 17, 1.0)]
    [InlineData(3, 64, 1000.0)] // XNNPACK's range: plain exp overflows
    public void SoftmaxCascadesAgree(int p, int n, double scale)
    {
        var x = DirectLoops.RandomArray(p * n, 7, scale);
        var expected = DirectLoops.Softmax(x, p, n);
        foreach (var spec in new[] { "softmax.3pass", "softmax.2pass" })
        {
            var y = ReferenceInterpreter.Run(Specs.Load(spec), Specs.Sizes(("P", p), ("N", n)), new Dictionary<string, double[]> { ["X"] = x })["Y"];
            Specs.AssertClose(expected, y, 1e-12);
        }
    }

    [Theory]
    [InlineData(1, 1, 1, 64, 0.0)]
    [InlineData(37, 4, 3, 8, 0.0)]
    [InlineData(37, 4, 3, 8, 0.3)]
    [InlineData(50, 5, 2, 16, 0.05)]
    [InlineData(64, 3, 3, 64, 0.1)]
    public void LinearAttentionBlockFormulationEqualsQuadratic(int t, int d, int f, int tile, double slope)
    {
        var q = DirectLoops.RandomArray(t * d, 11);
        var k = DirectLoops.RandomArray(t * d, 12);
        var v = DirectLoops.RandomArray(t * f, 13);
        var expected = DirectLoops.LinearAttentionQuadratic(q, k, v, slope, t, d, f);
        var inputs = new Dictionary<string, double[]> { ["Q"] = q, ["K"] = k, ["V"] = v, ["slope"] = new[] { slope } };

        var quadratic = ReferenceInterpreter.Run(Specs.Load("linear_attention.quadratic"), Specs.Sizes(("T", t), ("D", d), ("F", f)), inputs)["O"];
        var causal = ReferenceInterpreter.Run(Specs.Load("linear_attention.causal"), Specs.Sizes(("T", t), ("D", d), ("F", f), ("T0", tile)), inputs)["O"];
        Specs.AssertClose(expected, quadratic, 1e-12);
        Specs.AssertClose(expected, causal, 1e-12);

        // The gated form with the log decay -slope at every token (one sequence, one head, from a zero state) is the same
        // attention, and its final state is what the quadratic form would carry on with: sum over s of
        // exp(-slope (T - 1 - s)) k_s^T v_s.
        var gatedInputs = new Dictionary<string, double[]>(inputs) { ["G"] = Enumerable.Repeat(-slope, t).ToArray(), ["KV0"] = new double[d * f] };
        gatedInputs.Remove("slope");
        var gated = ReferenceInterpreter.Run(Specs.Load("linear_attention.gated"), Specs.Sizes(("B", 1), ("H", 1), ("T", t), ("D", d), ("F", f), ("T0", tile)), gatedInputs);
        Specs.AssertClose(expected, gated["O"], 1e-12);
        var state = new double[d * f];
        for (var s = 0; s < t; s++)
            for (var x = 0; x < d; x++)
                for (var y = 0; y < f; y++)
                    state[x * f + y] += Math.Exp(-slope * (t - 1 - s)) * k[s * d + x] * v[s * f + y];
        Specs.AssertClose(state, gated["KVL"], 1e-12);
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(3, 17, 4)]
    [InlineData(2, 40, 16)]
    public void SelectiveScanEqualsTheRecurrence(int d, int l, int n)
    {
        var u = DirectLoops.RandomArray(d * l, 21);
        var delta = DirectLoops.RandomArray(d * l, 22);
        var a = DirectLoops.RandomArray(d * n, 23).Select(x => -Math.Exp(x)).ToArray(); // A = -exp(A_log)
        var b = DirectLoops.RandomArray(n * l, 24);
        var c = DirectLoops.RandomArray(n * l, 25);
        var ds = DirectLoops.RandomArray(d, 26);
        var z = DirectLoops.RandomArray(d * l, 27, 3);
        var db = DirectLoops.RandomArray(d, 28);
        var expected = DirectLoops.SelectiveScan(u, delta, a, b, c, ds, z, db, d, l, n);
        var inputs = new Dictionary<string, double[]>
        {
            ["U"] = u, ["DELTA"] = delta, ["A"] = a, ["B"] = b, ["C"] = c, ["DS"] = ds, ["Z"] = z, ["DB"] = db,
        };
        var y = ReferenceInterpreter.Run(Specs.Load("selective_scan"), Specs.Sizes(("D", d), ("L", l), ("N", n)), inputs)["Y"];
        Specs.AssertClose(expected, y, 1e-12);
    }

    [Fact]
    public void CausalMaskWrittenAsAFilterMatchesTheCausalDirectLoop()
    {
        // The three-pass cascade with 'where m <= p' on its first Einsum: absent points propagate.
        var text = Specs.Text("attention.3pass").Replace("* rsqrt(E)", "* rsqrt(E) where m <= p");
        var cascade = Specs.Compile(text);
        const int P = 6, M = 6, E = 3, F = 2;
        var q = DirectLoops.RandomArray(P * E, 31, 5);
        var k = DirectLoops.RandomArray(M * E, 32, 5);
        var v = DirectLoops.RandomArray(M * F, 33);
        var expected = DirectLoops.Attention(q, k, v, P, M, E, F, causal: true);
        var actual = ReferenceInterpreter.Run(cascade, Specs.Sizes(("P", P), ("M", M), ("E", E), ("F", F)),
            new Dictionary<string, double[]> { ["Q"] = q, ["K"] = k, ["V"] = v })["AV"];
        Specs.AssertClose(expected, actual, 1e-12);
    }

    [Fact]
    public void FullyMaskedRowsGiveZerosNotNaN()
    {
        // Query 0 may see no key (m < p is never true for p = 0).
        foreach (var spec in new[] { "attention.3pass", "attention.fusemax" })
        {
            var mask = spec == "attention.3pass" ? "where m < p" : "where m1*M0 + m0 < p";
            var text = Specs.Text(spec).Replace("* rsqrt(E)", "* rsqrt(E) " + mask);
            var cascade = Specs.Compile(text);
            var sizes = Specs.Sizes(("P", 3), ("M", 3), ("E", 2), ("F", 2));
            if (spec == "attention.fusemax") sizes["M0"] = 2;
            var av = ReferenceInterpreter.Run(cascade, sizes, new Dictionary<string, double[]>
            {
                ["Q"] = DirectLoops.RandomArray(6, 1), ["K"] = DirectLoops.RandomArray(6, 2), ["V"] = DirectLoops.RandomArray(6, 3),
            })["AV"];
            Assert.Equal(0.0, av[0]);
            Assert.Equal(0.0, av[1]);
            Assert.All(av, x => Assert.False(double.IsNaN(x)));
        }
    }

    [Fact]
    public void RowsOfMinusInfinityScores()
    {
        // Every score is -inf. The one-pass cascade starts its running max at the lowest finite
        // float and divides 0 by 0 -> 0 (documented); the three-pass cascade follows IEEE
        // (-inf - -inf = NaN).
        const int P = 1, M = 3, E = 1, F = 1;
        var q = new[] { 1.0 };
        var k = new[] { double.NegativeInfinity, double.NegativeInfinity, double.NegativeInfinity };
        var inputs = new Dictionary<string, double[]> { ["Q"] = q, ["K"] = k, ["V"] = new[] { 1.0, 2.0, 3.0 } };
        var sizes = Specs.Sizes(("P", P), ("M", M), ("E", E), ("F", F));
        var fusemax = ReferenceInterpreter.Run(Specs.Load("attention.fusemax"), sizes, inputs)["AV"];
        var threePass = ReferenceInterpreter.Run(Specs.Load("attention.3pass"), sizes, inputs)["AV"];
        Assert.Equal(0.0, fusemax[0]);
        Assert.True(double.IsNaN(threePass[0]));
    }

    [Fact]
    public void NaNPropagatesThroughSoftmax()
    {
        var x = new[] { 1.0, double.NaN, 2.0, 1.0, 2.0, 3.0 };
        foreach (var spec in new[] { "softmax.3pass", "softmax.2pass" })
        {
            var y = ReferenceInterpreter.Run(Specs.Load(spec), Specs.Sizes(("P", 2), ("N", 3)), new Dictionary<string, double[]> { ["X"] = x })["Y"];
            Assert.All(y.Take(3), v => Assert.True(double.IsNaN(v)));
            Specs.AssertClose(DirectLoops.Softmax(new[] { 1.0, 2.0, 3.0 }, 1, 3), y.Skip(3).ToArray(), 1e-14);
        }
    }
}
