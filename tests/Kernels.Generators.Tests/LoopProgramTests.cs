using Kernels.Einsum.Ir;
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

    internal static string? Compare(KernelCase c, int seed, GpuSchedule? schedule = null, long? sharedFloats = null)
    {
        var cascade = CascadeCompiler.Compile(c.Spec).Cascade!;
        var program = LoopLowering.Lower(cascade, schedule);
        foreach (var sizes in c.Sizes)
        {
            var inputs = KernelBench.RandomInputs(cascade, sizes, seed, c.InputScale);
            c.Apply(inputs, sizes);
            var expected = ReferenceInterpreter.Run(cascade, sizes, inputs);
            IReadOnlyDictionary<string, double[]> actual;
            try { actual = LoopInterpreter.Run(program, sizes, inputs, sharedFloats); }
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

    /// <summary>The schedules every case runs under: the default (grouped reductions, fused blocks, 64 rows a group, tiles
    /// staged, masked steps skipped), fused with 2 rows a group (a partial last block of rows), the same with neither tiles
    /// nor skipped steps, unfused with grouped reductions, and one thread per point.</summary>
    internal static readonly GpuSchedule[] Schedules =
    {
        GpuSchedule.Default,
        new(BlockRows: 2),
        new(BlockRows: 2, StageTiles: false, SkipMaskedSteps: false),
        new(FuseBlocks: false),
        GpuSchedule.ThreadPerPoint,
    };

    [Fact]
    public void Iteration_blocks_whose_points_are_independent_run_as_one_kernel()
    {
        // Which blocks fuse, over which grid (a rank in blocks of rows where its points share a contraction operand).
        string Fusion(string spec, GpuSchedule? schedule = null)
        {
            var program = LoopLowering.Lower(CascadeCompiler.Compile(spec).Cascade!, schedule ?? new GpuSchedule(ScanBlocks: false));
            return string.Join("; ", program.Stages.Select(s => s switch
            {
                SLaunch { Kernel.FusedBlock: true } l => "fused[" + string.Join(",", l.Kernel.Grid) + "]",
                SLaunch { Kernel.LinearScan: true } l => "scan[" + string.Join(",", l.Kernel.Grid) + "]",
                SSteps => "steps",
                _ => null,
            }).OfType<string>());
        }
        var specs = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "specs"), "*.einsum").ToDictionary(f => Path.GetFileNameWithoutExtension(f), File.ReadAllText);
        Assert.Equal("fused[b,h,_blk_p]", Fusion(specs["attention.mha"]));
        Assert.Equal("fused[_blk_p]", Fusion(specs["attention.fusemax"]));
        Assert.Equal("fused[b,h]", Fusion(specs["linear_attention.heads"]));
        Assert.Equal("fused[bt,d]", Fusion(specs["selective_scan.grouped"]));
        Assert.Equal("fused[]", Fusion(specs["linear_attention.causal"]));
        // With scans (the default), a block whose only state is a linear recurrence scans it over the steps in parallel.
        Assert.Equal("scan[bt,d,n]", Fusion(specs["selective_scan.grouped"], GpuSchedule.Default));
        Assert.Equal("scan[d,n]", Fusion(specs["selective_scan"], GpuSchedule.Default));
        Assert.Equal("scan[b,h,d,f]", Fusion(specs["linear_attention.heads"], GpuSchedule.Default));
        // The gated decay's factor exp(GL) reads a sum over a partial tile that the planner cannot prove present: fused.
        Assert.Equal("fused[b,h]", Fusion(specs["linear_attention.gated"], GpuSchedule.Default));
        Assert.Equal("fused[b,h,_blk_p]", Fusion(specs["attention.mha"], GpuSchedule.Default));
        // Which tiles a fused block stages in shared memory (what its block of rows shares), and which blocks skip the steps
        // a mask leaves empty for a group's rows (proved to change no state: the causal and window masks, not the others).
        string Staged(string spec, GpuSchedule? schedule = null)
        {
            var kernel = LoopLowering.Lower(CascadeCompiler.Compile(spec).Cascade!, schedule ?? GpuSchedule.Default).Kernels.FirstOrDefault(k => k.FusedBlock);
            if (kernel is null) return "";
            static IEnumerable<LoopStmt> All(IEnumerable<LoopStmt> list) => list.SelectMany(x => x switch
            {
                SLoop l => All(l.Body).Prepend(x),
                SIf i => All(i.Then.Concat(i.Else)).Prepend(x),
                _ => new[] { x },
            });
            var skips = All(kernel.Body).OfType<SIf>().Any(i => i.Then.OfType<SComment>().Any(c => c.Text.Contains("changes no state")));
            return string.Join(" ", kernel.Tiles.Select(t => $"{t.Name}[{string.Join(",", t.Ranks)}]").Append(skips ? "skips" : "").Where(x => x.Length > 0));
        }
        Assert.Equal("BK[m0,e] BV[m0,f]", Staged(specs["attention.mha"]));
        Assert.Equal("BK[m0,e] BV[m0,f] skips", Staged(specs["attention.causal"]));
        Assert.Equal("BK[m0,e] BV[m0,f] skips", Staged(specs["attention.gqa.causal"]));
        Assert.Equal("BK[m0,e] BV[m0,f] skips", Staged(specs["attention.window"]));
        Assert.Equal("BK[m0,e] BV[m0,f] skips", Staged(specs["attention.masked"]));
        Assert.Equal("BK[m0,e] BV[m0,f]", Staged(specs["attention.causal"], new GpuSchedule(SkipMaskedSteps: false)));
        Assert.Equal("skips", Staged(specs["attention.causal"], new GpuSchedule(StageTiles: false)));
        // The tensors a group keeps in shared memory for the whole kernel (those folded along the steps), and the order in
        // which a launch offers shared memory: tiles, then the state, then the step tensors.
        var mha = LoopLowering.Lower(CascadeCompiler.Compile(specs["attention.mha"]).Cascade!).Kernels.Single(k => k.FusedBlock);
        Assert.Equal("BK BV RM RD RNV BQK LM SLN SLD SLNV PRM SPD SPNV", string.Join(" ", mha.SharedOrder));
        Assert.Equal("BQK[b,h,,,_blk] RM[b,h,,_blk]", string.Join(" ", mha.GroupBuffers.Where(g => g.Tensor is "RM" or "BQK").Select(g => $"{g.Tensor}[{string.Join(",", g.Ranks.Select(r => r == g.Blocked ? "_blk" : r))}]")));
        // No block of rows (a scan's channels share nothing): nothing to stage.
        Assert.Equal("", Staged(specs["selective_scan.grouped"], new GpuSchedule(ScanBlocks: false)));
        // Every spec with a block fuses it (none reads its state at another point).
        Assert.All(specs.Where(s => s.Value.Contains("iterate")), s => Assert.DoesNotContain("steps", Fusion(s.Value)));
        // A block that reads its state at another point of the rank it keeps stays a launch per step.
        Assert.Equal("steps", Fusion("input A[i,t]\noutput S[i]\nindex j in I\niterate t until t == T {\n  init R[i,0] = A[i,0]\n  R[i,t+1] = R[i,t] + sum[j] R[j,t] * A[i,t]\n}\nS[i] = R[i,T]\n"));
        // No rank kept by every Einsum of the block: one group runs it.
        Assert.Equal("fused[]", Fusion("input A[i,t], B[j,t]\noutput S[i], U[j]\niterate t until t == T {\n  init R[i,0] = 0\n  init Q[j,0] = 0\n  R[i,t+1] = R[i,t] + A[i,t]\n  Q[j,t+1] = Q[j,t] + B[j,t]\n}\nS[i] = R[i,T]\nU[j] = Q[j,T]\n"));
    }

    [Fact]
    public void An_iteration_blocks_private_intermediates_keep_only_the_steps_still_read()
    {
        string Folds(string spec) => string.Join(" ", LoopLowering.Lower(CascadeCompiler.Compile(spec).Cascade!, new GpuSchedule(ScanBlocks: false)).Buffers.Where(b => b.FoldDim >= 0).Select(b => $"{b.Name}:{b.FoldSlots}"));
        var specs = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "specs"), "*.einsum").ToDictionary(f => Path.GetFileNameWithoutExtension(f), File.ReadAllText);
        // The running max, denominator and numerator are written at m1+1 and read at m1: two slots; the rest one.
        Assert.Equal("BQK:1 LM:1 RM:2 SLN:1 SLD:1 SLNV:1 PRM:1 SPD:1 RD:2 SPNV:1 RNV:2", Folds(specs["attention.mha"]));
        // The scan's state is read after the block (XL) at its last step; Y is an output, kept whole.
        Assert.Equal("DT:1 DA:1 DBU:1 X:2 YS:1", Folds(specs["selective_scan.grouped"]));
        // Scanned, every step is kept: the steps run at once.
        Assert.DoesNotContain(LoopLowering.Lower(CascadeCompiler.Compile(specs["selective_scan.grouped"]).Cascade!).Buffers, b => b.FoldDim >= 0);
        // Linear attention's per-block output is read after the block at every step: kept whole.
        Assert.DoesNotContain("BO:", Folds(specs["linear_attention.heads"]));
        Assert.Contains("KV:2", Folds(specs["linear_attention.heads"]));

        // Attention's memory is linear in the sequence: 16 heads of 16K queries and keys, head dim 64.
        var program = LoopLowering.Lower(CascadeCompiler.Compile(specs["attention.mha"]).Cascade!);
        var sizes = new Dictionary<string, long> { ["B"] = 1, ["H"] = 16, ["P"] = 16384, ["M"] = 16384, ["E"] = 64, ["F"] = 64, ["M0"] = 64, ["M1"] = 256 };
        long Eval(IndexExpr e) => e switch
        {
            IndexConstant c => c.Value,
            IndexSize z => sizes[z.Size],
            IndexBinary b => IndexArithmetic.Apply(b.Operator, Eval(b.Left), Eval(b.Right)),
            _ => throw new InvalidOperationException(),
        };
        var stored = program.Buffers.Where(b => !b.IsArgument).Sum(b => b.StorageExtents.Aggregate(1L, (a, x) => a * Eval(x)));
        var inputs = 16L * 16384 * (64 + 64 + 64);
        Assert.True(stored < 8 * inputs, $"{stored} elements of intermediates for {inputs} of inputs");
    }

    [Fact]
    public void Every_spec_lowered_to_loop_nests_matches_the_reference_interpreter()
    {
        var cases = SpecCases().ToList();
        Assert.True(cases.Count >= 21, $"{cases.Count} spec cases");
        var failures = Schedules.SelectMany(s => cases.Select((c, i) => Compare(c, seed: 3 + i, s) is { } f ? $"{s}: {f}" : null)).OfType<string>().ToList();
        // Tiles without shared memory (read from their tensors) and with room for only some of them.
        foreach (var floats in new long[] { 0, 12 })
            failures.AddRange(cases.Select((c, i) => Compare(c, seed: 3 + i, new GpuSchedule(BlockRows: 2), floats) is { } f ? $"{floats} floats of shared memory: {f}" : null).OfType<string>());
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Two_hundred_random_cascades_lowered_to_loop_nests_match_the_reference_interpreter()
    {
        var cases = RandomCascades.Generate(200, seed: 20261123).ToList();
        var failures = cases.Select((c, i) => Schedules.Select(s => Compare(c, seed: 7 + i, s) is { } f ? $"{s}: {f}" : null).FirstOrDefault(f => f is not null) is { } f ? f + "\n" + c.Spec : null).OfType<string>().ToList();
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} differ:\n\n" + string.Join("\n\n", failures.Take(5)));
    }

    /// <summary>Shapes and hard values for the blocks the GPU fuses or scans: huge, infinite and NaN inputs, huge logits, and
    /// rows that see no key (causal with more queries than keys).</summary>
    internal static IEnumerable<(string Spec, Dictionary<string, int> Sizes)> HardBlockCases() => new[]
    {
        ("attention.mha", new Dictionary<string, int> { ["B"] = 1, ["H"] = 2, ["P"] = 5, ["E"] = 4, ["M"] = 70, ["F"] = 3 }),
        ("attention.gqa.causal", new Dictionary<string, int> { ["B"] = 1, ["H"] = 2, ["G"] = 1, ["P"] = 9, ["E"] = 4, ["M"] = 5, ["F"] = 3 }),
        ("selective_scan.grouped", new Dictionary<string, int> { ["BT"] = 1, ["D"] = 2, ["DG"] = 1, ["L"] = 9, ["N"] = 3 }),
        ("linear_attention.heads", new Dictionary<string, int> { ["B"] = 1, ["H"] = 1, ["T"] = 70, ["D"] = 3, ["F"] = 2 }),
    };

    /// <summary>Puts 3e4, -inf, +inf and NaN into every other input of 8 or more elements, and scales a third of the
    /// others' elements by 1e4 (huge logits).</summary>
    internal static void Harden(Dictionary<string, double[]> inputs)
    {
        var i = 0;
        foreach (var (name, x) in inputs.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var hard = new[] { 3e4, double.NegativeInfinity, double.PositiveInfinity, double.NaN };
            // One input keeps finite values so that not every result is NaN.
            if (x.Length < 8) continue; // per-channel parameters stay finite, or every channel would be NaN
            if (i++ % 2 == 0) for (var k = 0; k < 4; k++) x[(k * 7) % x.Length] = hard[k];
            else for (var k = 0; k < x.Length; k += 3) x[k] *= 1e4;
        }
    }

    [Fact]
    public void Hard_inputs_through_fused_blocks_and_scans_give_the_reference_interpreters_results()
    {
        var failures = new List<string>();
        var nonFinite = 0;
        foreach (var (spec, sizes) in HardBlockCases())
        {
            var cascade = CascadeCompiler.Compile(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "specs", spec + ".einsum"))).Cascade!;
            var inputs = KernelBench.RandomInputs(cascade, sizes, 11, 1.0);
            Harden(inputs);
            var expected = ReferenceInterpreter.Run(cascade, sizes, inputs);
            foreach (var (schedule, floats) in new (GpuSchedule, long?)[] { (GpuSchedule.Default, null), (new GpuSchedule(ScanBlocks: false), null), (new GpuSchedule(BlockRows: 2), 0) })
            {
                var actual = LoopInterpreter.Run(LoopLowering.Lower(cascade, schedule), sizes, inputs, floats);
                foreach (var (name, want) in expected)
                    for (var k = 0; k < want.Length; k++)
                        if (!(double.IsNaN(want[k]) ? double.IsNaN(actual[name][k]) : want[k] == actual[name][k] || Math.Abs(want[k] - actual[name][k]) <= Tolerance * Math.Abs(want[k])))
                            failures.Add($"{spec} ({schedule}): {name}[{k}] = {actual[name][k]:R}, the interpreter says {want[k]:R}");
            }
            // The hard values reach the results, and not everything is lost to them.
            if (expected.Values.SelectMany(v => v).Any(v => !double.IsFinite(v))) nonFinite++;
            Assert.True(expected.Values.SelectMany(v => v).Any(v => double.IsFinite(v) && v != 0), $"{spec}: every result is 0, NaN or infinite");
        }
        Assert.True(nonFinite >= 3, $"only {nonFinite} cases give a NaN or an infinity");
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(10)));
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
