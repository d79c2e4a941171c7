using Kernels.Einsum;
using Kernels.Einsum.Emit;
using Kernels.Einsum.Planning;

namespace Kernels.Generators.Tests;

/// <summary>
/// Steps cut at a filter's bound (<see cref="FilterFills.ClippableBy"/>): a causal block's diagonal tile of keys stops
/// at its last row's key, and every Einsum of the step over the key rank stops with it, but only where all of them are
/// absent past the bound. Each cascade runs through the generator at every width against the interpreter, on a key
/// tile of 8 so that a block of rows meets many diagonal tiles, with fewer, as many and more queries than keys.
/// </summary>
public class StepClipTests
{
    /// <summary>One-pass causal attention with the filter written as <paramref name="filter"/> and an extra term
    /// <paramref name="extra"/> added to the numerator before its sum.</summary>
    private static string Cascade(string filter, string extra = "") => $$"""
        input  Q[p,e], K[m,e], V[m,f]{{(extra.Length > 0 ? ", W[m]" : "")}}
        output AV[p,f]
        partition M -> M1 x M0 with M0 = 8
        BK[m1,m0,e] = K[m1*M0 + m0, e]
        BV[m1,m0,f] = V[m1*M0 + m0, f]
        {{(extra.Length > 0 ? "BW[m1,m0] = W[m1*M0 + m0]" : "")}}
        iterate m1 until m1 == M1 {
          init RM[0,p]    = -3.4028235e38
          init RD[0,p]    = 0
          init RNV[0,p,f] = 0
          BQK[m1,m0,p]  = Q[p,e] * BK[m1,m0,e] where {{filter}}
          LM[m1,p]      = max[m0] BQK[m1,m0,p]
          RM[m1+1,p]    = max(RM[m1,p], LM[m1,p])
          SLN[m1,m0,p]  = exp(BQK[m1,m0,p] - RM[m1+1,p]){{extra}}
          SLD[m1,p]     = sum[m0] SLN[m1,m0,p]
          SLNV[m1,p,f]  = sum[m0] SLN[m1,m0,p] * BV[m1,m0,f]
          PRM[m1,p]     = exp(RM[m1,p] - RM[m1+1,p])
          RD[m1+1,p]    = SLD[m1,p] + RD[m1,p] * PRM[m1,p]
          RNV[m1+1,p,f] = SLNV[m1,p,f] + RNV[m1,p,f] * PRM[m1,p]
        }
        AV[p,f] = RNV[M1,p,f] / RD[M1,p]
        """;

    private static readonly IReadOnlyDictionary<string, int>[] Shapes =
    {
        new Dictionary<string, int> { ["P"] = 37, ["M"] = 37, ["E"] = 5, ["F"] = 19 },
        new Dictionary<string, int> { ["P"] = 13, ["M"] = 45, ["E"] = 3, ["F"] = 17 },
        new Dictionary<string, int> { ["P"] = 50, ["M"] = 21, ["E"] = 4, ["F"] = 16 },
        new Dictionary<string, int> { ["P"] = 7, ["M"] = 64, ["E"] = 8, ["F"] = 33 },
    };

    // Whole tiles only (the mirrored read of a partial tile would reach past its edge).
    private static readonly IReadOnlyDictionary<string, int>[] WholeTiles =
    {
        new Dictionary<string, int> { ["P"] = 37, ["M"] = 40, ["E"] = 5, ["F"] = 19 },
        new Dictionary<string, int> { ["P"] = 13, ["M"] = 48, ["E"] = 3, ["F"] = 17 },
        new Dictionary<string, int> { ["P"] = 50, ["M"] = 24, ["E"] = 4, ["F"] = 16 },
    };

    private static IReadOnlyList<FilterFills.StepClip> Clips(string spec)
    {
        var plan = KernelPlanner.Plan(CascadeCompiler.Compile(spec).Cascade!, assumeDivisible: true);
        return plan.StepClips.TryGetValue("m1", out var clips) ? clips : Array.Empty<FilterFills.StepClip>();
    }

    public static TheoryData<string, string, bool> Cases => new()
    {
        // The causal mask, bottom-right, as <=, as < and as >= with the sides swapped: the key rank is cut.
        { "le", Cascade("m1*M0 + m0 <= p + M - P"), true },
        { "lt", Cascade("m1*M0 + m0 < p + M - P + 1"), true },
        { "ge", Cascade("p + M - P >= m1*M0 + m0"), true },
        // A window of 5 keys: the upper bound cuts the step, the lower one is filled before the window per row.
        { "window", Cascade("m1*M0 + m0 <= p + M - P and m1*M0 + m0 > p + M - P - 5"), true },
        { "window.ge", Cascade("p + M - P >= m1*M0 + m0 and p + M - P - 5 < m1*M0 + m0"), true },
        // Soft-capped scores: the contraction has every key, but only the filtered cap reads it, so it stops too.
        { "capped", Cascade("m1*M0 + m0 <= p + M - P").Replace("BQK[m1,m0,p]  = Q[p,e] * BK[m1,m0,e] where", "S[m1,m0,p] = Q[p,e] * BK[m1,m0,e]\n  BQK[m1,m0,p] = 3 * tanh(S[m1,m0,p] / 3) where"), true },
        // A term present at every key (+ passes it through where the score is absent): the sums need every key of the
        // tile, so the step must not stop at the diagonal (nor be skipped).
        { "present", Cascade("m1*M0 + m0 <= p + M - P", " + BW[m1,m0]"), false },
        // The numerator read at the mirrored key: a step with no score is still skipped, but past the bound the
        // numerator reads scores before it, so the step must run over the whole tile.
        { "mirrored", Cascade("m1*M0 + m0 <= p + M - P").Replace("exp(BQK[m1,m0,p]", "exp(BQK[m1,M0 - 1 - m0,p]"), false },
        // A term absent where the score is (*): still cut.
        { "absent", Cascade("m1*M0 + m0 <= p + M - P", " * BW[m1,m0]"), true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_step_stops_at_the_bound_only_where_everything_past_it_is_absent(string name, string spec, bool cut)
    {
        var clips = Clips(spec);
        Assert.Equal(cut, clips.Any(c => c.Rank == "m0"));
        var code = CSharpKernelEmitter.Emit(CascadeCompiler.Compile(spec).Cascade!, KernelSignature.Canonical(CascadeCompiler.Compile(spec).Cascade!));
        Assert.Equal(cut, code.Contains("the step's loops over m0 stop there", StringComparison.Ordinal));
        var bench = new KernelBench(new[] { new KernelCase(name, spec, name == "mirrored" ? WholeTiles : Shapes, 2.0) });
        bench.Compile();
        Assert.Empty(bench.CompareAll(1e-4));
    }
}
