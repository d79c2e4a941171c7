using Kernels.Einsum;
using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Loops;

namespace Kernels.Generators.Tests;

/// <summary>
/// The loop-nest IR's general lowering (one kernel per Einsum, one point per output point, absent points tracked) run by
/// its own interpreter, against the reference interpreter: every spec on the shapes of <see cref="SpecKernelTests"/>
/// (tiles that do not divide, empty ranks, fully masked rows) and the 200 random cascades.
/// </summary>
public class LoopProgramTests
{
    /// <summary>Both interpreters run in double, in the same order within a reduction: they agree to rounding.</summary>
    private const double Tolerance = 1e-9;

    public static IEnumerable<KernelCase> SpecCases() =>
        SpecKernelTests.Cases().Where(c => !new[] { ".perrow", ".blocked", ".scheduled" }.Any(c.Name.EndsWith));

    internal static string? Compare(KernelCase c, int seed, GpuSchedule? schedule = null)
    {
        var cascade = CascadeCompiler.Compile(c.Spec).Cascade!;
        var program = LoopLowering.Lower(cascade, schedule);
        foreach (var sizes in c.Sizes)
        {
            var inputs = KernelBench.RandomInputs(cascade, sizes, seed, c.InputScale);
            foreach (var (name, value) in c.Scalars ?? new Dictionary<string, double>()) inputs[name] = new[] { value };
            var expected = ReferenceInterpreter.Run(cascade, sizes, inputs);
            IReadOnlyDictionary<string, double[]> actual;
            try { actual = LoopInterpreter.Run(program, sizes, inputs); }
            catch (Exception ex) { return $"{c.Name} {KernelBench.Show(sizes)}: {ex.GetType().Name}: {ex.Message}"; }
            foreach (var (name, want) in expected)
            {
                var got = actual[name];
                for (var i = 0; i < want.Length; i++)
                {
                    var same = double.IsNaN(want[i]) ? double.IsNaN(got[i]) : want[i] == got[i] || Math.Abs(want[i] - got[i]) <= Tolerance * Math.Max(1, Math.Abs(want[i]));
                    if (!same) return $"{c.Name} {KernelBench.Show(sizes)}: {name}[{i}] is {got[i]:R}, the interpreter says {want[i]:R}";
                }
            }
        }
        return null;
    }

    [Fact]
    public void Every_spec_lowered_to_loop_nests_matches_the_reference_interpreter()
    {
        var cases = SpecCases().ToList();
        Assert.True(cases.Count >= 21, $"{cases.Count} spec cases");
        var failures = cases.Select((c, i) => Compare(c, seed: 3 + i)).Concat(cases.Select((c, i) => Compare(c, seed: 3 + i, GpuSchedule.ThreadPerPoint))).OfType<string>().ToList();
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Two_hundred_random_cascades_lowered_to_loop_nests_match_the_reference_interpreter()
    {
        var cases = RandomCascades.Generate(200, seed: 20261123).ToList();
        var failures = cases.Select((c, i) => (Compare(c, seed: 7 + i) ?? Compare(c, seed: 7 + i, GpuSchedule.ThreadPerPoint)) is { } f ? f + "\n" + c.Spec : null).OfType<string>().ToList();
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} differ:\n\n" + string.Join("\n\n", failures.Take(5)));
    }

    [Fact]
    public void Numerically_hard_inputs_give_the_reference_interpreters_results()
    {
        // Huge logits, -inf, +inf and NaN through a max, a logsumexp and a filtered sum.
        var spec = "input X[i,j]\noutput M[i], L[i], S[i]\nM[i] = max[j] X[i,j]\nL[i] = logsumexp[j] X[i,j]\nS[i] = sum[j] exp(X[i,j] - M[i]) where j < i\n";
        var cascade = CascadeCompiler.Compile(spec).Cascade!;
        var sizes = new Dictionary<string, int> { ["I"] = 6, ["J"] = 4 };
        double inf = double.PositiveInfinity;
        var x = new[] { 1e30, 1e30, -1e30, 0, -inf, -inf, -inf, -inf, inf, 1, inf, 2, double.NaN, 1, 2, 3, -inf, 5, inf, 7, 1e4, 1e4, 1e4 - 1, 0 };
        var expected = ReferenceInterpreter.Run(cascade, sizes, new Dictionary<string, double[]> { ["X"] = x });
        var actual = LoopInterpreter.Run(LoopLowering.Lower(cascade), sizes, new Dictionary<string, double[]> { ["X"] = x });
        foreach (var (name, want) in expected)
            Assert.Equal(want, actual[name]);
    }
}
