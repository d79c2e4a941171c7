using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Tests.Reference;

namespace Kernels.Einsum.Tests;

/// <summary>Small cascades whose results are worked out by hand.</summary>
public class InterpreterTests
{
    private static double[] Run(string spec, Dictionary<string, int> sizes, params (string Name, double[] Data)[] inputs)
    {
        var cascade = Specs.Compile(spec);
        var outputs = ReferenceInterpreter.Run(cascade, sizes, inputs.ToDictionary(i => i.Name, i => i.Data));
        return outputs.Values.Single();
    }

    /// <summary>A filter bounded by an input's value: each row sums its first N[b] entries; a value is rounded down, a
    /// negative one or NaN keeps nothing, one past the row keeps it all, and a scalar input bounds every row.</summary>
    [Fact]
    public void A_filter_reads_an_inputs_value_rounded_down()
    {
        const string spec = "input X[b,m], N[b], T\noutput Y[b], Z[b]\nY[b] = sum[m] X[b,m] where m < N[b]\nZ[b] = sum[m] X[b,m] where m <= T";
        var cascade = Specs.Compile(spec);
        var x = Enumerable.Range(0, 6 * 4).Select(i => (double)(1 << (i % 4))).ToArray(); // rows of 1, 2, 4, 8
        var outputs = ReferenceInterpreter.Run(cascade, Specs.Sizes(("B", 6), ("M", 4)), new Dictionary<string, double[]>
        {
            ["X"] = x, ["N"] = new[] { 2, 2.9, -1, double.NaN, 100, 0.5 }, ["T"] = new[] { 1.5 },
        });
        Assert.Equal(new double[] { 3, 3, 0, 0, 15, 0 }, outputs["Y"]);
        Assert.All(outputs["Z"], z => Assert.Equal(3, z));
    }

    [Fact]
    public void ImplicitSumOverRightOnlyRank()
    {
        var y = Run("input X[p,e]\noutput Y[p]\nY[p] = X[p,e]", Specs.Sizes(("P", 2), ("E", 2)), ("X", new double[] { 1, 2, 3, 4 }));
        Assert.Equal(new double[] { 3, 7 }, y);
    }

    /// <summary>Reference values: PyTorch's gelu(1.0, approximate='tanh') and erf(0.5) from any table.</summary>
    [Fact]
    public void GeluTanhErfAndPi()
    {
        var y = Run("input X[p]\noutput Y[p]\nY[p] = gelu_tanh(X[p]) + erf(X[p] / 2) + pi * 0", Specs.Sizes(("P", 1)), ("X", new double[] { 1 }));
        Assert.Equal(0.8411919906082768 + 0.5204998778130465, y[0], 12);
        var circle = Run("input R[p]\noutput A[p]\nA[p] = pi * R[p] * R[p]", Specs.Sizes(("P", 1)), ("R", new double[] { 2 }));
        Assert.Equal(4 * Math.PI, circle[0], 14);
    }

    [Fact]
    public void Exp2_is_two_to_the_power()
    {
        var y = Run("input X[p]\noutput Y[p]\nY[p] = exp2(X[p])", Specs.Sizes(("P", 4)), ("X", new double[] { 3, -1, 0.5, double.NegativeInfinity }));
        Assert.Equal(new[] { 8, 0.5, Math.Sqrt(2), 0 }, y);
    }

    /// <summary>Cross-entropy as users write it first: the nested reductions become Y_logsumexp1-like intermediates.</summary>
    [Fact]
    public void NestedReductionsAreLiftedIntoNamedIntermediates()
    {
        const string spec = "input Z[p,c], T[p,c]\noutput Y[p]\nY[p] = log(sum[c] exp(Z[p,c])) - sum[c] T[p,c] * Z[p,c]";
        var cascade = Specs.Compile(spec);
        Assert.Equal(new[] { "Z", "T", "Y", "Y_sum1", "Y_sum2" }, cascade.Tensors.Select(t => t.Name).OrderBy(n => n.StartsWith("Y_") ? 1 : 0).ToArray());
        Assert.Contains(cascade.Einsums, e => e.Text == "Y_sum2[p] = sum[c] T[p,c] * Z[p,c]");
        double[] z = { 1, 2, 3, 0.5, -1, 4 }, t = { 0, 0, 1, 1, 0, 0 };
        var y = Run(spec, Specs.Sizes(("P", 2), ("C", 3)), ("Z", z), ("T", t));
        for (var p = 0; p < 2; p++)
        {
            var lse = Math.Log(Enumerable.Range(0, 3).Sum(c => Math.Exp(z[p * 3 + c])));
            var dot = Enumerable.Range(0, 3).Sum(c => t[p * 3 + c] * z[p * 3 + c]);
            Assert.Equal(lse - dot, y[p], 12);
        }

        // Cosine similarity: two nested sums over e inside a contraction over e.
        var sim = Run("input A[p,e], B[q,e]\noutput S[p,q]\nS[p,q] = sum[e] A[p,e] * B[q,e] * rsqrt(sum[e] A[p,e] * A[p,e]) * rsqrt(sum[e] B[q,e] * B[q,e])",
            Specs.Sizes(("P", 1), ("Q", 1), ("E", 2)), ("A", new double[] { 3, 4 }), ("B", new double[] { 4, 3 }));
        Assert.Equal(24.0 / 25.0, sim[0], 12);
    }

