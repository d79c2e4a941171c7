namespace Kernels.Generators.Tests;

/// <summary>200 random valid cascades through the generator, compiled once, each run against the interpreter.</summary>
public class RandomCascadeTests
{
    /// <summary>Relative to the largest magnitude of each output: float arithmetic and SIMD math against the double interpreter.</summary>
    public const double Tolerance = 1e-4;

    [Fact]
    public void Two_hundred_random_cascades_match_the_interpreter()
    {
        var cases = RandomCascades.Generate(200, seed: 20261123).ToList();
        Assert.Equal(200, cases.Count);
        // The set must exercise every lowering and both kinds of structured rank, or it proves little.
        var plans = cases.Select(c => Kernels.Einsum.Planning.KernelPlanner.Plan(Kernels.Einsum.CascadeCompiler.Compile(c.Spec).Cascade!, assumeDivisible: false)).ToList();
        foreach (var lowering in Enum.GetValues<Kernels.Einsum.Planning.EinsumLowering>())
            Assert.True(plans.Count(p => p.Einsums.Values.Any(e => e.Lowering == lowering)) >= 10, $"fewer than 10 cascades use {lowering}");
        Assert.True(cases.Count(c => c.Spec.Contains("iterate")) >= 20);
        Assert.True(cases.Count(c => c.Spec.Contains("partition")) >= 20);
        Assert.True(cases.Count(c => c.Spec.Contains("where")) >= 20);
        Assert.True(plans.Count(p => p.SliceRank is not null) >= 20);
        Assert.True(plans.Count(p => p.RowBlocks) >= 10, $"{plans.Count(p => p.RowBlocks)} plans block rows");
        Assert.True(plans.Count(p => p.Fusions.Count > 0) >= 20, $"{plans.Count(p => p.Fusions.Count > 0)} plans fuse a map with a reduction");
        // Partial tiles run as loop bounds (the dense plan serving sizes that do not divide) on enough of them, with such sizes.
        var bounded = cases.Where(c => Kernels.Einsum.Planning.KernelPlanner.Plan(Kernels.Einsum.CascadeCompiler.Compile(c.Spec).Cascade!, assumeDivisible: true).EdgeBounds is not null).ToList();
        Assert.True(bounded.Count(c => c.Sizes.Any(s => s.Any(p => p.Key.EndsWith('0')) || c.Spec.Contains("0 = "))) >= 20, $"{bounded.Count} cascades bound their partial tiles");
        Assert.True(cases.Count(c => c.RowBlocking == "Blocked") >= 50 && cases.Count(c => c.RowBlocking == "PerRow") >= 50);
        // Half of them run a random legal schedule: every kind of choice must be among them.
        var scheduled = cases.Where(c => c.Schedule is not null).Select(c => c.Schedule!).ToList();
        Assert.True(scheduled.Count >= 80, $"{scheduled.Count} random schedules");
        foreach (var kind in new[] { "serial", "parallel ", "rows ", "scalar", "vector;", "vector ", "contraction", "fold ", "tile ", "order ", "fuse ", "place ", " view;", " copy;", " output;", " scratch;", "split " })
            Assert.True(scheduled.Count(x => (x + ";").Contains(kind, StringComparison.Ordinal)) >= 3, $"fewer than 3 random schedules choose '{kind}'");
        Assert.True(scheduled.Count(x => System.Text.RegularExpressions.Regex.IsMatch(x, "rows blocked [0-9]")) >= 3, "fewer than 3 random schedules fix the rows of a block");
        var bench = new KernelBench(cases);
        bench.Compile();
        var failures = bench.CompareAll(Tolerance, seed: 7);
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} differ:\n\n" + string.Join("\n\n", failures.Take(5)));
        var descriptors = bench.DescriptorMismatches();
        Assert.True(descriptors.Count == 0, $"{descriptors.Count} descriptors differ from their cascades:\n\n" + string.Join("\n\n", descriptors.Take(5)));
    }

    /// <summary>The schedule a plan reports is complete: planning again with it gives the same plan, with no errors.</summary>
    [Fact]
    public void Every_random_cascades_chosen_schedule_plans_the_same_again()
    {
        foreach (var c in RandomCascades.Generate(200, seed: 20261123))
        {
            // As the generator reads it: the attribute's RowBlocking, then its Schedule.
            var asked = new Kernels.Einsum.Planning.Schedule { RowBlocks = c.RowBlocking switch { "PerRow" => false, "Blocked" => true, _ => null } }
                .With(Kernels.Einsum.Planning.Schedule.Parse(c.Schedule ?? "", out _));
            var raw = Kernels.Einsum.CascadeCompiler.Compile(c.Spec).Cascade!;
            Assert.Empty(Kernels.Einsum.Planning.KernelVariants.ScheduleErrors(raw, asked));
            var chosen = Kernels.Einsum.Planning.KernelVariants.ChosenSchedule(raw, asked);
            Assert.Equal(chosen, Kernels.Einsum.Planning.KernelVariants.ChosenSchedule(raw, chosen));
            var cascade = Kernels.Einsum.Planning.KernelVariants.PlannedCascade(asked.ApplyTiles(raw), asked);
            foreach (var divisible in new[] { true, false })
            {
                var plan = Kernels.Einsum.Planning.KernelPlanner.Plan(cascade, divisible, asked);
                if (divisible) Assert.Empty(plan.ScheduleErrors);
                var again = Kernels.Einsum.Planning.KernelPlanner.Plan(cascade, divisible, plan.Schedule);
                Assert.Empty(again.ScheduleErrors);
                Assert.Equal(plan.Schedule, again.Schedule);
                foreach (var (id, e) in plan.Einsums)
                    Assert.True((e.Lowering, e.VectorRank) == (again.Einsums[id].Lowering, again.Einsums[id].VectorRank), $"{c.Name}: Einsum {id} planned {e.Lowering} {e.VectorRank}, then {again.Einsums[id].Lowering} {again.Einsums[id].VectorRank}\n{plan.Schedule}\n{c.Spec}");
                foreach (var (id, e) in plan.Einsums)
                    Assert.True(e.LoopOrder.SequenceEqual(again.Einsums[id].LoopOrder), $"{c.Name}: Einsum {id} looped {string.Join(" ", e.LoopOrder)}, then {string.Join(" ", again.Einsums[id].LoopOrder)}\n{plan.Schedule}\n{c.Spec}");
                Assert.Equal(plan.Fusions.OrderBy(x => x.Key), again.Fusions.OrderBy(x => x.Key));
            }
        }
    }
}
