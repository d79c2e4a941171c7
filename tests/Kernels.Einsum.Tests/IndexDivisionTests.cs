using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Ir;

namespace Kernels.Einsum.Tests;

/// <summary>Floor division and remainder in subscripts: grouped-query attention's <c>K[h / G, m, e]</c>.</summary>
public class IndexDivisionTests
{
    /// <summary>Grouped-query attention (three passes): each group of G query heads h shares key/value head h / G; the
    /// partition gives the group size G its name and the key/value heads their count KH = ceil(H / G).</summary>
    public const string GroupedQueryAttention = """
        input Q[h,p,e], K[kh,m,e], V[kh,m,f]
        partition H -> KH x G
        output AV[h,p,f]
        QK[h,p,m] = Q[h,p,e] * K[h / G, m, e] * rsqrt(E)
        GM[h,p]   = max[m] QK[h,p,m]
        SN[h,p,m] = exp(QK[h,p,m] - GM[h,p])
        SD[h,p]   = sum[m] SN[h,p,m]
        AV[h,p,f] = SN[h,p,m] * V[h / G, m, f] / SD[h,p]
        """;

    [Fact]
    public void Grouped_query_attention_matches_direct_loops()
    {
        var cascade = Specs.Compile(GroupedQueryAttention);
        int h = 6, kh = 2, p = 3, m = 5, e = 4, f = 3, g = h / kh;
        var sizes = new Dictionary<string, int> { ["H"] = h, ["P"] = p, ["M"] = m, ["E"] = e, ["F"] = f, ["G"] = g };
        var r = new Random(3);
        double[] Make(int n) => Enumerable.Range(0, n).Select(_ => r.NextDouble() * 2 - 1).ToArray();
        var (q, k, v) = (Make(h * p * e), Make(kh * m * e), Make(kh * m * f));
        var av = ReferenceInterpreter.Run(cascade, sizes, new Dictionary<string, double[]> { ["Q"] = q, ["K"] = k, ["V"] = v })["AV"];
        for (var hi = 0; hi < h; hi++)
            for (var pi = 0; pi < p; pi++)
            {
                var kv = hi / g;
                var scores = Enumerable.Range(0, m).Select(mi => Enumerable.Range(0, e).Sum(ei => q[(hi * p + pi) * e + ei] * k[(kv * m + mi) * e + ei]) / Math.Sqrt(e)).ToArray();
                var max = scores.Max();
                var weights = scores.Select(s => Math.Exp(s - max)).ToArray();
                for (var fi = 0; fi < f; fi++)
                {
                    var expected = Enumerable.Range(0, m).Sum(mi => weights[mi] * v[(kv * m + mi) * f + fi]) / weights.Sum();
                    Assert.Equal(expected, av[(hi * p + pi) * f + fi], 12);
                }
            }
    }

    [Fact]
    public void Division_and_remainder_round_down_and_a_point_they_send_outside_the_tensor_is_absent()
    {
        // Y[i] = X[(i - 3) / 2] + X[i % 3]: for i < 3 the first read lands on index -2 or -1, absent, and the sum
        // keeps the present operand; from i = 3 on both exist.
        var cascade = Specs.Compile("input X[i]\noutput Y[i]\nY[i] = X[(i - 3) / 2] + X[i % 3]\n");
        Assert.Equal("X[(i-3)/2]", cascade.Einsums[0].Reads().First().ToString());
        var x = new[] { 10.0, 20, 30, 40, 50, 60, 70 };
        var y = ReferenceInterpreter.Run(cascade, new Dictionary<string, int> { ["I"] = 7 }, new Dictionary<string, double[]> { ["X"] = x })["Y"];
        Assert.Equal(new[] { 10.0, 20, 30, 10 + 10, 10 + 20, 20 + 30, 20 + 10 }, y);
        Assert.Equal(-2, IndexArithmetic.FloorDivide(-3, 2));
        Assert.Equal(1, IndexArithmetic.FloorModulo(-3, 2));
        Assert.Equal(-1, IndexArithmetic.FloorDivide(5, 0));
        Assert.Equal(-1, IndexArithmetic.FloorModulo(5, 0));
    }

    [Theory]
    [InlineData("input X[i], W[j]\noutput Y[i,j]\nY[i,j] = X[i / j] * W[j]\n", "KRN0031", "j", "divides only by a positive integer or a size")]
    [InlineData("input X[i]\noutput Y[i]\nY[i] = X[i % 0]\n", "KRN0031", "0", "divides only by a positive integer or a size")]
    [InlineData("input X[i]\noutput Y[i]\nY[i] = X[i] % 2\n", "KRN0002", "X[i] % 2", "'%' is the remainder of a subscript")]
    public void A_bad_division_is_reported_where_it_is_written(string spec, string id, string marked, string message)
    {
        var result = CascadeCompiler.Compile(spec);
        var d = Assert.Single(result.Diagnostics, x => x.IsError);
        Assert.Equal(id, d.Id);
        Assert.Equal(marked, spec.Substring(d.Span.Start, d.Span.Length));
        Assert.Contains(message, d.Message, StringComparison.Ordinal);
    }
}
