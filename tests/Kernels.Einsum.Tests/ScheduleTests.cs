using Kernels.Einsum.Diagnostics;
using Kernels.Einsum.Planning;

namespace Kernels.Einsum.Tests;

/// <summary>The schedule value: its text form, its errors at the exact place, and how the planner honours or rejects it.</summary>
public class ScheduleTests
{
    [Fact]
    public void Text_round_trips_and_equality_is_by_content()
    {
        var text = "parallel p\nrows blocked 48\ntile M0 128\ntile N0 7\nlower QK contraction\nlower RM vector m0\nlower SLN scalar\nfold off\n";
        var schedule = Schedule.Parse(text, out var errors);
        Assert.Empty(errors);
        Assert.Equal(text, schedule.ToString());
        Assert.Equal(schedule, Schedule.Parse(schedule.ToInlineString(), out _));
        Assert.Equal("parallel p; rows blocked 48; tile M0 128; tile N0 7; lower QK contraction; lower RM vector m0; lower SLN scalar; fold off", schedule.ToInlineString());
        Assert.Equal((48, 128, 7, (int?)null), (schedule.BlockRows, schedule.TileOf("M0"), schedule.TileOf("N0"), schedule.TileOf("K0")));
        // Comments, blank lines, ';' and spacing do not matter; the order of lowerings and of tiles does.
        var same = Schedule.Parse("  # a comment\n\nparallel   p ; rows blocked 48 # why\ntile M0 128; tile N0 7\nlower QK contraction;lower RM vector m0\nlower SLN scalar\nfold off", out errors);
        Assert.Empty(errors);
        Assert.Equal(schedule, same);
        Assert.Equal(schedule.GetHashCode(), same.GetHashCode());
        Assert.NotEqual(schedule, Schedule.Parse("parallel p\nrows per-row", out _));
        Assert.NotEqual(schedule, Schedule.Parse(text.Replace("rows blocked 48", "rows blocked", StringComparison.Ordinal), out _));
        Assert.NotEqual(schedule, Schedule.Parse(text.Replace("tile M0 128", "tile M0 64", StringComparison.Ordinal), out _));
        Assert.Equal(new LoweringChoice(LoweringKind.Vector, "m0"), schedule.LoweringOf("RM"));
        Assert.Null(schedule.LoweringOf("AV"));
    }

    [Fact]
    public void Orders_and_fusions_round_trip_and_merge_by_tensor()
    {
        var text = "place BK copy\nplace BV view\nlower SN vector n\norder SN p n\norder BK t1 d t0\nfuse SN SD\nfuse A off\nsplit BK m1\nsplit SD off\n";
        var schedule = Schedule.Parse(text, out var errors);
        Assert.Empty(errors);
        Assert.Equal(text, schedule.ToString());
        Assert.Equal(schedule, Schedule.Parse(schedule.ToInlineString(), out _));
        Assert.Equal(new[] { "t1", "d", "t0" }, schedule.OrderOf("BK"));
        Assert.Null(schedule.OrderOf("SD"));
        Assert.True(schedule.FusionOf("SN", out var with));
        Assert.Equal("SD", with);
        Assert.True(schedule.FusionOf("A", out with));
        Assert.Null(with);
        Assert.False(schedule.FusionOf("SD", out _));
        Assert.NotEqual(schedule, Schedule.Parse(text.Replace("order SN p n", "order SN n p", StringComparison.Ordinal), out _));
        var merged = schedule.With(Schedule.Parse("order SN n p; fuse SN off", out _));
        Assert.Equal("place BK copy\nplace BV view\nlower SN vector n\norder BK t1 d t0\norder SN n p\nfuse A off\nfuse SN off\nsplit BK m1\nsplit SD off\n", merged.ToString());
        Assert.True(schedule.SplitOf("BK", out var rank) && rank == "m1");
        Assert.True(schedule.SplitOf("SD", out rank) && rank is null);
        Assert.Equal((TensorPlacement?)TensorPlacement.Copy, schedule.PlacementOf("BK"));
        Assert.Null(schedule.PlacementOf("SN"));
        Assert.Equal("place BV view\nplace BK view\n", Schedule.Parse("place BK copy; place BV view", out _).With(Schedule.Parse("place BK view", out _)).ToString());
    }

