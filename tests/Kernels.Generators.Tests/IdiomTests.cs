using Kernels.Einsum;
using Kernels.Einsum.Emit;

namespace Kernels.Generators.Tests;

/// <summary>
/// Which lowering idioms fire where. Each is recognised from the cascade's structure, never from a kernel's name,
/// so each must fire on at least two different cascades; the table for specs/ is golden (a change in it is a
/// reviewed change in what the compiler does). Correctness of every idiom is the interpreter comparisons'
/// business (SpecKernelTests, RandomCascadeTests); this only says that they fire.
/// </summary>
public class IdiomTests
{
    /// <summary>The marks each idiom leaves in emitted code.</summary>
    private static readonly (string Idiom, string Mark)[] Idioms =
    {
        ("fused map + reduction sweep", "one sweep over"),
        ("buffer reuse (intermediate in an output)", "'s memory: each point of"),
        ("reciprocal of an invariant divisor", "inv = "),
        ("log-sum-exp kept as (max, log sum)", "LogSumExpLow"),
        ("contraction as a micro-kernel call", "register-blocked micro-kernel"),
        ("blocks of rows of the parallel rank", "this block is"),
        ("a row split across threads", "in parts, one per thread"),
        ("rescaled running sum in the contraction's store", "with the running sum"),
        ("a filter on output ranks as a fill its readers skip", "which its readers skip as absent points"),
        ("steps in which a filter leaves every point out skipped", "the step changes nothing"),
        ("a tile copy of an input read in place", "is a view:"),
        ("an input read across the steps copied with their rank outermost", "each step reads a contiguous row"),
        ("a chunk of steps: state-independent Einsums vectorised along them", "steps at a time: what does not depend on the carried state"),
        ("a sum's factors applied after it or to a copy of one operand", "(ReductionFactors)"),
        ("a step's loops cut at a filter's bound for the rows at hand", "so the step's loops over"),
        ("a filter's left-out points filled between its bounds", "filled between its bounds"),
        ("an exp whose argument a maximum bounds clamped below only", "the exp is clamped only below"),
        ("exp of a row less an invariant, with its sum, as a row micro-kernel call", "Sweep.ExpSum<"),
        ("a row's maximum as a row micro-kernel call", "Sweep.Max<"),
        ("a row divided by an invariant as a row micro-kernel call", "Sweep.Divide<"),
        ("a row's maximum taken as the contraction stores the row", "taken as the micro-kernel stores the row"),
        ("scores in base 2: log2(e) in the contraction's scale, their exps exp2", "times log2(e): its exps in base 2"),
    };

    private static Dictionary<string, int> Fired(string spec)
    {
        var cascade = CascadeCompiler.Compile(spec).Cascade!;
        var code = CSharpKernelEmitter.Emit(cascade, KernelSignature.Canonical(cascade));
        return Idioms.ToDictionary(i => i.Idiom, i => code.Split(i.Mark).Length - 1);
    }

