using Kernels.Einsum;
using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Loops;
using Kernels.Einsum.Planning;

namespace Kernels.Generators.Tests;

/// <summary>
/// The C# sink's loop-nest program (<see cref="CpuProgram"/>: the plans a call may run, each a list of nodes the emitter
/// prints) run by its own interpreter against the reference interpreter: every plan of every spec case (under each row
/// schedule and a random legal schedule) and of the 200 random cascades (half of them under random schedules), on the
/// sizes that plan serves, with the rows split over two and three threads, blocks of one and three rows, and few long
/// rows run one at a time. The interpreter keeps each tensor in the storage the plan gives it and fills scratch with NaN,
/// so a slot reused too early, a dropped dimension that was needed, a skipped step that changed state or a fold that
/// drops a term shows as a difference here, before any code is printed.
/// </summary>
public class CpuProgramTests
{
    /// <summary>Both interpreters run in double; only the order of a few sums differs (a fold adds the previous sum
    /// after the contraction's).</summary>
    private const double Tolerance = 1e-9;

    private const long WorkBudget = 200_000;

    private static readonly CpuRun[] Runs = { new(), new(Threads: 3, BlockRows: 1, RowByRow: true) };

    internal static (CpuProgram Program, Kernels.Einsum.Ir.Cascade Cascade) Program(KernelCase c)
    {
        var raw = CascadeCompiler.Compile(c.Spec).Cascade!;
        var schedule = new Schedule { RowBlocks = c.RowBlocking switch { "PerRow" => false, "Blocked" => true, _ => null } }
            .With(Schedule.Parse(c.Schedule ?? "", out _));
        var cascade = schedule.ApplyTiles(raw);
        return (CpuLowering.Lower(KernelVariants.Choose(cascade, schedule)), cascade);
    }

    internal static List<string> Compare(KernelCase c, int seed, Dictionary<string, int>? runs = null)
    {
        var failures = new List<string>();
        var (program, cascade) = Program(c);
        // The interpreter walks every point of every Einsum: the size sets within a budget of points, or the smallest.
        long Work(IReadOnlyDictionary<string, int> sizes)
        {
            var shapes = CascadeShapes.Bind(cascade, sizes);
            return cascade.Einsums.Sum(e => e.Ranks.Aggregate(1L, (n, r) => n * Math.Max(1, shapes.RankSize(r))));
        }
        // Each set also with the partitioned sizes rounded up to whole tiles, so the plan that assumes they divide runs too.
        IReadOnlyDictionary<string, int> Divisible(IReadOnlyDictionary<string, int> sizes)
        {
            var shapes = CascadeShapes.Bind(cascade, sizes);
            var whole = sizes.ToDictionary(p => p.Key, p => p.Value);
            foreach (var (_, inner, of) in program.Main.Plan.DivisibilityAssumed)
            {
                var (size, tile) = (program.Main.Cascade.Rank(of).Size, shapes.RankSize(inner));
                if (whole.TryGetValue(size, out var n) && tile > 0 && n % tile != 0) whole[size] = (int)((n + tile - 1) / tile * tile);
            }
            return whole;
        }
        var all = c.Sizes.Concat(c.Sizes.Select(Divisible)).Distinct(new SizesComparer()).ToList();
        var sets = all.Where(z => Work(z) <= WorkBudget).ToList();
        if (sets.Count == 0) sets.Add(c.Sizes.OrderBy(Work).First());
        foreach (var sizes in sets)
        {
            var inputs = KernelBench.RandomInputs(cascade, sizes, seed, c.InputScale);
            c.Apply(inputs, sizes);
            var expected = ReferenceInterpreter.Run(cascade, sizes, inputs);
            var shapes = CascadeShapes.Bind(cascade, sizes);
            var chosen = program.Choose(s => shapes.SizeValue(s));
            foreach (var plan in program.Plans.Where(p => p == chosen || p.Name == "General" || CpuProgram.Serves(p.Plan, s => shapes.SizeValue(s))))
                foreach (var run in plan == chosen ? Runs : Runs.Skip(1))
                {
                    var failure = One(program, plan, sizes, inputs, run, expected);
                    if (runs is not null) runs[plan.Name] = runs.GetValueOrDefault(plan.Name) + 1;
                    if (failure is null) continue;
                    failures.Add($"{c.Name} {KernelBench.Show(sizes)}, {plan.Name} plan, {run}: {failure}\nschedule: {c.Schedule}\n{c.Spec}");
                    break;
                }
        }
        return failures;
    }

