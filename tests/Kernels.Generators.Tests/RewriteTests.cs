using Kernels.Einsum;
using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Planning;

namespace Kernels.Generators.Tests;

/// <summary>
/// Each rewrite of a cascade alone keeps the interpreter's result, point for point and presence for presence (an
/// absent output point reads as 0 either way): tile copies as views (TileViews, with and without the transposed
/// copies), on every spec and the 200 random cascades, at sizes that divide and do not divide their tiles.
/// </summary>
public class RewriteTests
{
    [Fact]
    public void Tile_copies_as_views_keep_the_interpreters_result()
    {
        var cases = SpecKernelTests.Cases().Where(c => c.RowBlocking == "Auto" && c.Schedule is null)
            .Concat(RandomCascades.Generate(200, seed: 20261123)).ToList();
        var rewritten = 0;
        var failures = new List<string>();
        foreach (var c in cases)
        {
            var cascade = CascadeCompiler.Compile(c.Spec).Cascade!;
            foreach (var transposed in new[] { false, true })
            {
                var views = TileViews.Apply(cascade, transposed);
                if (ReferenceEquals(views, cascade)) continue;
                rewritten++;
                Assert.True(views.Einsums.Count < cascade.Einsums.Count, $"{c.Name}: a rewrite that removes no copy");
                foreach (var sizes in c.Sizes)
                {
                    var inputs = KernelBench.RandomInputs(cascade, sizes, 5, c.InputScale);
                    foreach (var s in c.Scalars ?? new Dictionary<string, double>()) inputs[s.Key] = new[] { s.Value };
                    var expected = ReferenceInterpreter.Run(cascade, sizes, inputs);
                    var actual = ReferenceInterpreter.Run(views, sizes, inputs);
                    foreach (var (name, values) in expected)
                        if (values.Length != actual[name].Length || values.Where((v, i) => !v.Equals(actual[name][i])).Any())
                            failures.Add($"{c.Name} (transposed copies too: {transposed}) {string.Join(",", sizes.Select(x => x.Key + "=" + x.Value))}: {name} differs");
                }
            }
        }
        Assert.True(rewritten >= 10, $"only {rewritten} cascades had a tile copy to rewrite");
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(10)));
    }
}
