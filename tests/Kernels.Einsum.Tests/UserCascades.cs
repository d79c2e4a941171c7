namespace Kernels.Einsum.Tests;

/// <summary>Cascades a user would write (not built-in specs), shared by the Einsum and generator tests.</summary>
public static class UserCascades
{
    /// <summary>Welford's layer norm: the running mean and M2 are carried along e, and the normalised row reads their
    /// final state, so e is traversed twice (the generated code loops over e twice too).</summary>
    public const string Welford = """
        input X[p,e]
        output Y[p,e]
        iterate e until e == E {
          init MEAN[0,p] = 0
          init M2[0,p] = 0
          D[e,p] = X[p,e] - MEAN[e,p]
          MEAN[e+1,p] = MEAN[e,p] + D[e,p] / (e + 1)
          M2[e+1,p] = M2[e,p] + D[e,p] * (X[p,e] - MEAN[e+1,p])
        }
        Y[p,e] = (X[p,e] - MEAN[E,p]) * rsqrt(M2[E,p] / E + 0.00001)
        """;

}