    private static string? One(CpuProgram program, CpuPlan plan, IReadOnlyDictionary<string, int> sizes, IReadOnlyDictionary<string, double[]> inputs, CpuRun run, IReadOnlyDictionary<string, double[]> expected)
    {
        IReadOnlyDictionary<string, double[]> actual;
        try { actual = CpuInterpreter.Run(program, plan, sizes, inputs, run); }
        catch (Exception ex) { return $"{ex.GetType().Name}: {ex.Message}"; }
        foreach (var (name, want) in expected)
        {
            var got = actual[name];
            var scale = Math.Max(1.0, want.Where(double.IsFinite).Select(Math.Abs).DefaultIfEmpty(0).Max());
            for (var i = 0; i < want.Length; i++)
            {
                var same = double.IsNaN(want[i]) ? double.IsNaN(got[i]) : want[i] == got[i] || Math.Abs(want[i] - got[i]) <= Tolerance * scale;
                if (!same) return $"{name}[{i}] is {got[i]:R}, the reference interpreter says {want[i]:R}";
            }
        }
        return null;
    }

    /// <summary>Every node of a plan, blocks' inner nodes included.</summary>
    internal static IEnumerable<CpuNode> Walk(IEnumerable<CpuNode> nodes) =>
        nodes.SelectMany(n => n is CSteps s ? new[] { n }.Concat(Walk(s.Inits.Concat(s.Before).Concat(s.Body).Concat(s.After))) : new[] { n });

    internal static IEnumerable<CpuNode> Nodes(CpuPlan plan) =>
        Walk(plan.Hoisted.Concat(plan.Parallel?.Body ?? Array.Empty<CpuNode>()).Concat(plan.Parallel?.RowByRow ?? Array.Empty<CpuNode>()));

    /// <summary>The kinds of node and plan the cases must hold for the comparison to prove much, with a test for each.</summary>
    internal static readonly (string What, Func<CpuProgram, CpuPlan, bool> Has)[] Kinds =
    {
        ("a micro-kernel call with a folded running sum", (_, p) => Nodes(p).OfType<CFold>().Any()),
        ("a fused map-and-reduce sweep", (_, p) => Nodes(p).OfType<CSweep>().Any()),
        ("a contraction", (_, p) => Nodes(p).OfType<CEinsum>().Any(e => e.Plan.Lowering == EinsumLowering.Contraction)),
        ("an exact (absent-tracking) Einsum", (_, p) => Nodes(p).OfType<CEinsum>().Any(e => e.Plan.Lowering == EinsumLowering.Exact)),
        ("a fill pass", (_, p) => Nodes(p).OfType<CEinsum>().Any(e => e.Fill is not null)),
        ("a blocked transpose", (_, p) => Nodes(p).OfType<CEinsum>().Any(e => e.Transpose is not null)),
        ("a split before the parallel loop", (_, p) => Nodes(p).OfType<CEinsum>().Any(e => e.Split is { BeforeParallel: true })),
        ("rows run one at a time, split", (_, p) => p.Parallel?.RowByRow is not null),
        ("steps skipped", (_, p) => Nodes(p).OfType<CSteps>().Any(s => s.Skippers.Count > 0)),
        ("steps clipped", (_, p) => Nodes(p).OfType<CSteps>().Any(s => s.Clips.Count > 0)),
        ("steps run a chunk at a time", (_, p) => Nodes(p).OfType<CSteps>().Any(s => s.Chunk is not null)),
        ("blocks of rows", (_, p) => p.Parallel is { RowBlocks: true }),
        ("outer slices", (_, p) => p.Parallel is { OuterSlices.Count: > 0 }),
        ("edge bounds", (_, p) => p.Plan.EdgeBounds is not null),
        ("an intermediate in an output's memory", (g, _) => g.Variants.Aliases.Count > 0),
        ("a two-slot carried tensor", (_, p) => p.Plan.Storage.Values.Any(s => s.Dims.Contains(DimStorage.Rolling))),
        ("a few-rows plan", (_, p) => p.Name == "FewRows"),
        ("a general plan", (_, p) => p.Name == "General"),
    };

