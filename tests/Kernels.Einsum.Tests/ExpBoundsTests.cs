using Kernels.Einsum.Planning;

namespace Kernels.Einsum.Tests;

/// <summary>
/// Which exps the planner proves to have an argument at most 0 (ExpBounds): exactly those whose subtrahend is a maximum
/// (or log-sum-exp) over the value, possibly through a running max, and none where the bound is anything else.
/// Wrongly proving one would let a positive argument through an exp clamped below only, so the cases it must refuse
/// matter as much as those it finds. (That the kernels' values do not change is the spec and random cascade tests'.)
/// </summary>
public class ExpBoundsTests
{
    private static List<string> Proved(string spec)
    {
        var result = CascadeCompiler.Compile(spec);
        Assert.True(result.Cascade is not null, string.Join("\n", result.Diagnostics));
        return ExpBounds.NonPositive(result.Cascade!).Select(p => p.Exp).OrderBy(x => x, StringComparer.Ordinal).ToList();
    }

    [Fact]
    public void A_maximum_a_log_sum_exp_and_a_running_maximum_bound_the_values_they_range_over()
    {
        Assert.Equal(new[] { "exp((X[p,n] - GM[p]))" }, Proved("kernel k\ninput X[p,n]\noutput Y[p,n]\nGM[p] = max[n] X[p,n]\nY[p,n] = exp(X[p,n] - GM[p])\n"));
        Assert.Equal(new[] { "exp((X[p,n] - L[p]))" }, Proved("kernel k\ninput X[p,n]\noutput Y[p,n]\nL[p] = logsumexp[n] X[p,n]\nY[p,n] = exp(X[p,n] - L[p])\n"));
        // The running maximum of the one-pass cascade bounds both the tile's scores and its own previous value.
        Assert.Equal(new[] { "exp((RM[m1,p] - RM[m1+1,p]))", "exp((S[m1,m0,p] - RM[m1+1,p]))" }, Proved("""
            kernel k
            input X[p,m]
            output D[p]
            partition M -> M1 x M0 with M0 = 4
            iterate m1 until m1 == M1 {
              init RM[0,p] = -3.4e38
              init RD[0,p] = 0
              S[m1,m0,p] = X[p, m1*M0 + m0] * 2
              LM[m1,p] = max[m0] S[m1,m0,p]
              RM[m1+1,p] = max(RM[m1,p], LM[m1,p])
              E[m1,p] = sum[m0] exp(S[m1,m0,p] - RM[m1+1,p])
              RD[m1+1,p] = E[m1,p] + RD[m1,p] * exp(RM[m1,p] - RM[m1+1,p])
            }
            D[p] = RD[M1,p]
            """));
        // A filter the reader shares keeps every value it sees among the maximum's terms.
        Assert.Single(Proved("kernel k\ninput X[p,n]\noutput Y[p,n]\nGM[p] = max[n] X[p,n] where n <= p\nY[p,n] = exp(X[p,n] - GM[p]) where n <= p\n"));
    }

    [Theory]
    [InlineData("GM[p] = sum[n] X[p,n]\nY[p,n] = exp(X[p,n] - GM[p])", "a sum is no bound")]
    [InlineData("GM[p] = min[n] X[p,n]\nY[p,n] = exp(X[p,n] - GM[p])", "a minimum is a lower bound")]
    [InlineData("GM[p] = max[n] X[p,n]\nY[p,n] = exp(GM[p] - X[p,n])", "the maximum minus a term is at least 0")]
    [InlineData("GM[p] = max[n] X[p,n]\nY[p,n] = exp(X[p,n] * 2 - GM[p])", "the maximum is over X, not 2X")]
    [InlineData("GM[p] = max[n] X[p,n] where n <= p\nY[p,n] = exp(X[p,n] - GM[p])", "the maximum leaves out terms the reader sees")]
    [InlineData("GM[p] = max[n] X[p,n]\nY[p,n] = exp(Z[p,n] - GM[p])", "a maximum over another tensor")]
    [InlineData("GM[p] = max[n] X[p,n]\nY[p,n] = exp(X[p,n] - GM[p+1])", "the maximum of the next row")]
    [InlineData("GM[p] = max[n] X[p,n] + 1\nY[p,n] = exp(X[p,n] - GM[p])", "the bound is computed from the maximum, not the maximum")]
    [InlineData("GM[p] = max(X[p,0], Z[p,0])\nY[p,n] = exp(X[p,n] - GM[p])", "a pointwise max of other points")]
    public void Nothing_else_bounds_an_exps_argument(string einsums, string why)
    {
        var spec = "kernel k\ninput X[p,n], Z[p,n]\noutput Y[p,n]\n" + einsums + "\n";
        Assert.True(Proved(spec).Count == 0, why);
    }
}