    [Fact]
    public void PowerOperatorAndPow()
    {
        // -x ^ 2 is -(x^2); ^ is right-associative; pow(x, y) is the same operator.
        var y = Run("input X[p]\noutput Y[p]\nY[p] = -X[p] ^ 2 + 2 ^ 3 ^ 2 / 512 + pow(X[p], 0.5) + X[p] ^ -1", Specs.Sizes(("P", 2)), ("X", new double[] { 4, 9 }));
        Assert.Equal(new[] { -16 + 1 + 2 + 0.25, -81 + 1 + 3 + 1 / 9.0 }, y, (a, b) => Math.Abs(a - b) < 1e-12);
    }

    [Fact]
    public void ContractionIsAMatrixProduct()
    {
        // [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]]
        var c = Run("input A[i,k], B[k,j]\noutput C[i,j]\nC[i,j] = A[i,k] * B[k,j]", Specs.Sizes(("I", 2), ("K", 2), ("J", 2)),
            ("A", new double[] { 1, 2, 3, 4 }), ("B", new double[] { 5, 6, 7, 8 }));
        Assert.Equal(new double[] { 19, 22, 43, 50 }, c);
    }

    [Theory]
    [InlineData("max", 5.0)]
    [InlineData("min", -2.0)]
    [InlineData("sum", 6.0)]
    [InlineData("prod", -30.0)]
    public void ExplicitReductions(string op, double expected)
    {
        var y = Run($"input X[n]\noutput Y\nY = {op}[n] X[n]", Specs.Sizes(("N", 3)), ("X", new double[] { 3, -2, 5 }));
        Assert.Equal(expected, y[0]);
    }

    [Fact]
    public void LogSumExpDoesNotOverflow()
    {
        var y = Run("input X[n]\noutput Y\nY = logsumexp[n] X[n]", Specs.Sizes(("N", 2)), ("X", new double[] { 1000, 1000 }));
        Assert.Equal(1000 + Math.Log(2), y[0], 12);
    }

    [Fact]
    public void FilterGivesAPrefixSum()
    {
        var s = Run("input A[k]\noutput S[i]\nindex i in K\nS[i] = sum[k] A[k] where k <= i", Specs.Sizes(("K", 4)), ("A", new double[] { 1, 2, 3, 4 }));
        Assert.Equal(new double[] { 1, 3, 6, 10 }, s);
    }

    [Fact]
    public void EmptyReductionsYieldTheIdentity()
    {
        // Row 0 has no k < i: max over nothing is -inf, sum over nothing is 0.
        var m = Run("input A[k]\noutput S[i]\nindex i in K\nS[i] = max[k] A[k] where k < i", Specs.Sizes(("K", 3)), ("A", new double[] { 5, 1, 2 }));
        Assert.Equal(new[] { double.NegativeInfinity, 5, 5 }, m);
    }

    [Fact]
    public void DivisionByZeroIsZero()
    {
        var y = Run("input A[n], B[n]\noutput Y[n]\nY[n] = A[n] / B[n]", Specs.Sizes(("N", 3)),
            ("A", new double[] { 1, 0, 6 }), ("B", new double[] { 0, 0, 3 }));
        Assert.Equal(new double[] { 0, 0, 2 }, y);
    }

    [Fact]
    public void ReadsPastTheEndAreAbsentAndOutputsOfAbsentPointsAreZero()
    {
        var y = Run("input X[n]\noutput Y[n]\nY[n] = X[n+1] * 2", Specs.Sizes(("N", 3)), ("X", new double[] { 1, 2, 3 }));
        Assert.Equal(new double[] { 4, 6, 0 }, y);
    }