    [Fact]
    public void The_spec_cases_hold_every_kind_of_node_the_interpreter_checks()
    {
        var programs = SpecKernelTests.Cases().Select(c => Program(c).Program).ToList();
        foreach (var (what, has) in Kinds)
        {
            var n = programs.Count(g => g.Plans.Any(p => has(g, p)));
            Assert.True(n >= 2, $"{n} spec cases have {what}");
        }
    }

    [Fact]
    public void Every_plan_of_every_spec_runs_in_the_loop_program_as_the_reference_interpreter_says()
    {
        var failures = SpecKernelTests.Cases().SelectMany((c, i) => Compare(c, seed: 5 + i)).ToList();
        Assert.True(failures.Count == 0, $"{failures.Count} differ:\n\n" + string.Join("\n\n", failures.Take(5)));
    }

    /// <summary>
    /// Many more random legal schedules than the compiled kernels can afford (each spec under eight, each random cascade
    /// under three more, every row choice): the program of each must still compute what the spec says.
    /// </summary>
    [Fact]
    public void Random_schedules_of_every_spec_and_random_cascade_run_in_the_loop_program_as_the_reference_interpreter_says()
    {
        var cases = new List<KernelCase>();
        var rows = new[] { "Auto", "PerRow", "Blocked" };
        foreach (var c in SpecKernelTests.Cases().Where(c => !c.Name.Contains('.' + "perrow") && !c.Name.EndsWith(".blocked", StringComparison.Ordinal) && !c.Name.EndsWith(".scheduled", StringComparison.Ordinal)))
            for (var k = 0; k < 8; k++)
                cases.Add(c with { Name = $"{c.Name}.random{k}", RowBlocking = rows[k % 3], Schedule = RandomCascades.Draw(CascadeCompiler.Compile(c.Spec).Cascade!, new Random(1000 * k + c.Name.Length), rows[k % 3])?.ToInlineString() });
        foreach (var (c, i) in RandomCascades.Generate(200, seed: 20261123).Select((c, i) => (c, i)))
            for (var k = 0; k < 3; k++)
                cases.Add(c with { Name = $"{c.Name}.random{k}", RowBlocking = rows[k], Schedule = RandomCascades.Draw(CascadeCompiler.Compile(c.Spec).Cascade!, new Random(77 * i + k), rows[k])?.ToInlineString() });
        var failures = cases.SelectMany((c, i) => Compare(c, seed: 11 + i)).ToList();
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} differ:\n\n" + string.Join("\n\n", failures.Take(5)));
    }

    [Fact]
    public void Every_plan_of_the_random_cascades_runs_in_the_loop_program_as_the_reference_interpreter_says()
    {
        var cases = RandomCascades.Generate(200, seed: 20261123).ToList();
        var runs = new Dictionary<string, int>();
        var failures = cases.SelectMany((c, i) => Compare(c, seed: 7 + i, runs)).ToList();
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} differ:\n\n" + string.Join("\n\n", failures.Take(5)));
        // Each kind of plan ran often enough to prove something (sizes rounded up to whole tiles run the dense plans).
        foreach (var name in new[] { "Plan", "Dense", "General" })
            Assert.True(runs.GetValueOrDefault(name) >= 50, $"the {name} plan ran {runs.GetValueOrDefault(name)} times: " + string.Join(", ", runs));
    }
}

internal sealed class SizesComparer : IEqualityComparer<IReadOnlyDictionary<string, int>>
{
    public bool Equals(IReadOnlyDictionary<string, int>? x, IReadOnlyDictionary<string, int>? y) =>
        x is not null && y is not null && x.Count == y.Count && x.All(p => y.TryGetValue(p.Key, out var v) && v == p.Value);

    public int GetHashCode(IReadOnlyDictionary<string, int> obj) => obj.OrderBy(p => p.Key, StringComparer.Ordinal).Aggregate(17, (h, p) => h * 31 + p.Key.GetHashCode(StringComparison.Ordinal) * 7 + p.Value);
}