    /// <summary>Counts of marks in the emitted code: a kernel whose rows can be split across threads has its row's
    /// Einsums twice (whole rows per thread, and one row across threads), so its idioms count twice; so does a kernel
    /// with a plan for few rows (tile copies read in place), and one with a plan for partial tiles.</summary>
    public static TheoryData<string, string> Golden => new()
    {
        // spec                           sweep alias recip pair gemm rows split fold fill skip view step chunk factor cut run bound expsum max div maxfold log2
        { "attention.2pass",              "   4     0     0    0    4    2     0    0    0    0    2    0     0      0   0   0     4      2   2   2       2   3" },
        { "attention.3pass",              "   1     0     0    0    2    1     0    0    0    0    0    0     0      0   0   0     1      1   0   1       1   1" },
        { "attention.bshd",               "   2     0     0    0    2    2     0    2    2    2    2    0     0      0   2   2     4      2   2   2       2   3" },
        { "attention.causal",             "   2     0     0    0    2    2     0    2    2    2    2    0     0      0   2   2     4      2   2   2       2   3" },
        { "attention.fusemax",            "   2     0     0    0    2    2     0    2    0    0    2    0     0      0   0   0     4      2   0   2       2   3" },
        { "attention.gqa",                "   2     0     0    0    2    2     0    2    0    0    2    0     0      0   0   0     4      2   0   2       2   3" },
        { "attention.scaled",             "   2     0     0    0    2    2     0    2    2    2    2    0     0      0   2   2     4      2   2   2       2   3" },
        { "attention.lse",                "   2     0     0    0    2    2     0    2    2    2    2    0     0      0   2   2     4      2   2   2       2   0" },
        { "attention.padded",             "   2     0     0    0    2    2     0    2    2    2    2    0     0      0   2   2     4      2   2   2       2   3" },
        { "attention.masked",             "   2     0     0    0    2    2     0    2    4    2    2    0     0      0   2   4     4      2   2   2       0   0" },
        { "attention.softcap",            "   2     0     0    0    2    2     0    2    2    2    2    0     0      0   2   2     4      2   2   2       0   0" },
        { "attention.softcap.masked",     "   2     0     0    0    2    2     0    2    4    2    2    0     0      0   2   4     4      2   2   2       0   0" },
        { "attention.window",             "   2     0     0    0    2    2     0    2    2    2    2    0     0      0   2   2     4      2   2   2       2   3" },
        { "attention.gqa.causal",         "   2     0     0    0    2    2     0    2    2    2    2    0     0      0   2   2     4      2   2   2       2   3" },
        { "attention.mha",                "   2     0     0    0    2    2     0    2    0    0    2    0     0      0   0   0     4      2   0   2       2   3" },
        { "linear_attention.causal",      "   0     0     0    0    4    0     0    0    1    0    0    0     0      6   0   1     0      0   0   0       0   0" },
        { "linear_attention.gated",       "   0     0     0    0    4    0     0    0    1    0    0    0     0      6   0   1     0      0   0   0       0   0" },
        { "linear_attention.heads",       "   0     0     0    0    8    0     0    0    2    0    3    0     0      9   0   2     0      0   0   0       0   0" },
        { "linear_attention.quadratic",   "   0     0     0    0    2    1     0    0    1    0    0    0     0      1   0   1     0      0   0   0       0   0" },
        { "selective_scan",               "   1     0     0    0    0    0     0    0    0    0    0    2     1      0   0   0     0      0   0   0       0   0" },
        { "selective_scan.grouped",       "   1     0     0    0    0    0     0    0    0    0    0    2     1      0   0   0     0      0   0   0       0   0" },
        { "selective_scan.shared",        "   1     0     0    0    0    0     0    0    0    0    0    0     1      0   0   0     0      0   0   0       0   0" },
        { "softmax.2pass",                "   0     0     0    2    0    0     2    0    0    0    0    0     0      0   0   0     2      0   0   0       0   0" },
        { "softmax.2pass.lse",            "   0     0     0    2    0    0     2    0    0    0    0    0     0      0   0   0     2      0   0   0       0   0" },
        { "softmax.3pass",                "   2     1     0    0    0    0     3    0    0    0    0    0     0      0   0   0     2      2   2   2       0   0" },
    };

    [Theory]
    [MemberData(nameof(Golden))]
    public void Idioms_fire_on_the_specs_as_the_golden_table_says(string name, string counts)
    {
        var fired = Fired(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "specs", name + ".einsum")));
        var expected = counts.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
        Assert.Equal(Idioms.Length, expected.Length);
        Assert.Equal(expected, Idioms.Select(i => fired[i.Idiom]).ToArray());
    }

    [Fact]
    public void The_golden_table_has_a_row_for_every_spec()
    {
        var specs = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "specs"), "*.einsum").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal);
        Assert.Equal(specs, Golden.Select(row => (string)row[0]).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Every_idiom_fires_on_at_least_two_cascades()
    {
        var specs = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "specs"), "*.einsum").Select(File.ReadAllText)
            .Concat(RandomCascades.Generate(200, seed: 20261123).Select(c => c.Spec)).Select(Fired).ToList();
        foreach (var (idiom, _) in Idioms)
            Assert.True(specs.Count(f => f[idiom] > 0) >= 2, $"{idiom} fires on {specs.Count(f => f[idiom] > 0)} cascade(s)");
    }
}