    [Fact]
    public void SizesAndIndicesAreValues()
    {
        var y = Run("input X[e]\noutput Y[e]\nY[e] = X[e] / E + e", Specs.Sizes(("E", 4)), ("X", new double[] { 4, 8, 12, 16 }));
        Assert.Equal(new double[] { 1, 3, 5, 7 }, y);
    }

    [Fact]
    public void IterativeRankRunsARecurrence()
    {
        // x_{t+1} = 0.5 x_t + u_t from x_0 = 1; y_t = x_{t+1}.
        const string spec = """
            input U[t]
            output Y[t]
            iterate t until t == T {
              init X[0] = 1
              X[t+1] = 0.5 * X[t] + U[t]
              Y[t] = X[t+1]
            }
            """;
        var y = Run(spec, Specs.Sizes(("T", 3)), ("U", new double[] { 1, 2, 3 }));
        Assert.Equal(new double[] { 1.5, 2.75, 4.375 }, y);
    }

    [Fact]
    public void PartitionedRankCoversAPartialLastTile()
    {
        const string spec = """
            input X[m]
            output S[m1]
            partition M -> M1 x M0 with M0 = 4
            S[m1] = sum[m0] X[m1*M0 + m0]
            """;
        var cascade = Specs.Compile(spec);
        var s = ReferenceInterpreter.Run(cascade, Specs.Sizes(("M", 10)), new Dictionary<string, double[]> { ["X"] = Enumerable.Range(1, 10).Select(i => (double)i).ToArray() })["S"];
        Assert.Equal(new double[] { 10, 26, 19 }, s);
    }

    [Fact]
    public void UnaryFunctionsMatchTheirDefinitions()
    {
        var x = new[] { -3.0, -0.5, 0.0, 0.7, 4.0 };
        foreach (var (name, f) in new (string, Func<double, double>)[]
        {
            ("exp", Math.Exp), ("abs", Math.Abs), ("tanh", Math.Tanh),
            ("sigmoid", v => 1 / (1 + Math.Exp(-v))),
            ("silu", v => v / (1 + Math.Exp(-v))),
            ("softplus", v => Math.Log(1 + Math.Exp(v))),
            ("relu", v => Math.Max(v, 0)),
        })
        {
            var y = Run($"input X[n]\noutput Y[n]\nY[n] = {name}(X[n])", Specs.Sizes(("N", x.Length)), ("X", x));
            Specs.AssertClose(x.Select(f).ToArray(), y, 1e-14);
        }
    }

    [Fact]
    public void GeluIsExact()
    {
        // Phi(1) = 0.8413447460685429, Phi(-2) = 0.022750131948179195 (tables of the normal CDF).
        var y = Run("input X[n]\noutput Y[n]\nY[n] = gelu(X[n])", Specs.Sizes(("N", 2)), ("X", new[] { 1.0, -2.0 }));
        Assert.Equal(0.8413447460685429, y[0], 14);
        Assert.Equal(-2 * 0.022750131948179195, y[1], 14);
    }

    [Fact]
    public void WrongInputsAreArgumentExceptionsNamingTheParameter()
    {
        var cascade = Specs.Load("softmax.3pass");
        var sizes = Specs.Sizes(("P", 2), ("N", 3));
        var e1 = Assert.Throws<ArgumentException>(() => ReferenceInterpreter.Run(cascade, sizes, new Dictionary<string, double[]> { ["X"] = new double[5] }));
        Assert.Equal("inputs", e1.ParamName);
        Assert.Contains("needs 6", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => ReferenceInterpreter.Run(cascade, Specs.Sizes(("P", 2)), new Dictionary<string, double[]> { ["X"] = new double[6] }));
        Assert.Equal("sizes", e2.ParamName);
        Assert.Contains("'N'", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => ReferenceInterpreter.Run(cascade, Specs.Sizes(("P", -1), ("N", 3)), new Dictionary<string, double[]> { ["X"] = new double[0] }));
        Assert.Equal("sizes", e3.ParamName);
        var e4 = Assert.Throws<ArgumentException>(() => ReferenceInterpreter.Run(Specs.Load("attention.fusemax"),
            Specs.Sizes(("P", 1), ("M", 1), ("E", 1), ("F", 1), ("M1", 3)), new Dictionary<string, double[]>()));
        Assert.Contains("derived", e4.Message);
    }
}
