using Kernels.Einsum;
using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Ir;
using Kernels.Einsum.Planning;

namespace Kernels.Generators.Tests;

/// <summary>
/// Each rewrite of a cascade alone keeps the interpreter's result, point for point and presence for presence (an
/// absent output point reads as 0 either way): tile copies as views (TileViews, with and without the transposed
/// copies), inputs read across an iteration block's steps copied with its rank outermost (StepTransposes), and sums
/// split from their factors that do not vary with the summed rank (ReductionFactors, to rounding), and scores carried in base 2 (Log2Scores, to rounding), on every spec and the 200 random cascades, at sizes that divide and do not divide their tiles.
/// </summary>
public class RewriteTests
{
    [Fact]
    public void Tile_copies_as_views_keep_the_interpreters_result()
    {
        var rewritten = KeepsTheInterpretersResult(new (string, Func<Cascade, Cascade>)[]
        {
            ("tile views", c => TileViews.Apply(c)),
            ("tile views with the transposed copies", c => TileViews.Apply(c, transposed: true)),
        }, (before, after) => after.Einsums.Count < before.Einsums.Count);
        Assert.True(rewritten >= 10, $"only {rewritten} cascades had a tile copy to rewrite");
    }

    [Fact]
    public void Inputs_read_across_the_steps_copied_with_their_rank_outermost_keep_the_interpreters_result()
    {
        var rewritten = KeepsTheInterpretersResult(new (string, Func<Cascade, Cascade>)[] { ("step transposes", StepTransposes.Apply) },
            (before, after) => after.Tensors.Count > before.Tensors.Count && after.Tensors.Where(t => !before.Tensors.Contains(t)).All(copy =>
                // Each new tensor copies an input that no Einsum of a block reads any more.
                after.Writer(copy.Name) is { Body: TensorRead { Tensor.Role: TensorRole.Input } read }
                && !after.Blocks.SelectMany(b => b.Einsums).SelectMany(e => e.Reads()).Any(r => r.Tensor.Name == read.Tensor.Name)));
        Assert.True(rewritten >= 1, "no cascade had an input read across its steps");
    }

    [Fact]
    public void Sums_split_from_their_factors_that_do_not_vary_with_the_summed_rank_keep_the_interpreters_result()
    {
        // The factor multiplies the sum instead of each term: equal to rounding, presence for presence.
        var rewritten = KeepsTheInterpretersResult(new (string, Func<Cascade, Cascade>)[] { ("reduction factors", ReductionFactors.Apply) },
            (before, after) => after.Einsums.Count == before.Einsums.Count + after.Tensors.Count(t => !before.Tensors.Contains(t))
                && after.Tensors.Where(t => !before.Tensors.Contains(t)).All(part => after.Writer(part.Name) is { Reduction: ReduceOperator.Sum or null, Filters.Count: 0 }),
            tolerance: 1e-12);
        Assert.True(rewritten >= 3, $"only {rewritten} cascades had a sum with a factor to split off");
    }

    [Fact]
    public void Scores_carried_in_base_2_keep_the_interpreters_result()
    {
        // exp(x - m) as 2^(x log2(e) - m log2(e)), the maxima taken of the scaled values: equal to rounding, presence
        // for presence. The same Einsums, exps turned into exp2 and one body scaled.
        static int Exp2s(Cascade c) => c.Einsums.Sum(e => e.Body.ToString().Split("exp2(").Length - 1);
        var rewritten = KeepsTheInterpretersResult(new (string, Func<Cascade, Cascade>)[] { ("log2 scores", Log2Scores.Apply) },
            (before, after) => after.Einsums.Count == before.Einsums.Count && Exp2s(before) == 0 && Exp2s(after) >= 1
                && after.Einsums.Zip(before.Einsums, (a, b) => a.Body.ToString() != b.Body.ToString()).Count(changed => changed) > Exp2s(after) / 2,
            tolerance: 1e-12);
        Assert.True(rewritten >= 10, $"only {rewritten} cascades had scores to carry in base 2");
    }

    [Theory]
    [InlineData("attention.lse")] // RM is read by the LSE output as well
    [InlineData("attention.softcap")] // the scores go through tanh before the maximum
    [InlineData("attention.masked")] // the scores are a sum (the mask added), not a contraction alone
    [InlineData("softmax.2pass")] // no contraction
    public void Scores_used_otherwise_stay_in_base_e(string spec)
    {
        var cascade = CascadeCompiler.Compile(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "specs", spec + ".einsum"))).Cascade!;
        Assert.Same(cascade, Log2Scores.Apply(cascade));
    }

    /// <summary>Runs each rewrite on every spec and random cascade it changes, at every size of the case, and compares the
    /// interpreter's results bit for bit; returns how many (cascade, rewrite) pairs changed the cascade.</summary>
    private static int KeepsTheInterpretersResult(IReadOnlyList<(string Name, Func<Cascade, Cascade> Apply)> rewrites, Func<Cascade, Cascade, bool> changedAsDescribed, double tolerance = 0)
    {
        var cases = SpecKernelTests.Cases().Where(c => c.RowBlocking == "Auto" && c.Schedule is null)
            .Concat(RandomCascades.Generate(200, seed: 20261123)).ToList();
        var rewritten = 0;
        var failures = new List<string>();
        foreach (var c in cases)
        {
            var cascade = CascadeCompiler.Compile(c.Spec).Cascade!;
            foreach (var (name, apply) in rewrites)
            {
                var after = apply(cascade);
                if (ReferenceEquals(after, cascade)) continue;
                rewritten++;
                Assert.True(changedAsDescribed(cascade, after), $"{c.Name}: {name} rewrote the cascade in a way it should not");
                foreach (var sizes in c.Sizes)
                {
                    var inputs = KernelBench.RandomInputs(cascade, sizes, 5, c.InputScale);
                    c.Apply(inputs, sizes);
                    var expected = ReferenceInterpreter.Run(cascade, sizes, inputs);
                    var actual = ReferenceInterpreter.Run(after, sizes, inputs);
                    foreach (var (tensor, values) in expected)
                        if (values.Length != actual[tensor].Length || values.Where((v, i) => !v.Equals(actual[tensor][i]) && !(Math.Abs(v - actual[tensor][i]) <= tolerance * (1 + Math.Abs(v)))).Any())
                            failures.Add($"{c.Name} ({name}) {string.Join(",", sizes.Select(x => x.Key + "=" + x.Value))}: {tensor} differs");
                }
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(10)));
        return rewritten;
    }
}