    [Fact]
    public void With_lets_later_choices_override_earlier_ones()
    {
        var file = Schedule.Parse("parallel p\nrows blocked\nlower A scalar\nfold off", out _);
        var inline = Schedule.Parse("serial; lower A vector; lower B contraction", out _);
        var merged = file.With(inline);
        Assert.Equal("serial\nrows blocked\nlower A vector\nlower B contraction\nfold off\n", merged.ToString());
        Assert.Equal(file, Schedule.Default.With(file));
        // A row walk replaces the whole choice, its block size included; tiles merge by name.
        var tiled = Schedule.Parse("rows blocked 48; tile M0 128; tile N0 8", out _);
        Assert.Equal("rows per-row\ntile N0 8\ntile M0 256\n", tiled.With(Schedule.Parse("rows per-row; tile M0 256", out _)).ToString());
        Assert.Equal("rows blocked\ntile M0 128\ntile N0 8\n", tiled.With(Schedule.Parse("rows blocked", out _)).ToString());
    }

    [Fact]
    public void Tiles_become_the_partitions_sizes_of_the_cascade_and_its_plan()
    {
        var fusemax = Specs.Load("attention.fusemax");
        Assert.Equal(64, fusemax.Ranks.Single(r => r.Size == "M0").DefaultSize);
        var schedule = Schedule.Parse("tile M0 160; rows blocked 30", out _);
        var tiled = schedule.ApplyTiles(fusemax);
        Assert.Equal(160, tiled.Ranks.Single(r => r.Size == "M0").DefaultSize);
        Assert.Same(tiled.Einsums[0].Output, fusemax.Einsums[0].Output); // only the ranks change
        var plan = KernelPlanner.Plan(fusemax, true, schedule);
        Assert.Empty(plan.ScheduleErrors);
        Assert.Equal(160, plan.Cascade.Ranks.Single(r => r.Size == "M0").DefaultSize);
        Assert.Equal(30, plan.BlockRows);
        Assert.Contains("rows blocked 30\ntile M0 160\n", plan.Schedule.ToString(), StringComparison.Ordinal);
        // Without a fixed block the plan sizes it at run time; a cascade without partitions has no tiles to print.
        Assert.Null(KernelPlanner.Plan(fusemax, true).BlockRows);
        Assert.Contains("tile M0 64\n", KernelPlanner.Plan(fusemax, true).Schedule.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("tile", KernelPlanner.Plan(Specs.Load("softmax.3pass"), true).Schedule.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("kernel t\ninput X[i]\noutput Y[i1]\npartition I -> I1 x I0 with I0 = 4\nY[i1] = sum[i0] X[i1*I0 + i0]",
        "shapes the output Y (indexed by i1)", "write it in the spec ('with I0 = ...')")]
    [InlineData("kernel t\ninput X[i], W[i1,i0]\noutput Y[i]\npartition I -> I1 x I0 with I0 = 4\nY[i1*I0 + i0] = X[i1*I0 + i0] * W[i1,i0]",
        "shapes the input W (indexed by i1)", "write it in the spec ('with I0 = ...')")]
    [InlineData("kernel t\ninput X[i]\noutput Y[i]\npartition I -> I1 x I0\nT[i1,i0] = X[i1*I0 + i0]\nY[i1*I0 + i0] = T[i1,i0] * 2",
        "gives the tile I0 no size", "the kernel takes it as an argument at run time")]
    public void A_tile_a_schedule_may_not_set_is_KRN0036(string spec, string message, string fix)
    {
        var compiled = CascadeCompiler.Compile(spec);
        Assert.True(compiled.Success, string.Join("\n", compiled.Diagnostics));
        var plan = KernelPlanner.Plan(compiled.Cascade!, true, Schedule.Parse("tile I0 8", out _));
        var error = Assert.Single(plan.ScheduleErrors);
        Assert.Equal(("tile", "I0"), (error.Directive!.Keyword, error.Directive.Subject));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        Assert.Contains(fix, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("tile", plan.Schedule.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("rows sideways", 1, 6, "sideways", "Unknown row walk 'sideways'")]
    [InlineData("parallel", 1, 1, "parallel", "'parallel' needs an argument; write 'parallel RANK'")]
    [InlineData("parallel p q", 1, 12, "q", "Unexpected 'q' after 'parallel p'")]
    [InlineData("rows blocked\nfold maybe", 2, 6, "maybe", "write 'fold on' or 'fold off'")]
    [InlineData("lower QK", 1, 1, "lower", "'lower' needs a tensor and a lowering")]
    [InlineData("lower QK fast", 1, 10, "fast", "Unknown lowering 'fast'")]
    [InlineData("lower QK vector m0 extra", 1, 20, "extra", "Unexpected 'extra' after 'lower QK vector m0'")]
    [InlineData("serial; tiles p 64", 1, 9, "tiles", "Unknown schedule directive 'tiles'")]
    [InlineData("tile M0", 1, 1, "tile", "'tile' needs 2 arguments; write 'tile TILE SIZE'")]
    [InlineData("tile M0 0", 1, 9, "0", "'0' is not a number of elements in a tile; write a whole number from 1 to 1048576")]
    [InlineData("tile M0 64.5", 1, 9, "64.5", "'64.5' is not a number of elements in a tile")]
    [InlineData("tile M0 64; tile M0 128", 1, 13, "tile", "'tile M0' is already given")]
    [InlineData("rows blocked -3", 1, 14, "-3", "'-3' is not a number of rows")]
    [InlineData("rows blocked 2000000", 1, 14, "2000000", "'2000000' is not a number of rows")]
    [InlineData("rows per-row 48", 1, 14, "48", "Unexpected '48' after 'rows per-row'")]
    [InlineData("rows blocked\nrows per-row", 2, 1, "rows", "'rows' is already given")]
    [InlineData("parallel p; serial", 1, 13, "serial", "'parallel' is already given")]
    [InlineData("lower A scalar\nlower A vector", 2, 1, "lower", "'lower A' is already given")]
    [InlineData("split BK", 1, 1, "split", "'split' needs 2 arguments; write 'split TENSOR RANK|off'")]
    [InlineData("split BK m1; split BK off", 1, 14, "split", "'split BK' is already given")]
    [InlineData("place BK", 1, 1, "place", "'place' needs 2 arguments; write 'place TENSOR view|copy|output|scratch'")]
    [InlineData("place BK registers", 1, 10, "registers", "Unknown placement 'registers'; write 'place BK view' or 'place BK copy' for a tile copy of an input (read in place, or computed into scratch), 'place BK output' or 'place BK scratch'")]
    [InlineData("place BK view; place BK copy", 1, 16, "place", "'place BK' is already given")]
    [InlineData("order SN", 1, 1, "order", "'order' needs a tensor and its Einsum's loops")]
    [InlineData("order SN p n p", 1, 14, "p", "'p' is already in this order; name each loop once")]
    [InlineData("order SN p n; order SN n p", 1, 15, "order", "'order SN' is already given")]
    [InlineData("fuse SN", 1, 1, "fuse", "'fuse' needs 2 arguments; write 'fuse MAP REDUCTION|off'")]
    [InlineData("fuse SN SD Y", 1, 12, "Y", "Unexpected 'Y' after 'fuse SN SD'")]
    [InlineData("fuse SN SN", 1, 9, "SN", "not with itself; write 'fuse SN REDUCTION'")]
    [InlineData("fuse SN off\nfuse SN SD", 2, 1, "fuse", "'fuse SN' is already given")]
    public void Syntax_errors_are_KRN0035_at_the_word(string text, int line, int column, string marked, string message)
    {
        Schedule.Parse(text, out var errors);
        var d = Assert.Single(errors);
        Assert.Equal("KRN0035", d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Equal((line, column), (d.Span.StartLine, d.Span.StartColumn));
        Assert.Equal(marked, text.Substring(d.Span.Start, d.Span.Length));
        Assert.Contains(message, d.Message, StringComparison.Ordinal);
    }

    /// <summary>The schedule a plan reports is complete: planning again with it gives the same plan, with no errors.</summary>
    [Fact]
    public void Every_specs_chosen_schedule_plans_the_same_again()
    {
        foreach (var name in Specs.Names)
        {
            var cascade = Specs.Load(name);
            foreach (var divisible in new[] { true, false })
            {
                var plan = KernelPlanner.Plan(cascade, divisible);
                var again = KernelPlanner.Plan(cascade, divisible, Schedule.Parse(plan.Schedule.ToString(), out var syntax));
                Assert.Empty(syntax);
                Assert.Empty(again.ScheduleErrors);
                Assert.Equal(plan.Schedule, again.Schedule);
                Assert.Equal(plan.RowBlocks, again.RowBlocks);
                Assert.Equal(plan.Folds.Keys.Order(), again.Folds.Keys.Order());
                foreach (var (id, e) in plan.Einsums)
                    Assert.Equal((e.Lowering, e.VectorRank, string.Join(" ", e.LoopOrder)), (again.Einsums[id].Lowering, again.Einsums[id].VectorRank, string.Join(" ", again.Einsums[id].LoopOrder)));
                Assert.Equal(plan.Fusions.OrderBy(x => x.Key), again.Fusions.OrderBy(x => x.Key));
                foreach (var (tensor, storage) in plan.Storage)
                    Assert.Equal(storage.StorageOrder, again.Storage[tensor].StorageOrder);
            }
        }
    }

    /// <summary>The whole schedule a C# kernel prints (its plan's, and where each tile copy lives) is accepted back and
    /// gives the same kernel: the same schedule, the same code for sizes that divide the tiles.</summary>
    [Fact]
    public void Every_specs_kernel_schedule_gives_the_same_kernel_again()
    {
        foreach (var name in Specs.Names)
        {
            var cascade = Specs.Load(name);
            var chosen = KernelVariants.ChosenSchedule(cascade);
            Assert.Empty(KernelVariants.ScheduleErrors(cascade, chosen));
            Assert.Equal(chosen, KernelVariants.ChosenSchedule(cascade, chosen));
            var signature = Emit.KernelSignature.Canonical(cascade);
            var emitted = Emit.CSharpKernelEmitter.Emit(cascade, signature);
            var again = Emit.CSharpKernelEmitter.Emit(cascade, signature with { Schedule = chosen });
            // Placing every copy fixes it for every call: the few-rows variant that reads K's tiles in place goes.
            if (emitted.Contains("_DispatchFewRows", StringComparison.Ordinal))
            {
                Assert.DoesNotContain("_DispatchFewRows", again, StringComparison.Ordinal);
                continue;
            }
            // The plan for sizes that do not divide the tiles (scalar, tracking absent points) takes the printed loop
            // orders too where they fit it, so its loops may change; the code before it must not.
            static string Main(string code) => code.IndexOf("private static void _DispatchGeneral", StringComparison.Ordinal) is var cut and >= 0 ? code.Substring(0, cut) : code;
            Assert.True(Main(emitted.Replace("the spec's default", "the schedule's tile", StringComparison.Ordinal)) == Main(again), name);
        }
    }

    [Fact]
    public void Splits_across_threads_follow_the_schedule()
    {
        // Softmax one row at a time: each Einsum of a row splits its vector rank across the threads (the fused numerator
        // and sum as one, under the sum's name); 'split GM off' keeps the row's max on one thread.
        var softmax = Specs.Load("softmax.3pass");
        var variants = KernelVariants.Choose(softmax, null);
        var choices = variants.ChoicesOf(variants.Dense);
        Assert.Equal(new[] { "GM n", "SD n", "Y n" }, choices.RowSplits.Select(x => softmax.Einsums.First(e => e.Id == x.Key).Output.Name + " " + x.Value).Order());
        Assert.Contains("split GM n\nsplit SD n\nsplit Y n\n", variants.Chosen.ToString(), StringComparison.Ordinal);
        var off = KernelVariants.Choose(softmax, Schedule.Parse("split GM off", out _));
        Assert.Empty(off.SplitErrors);
        Assert.Equal(2, off.ChoicesOf(off.Dense).RowSplits.Count);
        Assert.Contains("split GM off\nsplit SD n\nsplit Y n\n", off.Chosen.ToString(), StringComparison.Ordinal);

        // Attention: K's transposed copy runs before the parallel loop, split over its key tiles past the batch ranks.
        var mha = Specs.Load("attention.mha");
        Assert.Contains("split BK m1\n", KernelVariants.ChosenSchedule(mha).ToString(), StringComparison.Ordinal);
        var wrong = KernelVariants.ScheduleErrors(mha, Schedule.Parse("split BK e\nsplit LM p\nsplit Q b", out _));
        Assert.Equal(3, wrong.Count);
        Assert.All(wrong, e => Assert.Equal("split", e.Directive!.Keyword));
        Assert.Contains("the Einsum for 'BK' can split only m1 across the threads (the first loop of an Einsum that runs before the parallel loop, past the batch ranks). Write 'split BK m1' or 'split BK off'.", wrong[0].Message, StringComparison.Ordinal);
        Assert.Contains("the kernel splits no loop of the Einsum for 'LM' across the threads beyond the parallel rank", wrong[1].Message, StringComparison.Ordinal);
        Assert.Contains("'Q' is an input", wrong[2].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Placements_choose_which_tile_copies_are_read_in_place()
    {
        var mha = Specs.Load("attention.mha");
        Assert.Equal(new[] { "BK", "BV" }, Planning.TileViews.Placeable(mha));
        // Both are the micro-kernel's right operands (K's tile summed along its innermost rank, V's read along the
        // product's columns): copied once into its panels, and read in place only by a call with few rows.
        Assert.Contains("place BK copy\nplace BV copy\n", KernelVariants.ChosenSchedule(mha).ToString(), StringComparison.Ordinal);
        Assert.Equal(new[] { "BK", "BV" }, KernelVariants.PlannedCascade(mha).Tensors.Where(t => t.Name is "BK" or "BV").Select(t => t.Name));
        var chosen = KernelVariants.Choose(mha, null);
        Assert.Equal((3, 4), chosen.Dense.Storage["BV"].Panels);
        Assert.Equal((4, 3), chosen.Dense.Storage["BK"].Panels);
        Assert.Equal(new[] { "BK", "BV" }, chosen.FewRowsViews);
        var swapped = Schedule.Parse("place BK view; place BV copy", out _);
        Assert.Equal(new[] { "BV" }, KernelVariants.PlannedCascade(mha, swapped).Tensors.Where(t => t.Name is "BK" or "BV").Select(t => t.Name));
        Assert.Contains("place BK view\nplace BV copy\n", KernelVariants.ChosenSchedule(mha, swapped).ToString(), StringComparison.Ordinal);
        Assert.Empty(KernelVariants.ScheduleErrors(mha, swapped));
        var viewed = Schedule.Parse("place BV view", out _);
        Assert.Equal(new[] { "BK" }, KernelVariants.PlannedCascade(mha, viewed).Tensors.Where(t => t.Name is "BK" or "BV").Select(t => t.Name));

        var errors = KernelVariants.ScheduleErrors(mha, Schedule.Parse("place Q view\nplace BV view\nlower BV vector", out _));
        Assert.Equal(2, errors.Count);
        Assert.Contains("'Q' is not a tile copy of an input that can be read in place", errors.Single(e => e.Directive!.Keyword == "place").Message, StringComparison.Ordinal);
        Assert.Contains("this cascade's are BK, BV. Remove the directive.", errors.Single(e => e.Directive!.Keyword == "place").Message, StringComparison.Ordinal);
        Assert.Contains("'BV' is a tile copy of an input that the kernel reads in place (a view)", errors.Single(e => e.Directive!.Keyword == "lower").Message, StringComparison.Ordinal);
        Assert.Contains("and this cascade has none", KernelVariants.ScheduleErrors(Specs.Load("softmax.3pass"), Schedule.Parse("place SN view", out _)).Single().Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_row_maximum_of_a_contraction_folds_into_its_call_unless_folds_are_off()
    {
        // LM = max[m0] BQK right after the contraction BQK: taken as the micro-kernel stores BQK's rows.
        var mha = Specs.Load("attention.mha");
        var on = KernelVariants.Choose(mha, null).Dense;
        var product = mha.Einsums.Single(e => e.Output.Name == "BQK");
        var maximum = mha.Einsums.Single(e => e.Output.Name == "LM");
        Assert.Equal(maximum.Id, on.MaxFolds[product.Id]);
        Assert.DoesNotContain("order LM", KernelVariants.ChosenSchedule(mha).ToString(), StringComparison.Ordinal);
        Assert.Contains("fold on\n", KernelVariants.ChosenSchedule(mha).ToString(), StringComparison.Ordinal);
        var noFolds = Schedule.Parse("fold off", out _);
        Assert.Empty(KernelVariants.Choose(mha, noFolds).Dense.MaxFolds);
        Assert.Contains("order LM p m0\n", KernelVariants.ChosenSchedule(mha, noFolds).ToString(), StringComparison.Ordinal);
        // Scores with a filter are filled after the call (masked keys): the fill pass takes the maxima again where it filled.
        var causal = Specs.Load("attention.causal");
        Assert.Single(KernelVariants.Choose(causal, null).Dense.MaxFolds);
        // A filter that is not a fill (a scalar plan tracks absent points) keeps the maximum apart.
        Assert.Empty(KernelVariants.Choose(causal, null).General.MaxFolds);
    }

    [Fact]
    public void Placements_choose_whether_an_intermediate_lives_in_the_output_computed_from_it()
    {
        // Softmax's numerator SN is read only by Y = SN / SD at Y's own point: by default it is written into Y's memory.
        var softmax = Specs.Load("softmax.3pass");
        var chosen = KernelVariants.Choose(softmax, null);
        Assert.Equal("Y", chosen.Aliases["SN"].Name);
        Assert.Contains("place SN output\n", chosen.Chosen.ToString(), StringComparison.Ordinal);
        var scratch = Schedule.Parse("place SN scratch", out _);
        Assert.Empty(KernelVariants.ScheduleErrors(softmax, scratch));
        var kept = KernelVariants.Choose(softmax, scratch);
        Assert.Empty(kept.Aliases);
        Assert.Equal("Y", kept.AliasCandidates["SN"].Name);
        Assert.Contains("place SN scratch\n", kept.Chosen.ToString(), StringComparison.Ordinal);
        Assert.Equal(kept.Chosen, KernelVariants.ChosenSchedule(softmax, kept.Chosen));

        var wrong = KernelVariants.ScheduleErrors(softmax, Schedule.Parse("place GM output; place Y scratch", out _));
        Assert.Equal(2, wrong.Count);
        Assert.All(wrong, e => Assert.Contains("cannot live in an output's memory", e.Message, StringComparison.Ordinal));
        Assert.Contains("this cascade's are SN. Remove the directive.", wrong[0].Message, StringComparison.Ordinal);
        Assert.Contains("and this cascade has none", KernelVariants.ScheduleErrors(Specs.Load("attention.3pass"), Schedule.Parse("place SN output", out _)).Single().Message, StringComparison.Ordinal);
        // A tile copy is placed as a view or a copy, not in an output.
        Assert.Contains("'BK' cannot live in an output's memory", KernelVariants.ScheduleErrors(Specs.Load("attention.mha"), Schedule.Parse("place BK output", out _)).Single().Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Legal_choices_change_the_plan()
    {
        var fusemax = Specs.Load("attention.fusemax");
        Assert.NotEmpty(KernelPlanner.Plan(fusemax, true).Folds);
        Assert.Empty(Plan(fusemax, "fold off").Folds);
        // What the fold computes in the micro-kernel's registers keeps no scratch; without the fold it is stored.
        Assert.All(new[] { "SLNV", "SPNV" }, t => Assert.All(KernelPlanner.Plan(fusemax, true).Storage[t].Dims, d => Assert.Equal(DimStorage.Dropped, d)));
        Assert.Contains(DimStorage.Kept, Plan(fusemax, "fold off").Storage["SLNV"].Dims);

        var serial = Plan(fusemax, "serial");
        Assert.Null(serial.SliceRank);
        Assert.StartsWith("serial\n", serial.Schedule.ToString(), StringComparison.Ordinal);

        var threePass = Specs.Load("attention.3pass");
        var qk = threePass.Writer("QK")!.Id;
        Assert.Equal(EinsumLowering.Contraction, KernelPlanner.Plan(threePass, true).Einsums[qk].Lowering);
        Assert.Equal(EinsumLowering.Dense, Plan(threePass, "lower QK scalar").Einsums[qk].Lowering);
        Assert.Equal(EinsumLowering.VectorReduce, Plan(threePass, "lower QK vector").Einsums[qk].Lowering);
        // With no contraction left to gain from them, the planner walks one row at a time.
        Assert.False(Plan(threePass, "lower QK vector; lower AV vector").RowBlocks);

        // Loop orders: any order of a copy's output loops, its vector rank last; the order is the plan's and the schedule it prints.
        var linear = Specs.Load("linear_attention.causal");
        var bk = linear.Writer("BK")!.Id;
        Assert.Equal(new[] { "t1", "t0", "d" }, KernelPlanner.Plan(linear, true).Einsums[bk].LoopOrder);
        var reordered = Plan(linear, "order BK t0 t1 d");
        Assert.Equal(new[] { "t0", "t1", "d" }, reordered.Einsums[bk].LoopOrder);
        Assert.Contains("order BK t0 t1 d\n", reordered.Schedule.ToString(), StringComparison.Ordinal);
        Assert.Contains("its vector rank d is innermost. Write 'order BK t1 t0 d'", KernelPlanner.Plan(linear, true, Schedule.Parse("order BK d t0 t1", out _)).ScheduleErrors.Single().Message, StringComparison.Ordinal);

        // Fusions: softmax's numerator is summed as it is written, unless the schedule keeps the two apart.
        var softmax = Specs.Load("softmax.3pass");
        var (sn, sd) = (softmax.Writer("SN")!.Id, softmax.Writer("SD")!.Id);
        Assert.Equal(sd, KernelPlanner.Plan(softmax, true).Fusions[sn]);
        Assert.Contains("fuse SN SD\n", KernelPlanner.Plan(softmax, true).Schedule.ToString(), StringComparison.Ordinal);
        var apart = Plan(softmax, "fuse SN off");
        Assert.Empty(apart.Fusions);
        Assert.Equal(new[] { (sn, sd) }, apart.FusionCandidates);
        Assert.Contains("fuse SN off\n", apart.Schedule.ToString(), StringComparison.Ordinal);
        Assert.Equal(sd, Plan(softmax, "fuse SN SD").Fusions[sn]);

        Assert.Equal(EinsumLowering.VectorReduce, KernelPlanner.Plan(softmax, true).Einsums[sd].Lowering);
        Assert.Equal(EinsumLowering.Dense, Plan(softmax, "lower SD scalar").Einsums[sd].Lowering);
        Assert.True(Plan(softmax, "rows blocked").RowBlocks);
    }

    [Theory]
    [InlineData("softmax.3pass", "parallel n", "parallel", "'n' cannot be the parallel rank", "write 'parallel p' or 'serial'")]
    [InlineData("softmax.3pass", "parallel zz", "parallel", "The cascade has no rank 'zz'", "the ranks that can be parallel are p")]
    [InlineData("softmax.3pass", "serial\nrows blocked", "rows", "'rows blocked' needs a parallel rank", "remove 'serial' or 'rows blocked'")]
    [InlineData("softmax.3pass", "lower X scalar", "lower", "'X' is an input", "GM, SN, SD, Y")]
    [InlineData("softmax.3pass", "lower NOPE vector", "lower", "The cascade has no tensor 'NOPE'", "GM, SN, SD, Y")]
    [InlineData("softmax.3pass", "lower GM vector p", "lower", "'p' cannot be the vector rank of the Einsum for 'GM'", "Write 'lower GM vector n'")]
    [InlineData("softmax.3pass", "lower GM contraction", "lower", "The Einsum for 'GM' is not a contraction", "Write 'lower GM vector n'")]
    [InlineData("attention.3pass", "rows per-row\nlower QK contraction", "lower", "a matrix product only for a block of its rows", "add 'rows blocked'")]
    [InlineData("attention.fusemax", "tile Q0 128", "tile", "'Q0' is not a tile of this cascade", "its tiles are M0")]
    [InlineData("softmax.3pass", "tile M0 128", "tile", "'M0' is not a tile", "the cascade partitions no rank")]
    [InlineData("softmax.3pass", "order GM n p", "order", "'p' is not a loop of its own there", "Write 'order GM n'")]
    [InlineData("softmax.3pass", "order X p n", "order", "'X' is an input", "GM, SN, SD, Y")]
    [InlineData("attention.3pass", "order GM m p", "order", "its vector rank m is innermost", "Write 'order GM p m'")]
    [InlineData("attention.3pass", "order SD p", "order", "it leaves out m", "Write 'order SD p m'")]
    [InlineData("attention.3pass", "order QK p", "order", "'p' is looped inside the micro-kernel", "Remove the directive")]
    [InlineData("softmax.3pass", "fuse GM SN", "fuse", "the Einsum for 'GM' reduces", "Write 'fuse GM off'")]
    [InlineData("softmax.3pass", "fuse SN Y", "fuse", "'Y' is not computed by the step right after the one for 'SN' (that computes 'SD')", "Write 'fuse SN off'")]
    [InlineData("softmax.3pass", "fuse SN NOPE", "fuse", "The cascade has no tensor 'NOPE'", "GM, SN, SD, Y")]
    [InlineData("attention.3pass", "lower SN scalar\nfuse SN SD", "fuse", "the Einsum for 'SN' is scalar, not a row vectorised", "Write 'fuse SN off'")]
    public void Illegal_choices_are_KRN0036_at_the_directive(string spec, string text, string keyword, string message, string fix)
    {
        var schedule = Schedule.Parse(text, out var syntax);
        Assert.Empty(syntax);
        var plan = KernelPlanner.Plan(Specs.Load(spec), true, schedule);
        var error = Assert.Single(plan.ScheduleErrors);
        Assert.Equal(keyword, error.Directive!.Keyword);
        var d = error.ToDiagnostic();
        Assert.Equal("KRN0036", d.Id);
        Assert.Equal(error.Directive.Span, d.Span);
        Assert.StartsWith(keyword, text.Substring(d.Span.Start, d.Span.Length), StringComparison.Ordinal);
        Assert.Contains(message, d.Message, StringComparison.Ordinal);
        Assert.Contains(fix, d.Message, StringComparison.Ordinal);
    }

    private static KernelPlan Plan(Ir.Cascade cascade, string text)
    {
        var plan = KernelPlanner.Plan(cascade, true, Schedule.Parse(text, out var syntax));
        Assert.Empty(syntax);
        Assert.Empty(plan.ScheduleErrors);
        return plan;
    }
}
