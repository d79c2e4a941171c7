namespace Kernels.Generators.Tests;

/// <summary>Every spec in specs/, generated and run, against the interpreter on shapes that divide and do not divide the tiles and vector widths.</summary>
public class SpecKernelTests
{
    private static string Spec(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "specs", name + ".einsum"));

    private static Dictionary<string, int> S(params (string, int)[] sizes) => sizes.ToDictionary(p => p.Item1, p => p.Item2);

    /// <summary>Every spec under each row schedule (the planner's choice, one row at a time and blocks of rows) and under a
    /// random legal schedule (seeded by the spec's name, so a failure reproduces).</summary>
    public static IEnumerable<KernelCase> Cases() =>
        Specs().SelectMany(c => new[]
        {
            c, c with { Name = c.Name + ".perrow", RowBlocking = "PerRow" }, c with { Name = c.Name + ".blocked", RowBlocking = "Blocked" },
            c with { Name = c.Name + ".scheduled", Schedule = RandomCascades.Draw(Kernels.Einsum.CascadeCompiler.Compile(c.Spec).Cascade!, new Random(Seed(c.Name)))?.ToInlineString() },
        });

    private static int Seed(string name) => name.Aggregate(17, (h, ch) => h * 31 + ch);

    private static IEnumerable<KernelCase> Specs()
    {
        var attention = new[] { S(("P", 5), ("M", 128), ("E", 64), ("F", 64)), S(("P", 37), ("M", 100), ("E", 19), ("F", 33)), S(("P", 1), ("M", 1), ("E", 1), ("F", 1)), S(("P", 3), ("M", 0), ("E", 4), ("F", 5)) };
        foreach (var name in new[] { "attention.3pass", "attention.2pass", "attention.fusemax" })
            yield return new KernelCase(name, Spec(name), attention, 2.0);
        // Causal, aligned bottom-right: fewer queries than keys (a KV cache), as many (the diagonal crosses tiles and rows
        // blocks), and more queries than keys (the first P - M rows see no key and give 0).
        var causal = attention.Concat(new[] { S(("P", 200), ("M", 200), ("E", 16), ("F", 8)), S(("P", 130), ("M", 70), ("E", 8), ("F", 12)), S(("P", 64), ("M", 256), ("E", 32), ("F", 16)) }).ToArray();
        yield return new KernelCase("attention.causal", Spec("attention.causal"), causal, 2.0);
        // Batch and heads split across threads with the query rows; sizes that do not divide the 64-key tile.
        var mha = new[] { S(("B", 2), ("H", 3), ("P", 37), ("M", 100), ("E", 19), ("F", 33)), S(("B", 1), ("H", 2), ("P", 5), ("M", 128), ("E", 64), ("F", 64)), S(("B", 1), ("H", 1), ("P", 1), ("M", 1), ("E", 1), ("F", 1)), S(("B", 2), ("H", 2), ("P", 3), ("M", 0), ("E", 4), ("F", 5)) };
        yield return new KernelCase("attention.mha", Spec("attention.mha"), mha, 2.0);
        // Grouped-query and causal: G = 1 (multi-head), 2 and H (multi-query), H not a multiple of G (the last key head
        // serves fewer query heads), a KV cache (P < M), more queries than keys, and the diagonal inside a tile.
        var gqa = new[]
        {
            S(("B", 2), ("H", 4), ("G", 2), ("P", 37), ("M", 100), ("E", 19), ("F", 33)), S(("B", 1), ("H", 3), ("G", 3), ("P", 70), ("M", 70), ("E", 16), ("F", 8)),
            S(("B", 1), ("H", 2), ("G", 1), ("P", 5), ("M", 128), ("E", 64), ("F", 64)), S(("B", 2), ("H", 5), ("G", 2), ("P", 130), ("M", 64), ("E", 8), ("F", 5)),
            S(("B", 1), ("H", 1), ("G", 1), ("P", 1), ("M", 1), ("E", 1), ("F", 1)), S(("B", 2), ("H", 2), ("G", 2), ("P", 3), ("M", 0), ("E", 4), ("F", 5)),
        };
        yield return new KernelCase("attention.gqa.causal", Spec("attention.gqa.causal"), gqa, 2.0);
        yield return new KernelCase("attention.gqa", Spec("attention.gqa"), gqa, 2.0);
        // A sliding window: one key, inside a tile, across tiles, longer than the keys, and no key at all (W = 0: rows of 0).
        var window = new[] { 1, 17, 70, 500, 0 }.Zip(gqa.Concat(gqa), (w, s) => new Dictionary<string, int>(s) { ["W"] = w }).ToArray();
        yield return new KernelCase("attention.window", Spec("attention.window"), window, 2.0);
        // The mask as sizes: causal (C = 0), none (C = P + M, W = 2(P + M)), with a window and without (W = C + P + M), no key
        // at all (W = 0); aligned bottom-right (T = 0) and top-left (T = M - P where P < M, C = P - M where P > M), with a window.
        var masks = new[] { (0, 500, 0), (500, 1000, 0), (0, 17, 0), (3, 70, 0), (0, 0, 0), (500, 501, 0), (0, 500, 63), (0, 20, 0), (0, 9, 123), (66, 500, 0), (0, 500, 5), (2, 4, 1) }
            .Zip(gqa.Concat(gqa), (cwt, s) => new Dictionary<string, int>(s) { ["C"] = cwt.Item1, ["W"] = cwt.Item2, ["T"] = cwt.Item3 }).ToArray();
        yield return new KernelCase("attention.scaled", Spec("attention.scaled"), masks, 2.0, new Dictionary<string, double> { ["SCALE"] = 0.3 });
        // The scale multiplies K's panels as they are packed where Gemm.FactorFoldsIntoPanels allows (0.3 above, and a
        // negative one here); above 1 it stays on the sums (the rows of 70 and 130 pack K; those of 37 and 5 read it in place).
        foreach (var scale in new[] { -0.3, 1.7 })
            yield return new KernelCase($"attention.scaled (SCALE {scale})", Spec("attention.scaled"), masks.Take(4).ToArray(), 2.0, new Dictionary<string, double> { ["SCALE"] = scale });



        // Each sequence's key length (an i32 input): half the keys, all, none, one, negative (none), past the keys (all),
        // all but one, the int range's ends (all, none) and a few; with the masks above, a batch of five, a decode step and
        // no causal mask.
        var padded = masks.Concat(new[]
        {
            S(("B", 5), ("H", 2), ("G", 1), ("P", 70), ("M", 150), ("E", 16), ("F", 8), ("C", 0), ("W", 500), ("T", 80)),
            S(("B", 4), ("H", 4), ("G", 2), ("P", 1), ("M", 300), ("E", 32), ("F", 32), ("C", 0), ("W", 600), ("T", 0)),
            S(("B", 3), ("H", 2), ("G", 2), ("P", 100), ("M", 100), ("E", 8), ("F", 8), ("C", 200), ("W", 400), ("T", 0)),
        }).ToArray();
        static double[] Lengths(IReadOnlyDictionary<string, int> s)
        {
            var m = s["M"];
            var options = new double[] { m / 2, m, 0, 1, -3, m + 5, int.MinValue, m - 1, int.MaxValue, 7 };
            return Enumerable.Range(0, s["B"]).Select(b => options[(b + m) % options.Length]).ToArray();
        }
        // The same with a float input: the value is rounded down (a fraction), NaN reads as none, and huge values and +inf
        // as all (read as 2^40, far past the int range).
        static double[] FloatLengths(IReadOnlyDictionary<string, int> s)
        {
            var m = s["M"];
            var options = new[] { m / 2 + 0.7, m, 0, 1, -3, m + 5, double.NaN, m - 1, 1e30, double.PositiveInfinity };
            return Enumerable.Range(0, s["B"]).Select(b => options[(b + m) % options.Length]).ToArray();
        }
        yield return new KernelCase("attention.padded (float LEN)", Spec("attention.padded").Replace("LEN[b] : i32", "LEN[b]"), padded, 2.0, new Dictionary<string, double> { ["SCALE"] = 0.3 },
            Values: new Dictionary<string, Func<IReadOnlyDictionary<string, int>, double[]>> { ["LEN"] = FloatLengths });
        yield return new KernelCase("attention.padded", Spec("attention.padded"), padded, 2.0, new Dictionary<string, double> { ["SCALE"] = 0.3 },
            Values: new Dictionary<string, Func<IReadOnlyDictionary<string, int>, double[]>> { ["LEN"] = Lengths });
        foreach (var (name, scalars) in new[] { ("attention.masked", new Dictionary<string, double> { ["SCALE"] = 0.3 }), ("attention.softcap", new Dictionary<string, double> { ["SC"] = 0.05, ["CAP"] = 5 }), ("attention.softcap.masked", new Dictionary<string, double> { ["SC"] = 0.05, ["CAP"] = 5 }) })
            yield return new KernelCase(name, Spec(name), padded, 2.0, scalars,
                Values: new Dictionary<string, Func<IReadOnlyDictionary<string, int>, double[]>> { ["LEN"] = Lengths });
        yield return new KernelCase("attention.lse", Spec("attention.lse"), padded, 2.0, new Dictionary<string, double> { ["SCALE"] = 0.3 },
            Values: new Dictionary<string, Func<IReadOnlyDictionary<string, int>, double[]>> { ["LEN"] = Lengths });
        yield return new KernelCase("attention.bshd", Spec("attention.bshd"), padded, 2.0, new Dictionary<string, double> { ["SCALE"] = 0.3 },
            Values: new Dictionary<string, Func<IReadOnlyDictionary<string, int>, double[]>> { ["LEN"] = Lengths });
        var softmax = new[] { S(("P", 3), ("N", 1000)), S(("P", 17), ("N", 33)), S(("P", 1), ("N", 1)) };
        foreach (var name in new[] { "softmax.3pass", "softmax.2pass", "softmax.2pass.lse" })
            yield return new KernelCase(name, Spec(name), softmax, 30.0);
        var linear = new[] { S(("T", 128), ("D", 16), ("F", 24)), S(("T", 77), ("D", 9), ("F", 17)), S(("T", 1), ("D", 1), ("F", 1)) };
        foreach (var name in new[] { "linear_attention.quadratic", "linear_attention.causal" })
            yield return new KernelCase(name, Spec(name), linear, 1.0, new Dictionary<string, double> { ["slope"] = 0.05 });
        // Batch and heads split across threads, each head with its own slope (inputs in [-0.1, 0.1], so a negative slope
        // grows the weights by at most e^6.4 a block); blocks of 64 with a partial last one.
        yield return new KernelCase("linear_attention.heads", Spec("linear_attention.heads"),
            new[] { S(("B", 2), ("H", 3), ("T", 150), ("D", 9), ("F", 17)), S(("B", 1), ("H", 2), ("T", 64), ("D", 16), ("F", 16)), S(("B", 1), ("H", 1), ("T", 1), ("D", 1), ("F", 1)) }, 0.1);
        // A log decay per token (inputs in [-0.1, 0.1]: a positive one grows the state a little), states in and out; blocks
        // of 64 with a partial last one, whose decay across the block counts its tokens only.
        yield return new KernelCase("linear_attention.gated", Spec("linear_attention.gated"),
            new[] { S(("B", 2), ("H", 3), ("T", 150), ("D", 9), ("F", 17)), S(("B", 1), ("H", 2), ("T", 64), ("D", 16), ("F", 16)), S(("B", 1), ("H", 1), ("T", 1), ("D", 1), ("F", 1)) }, 0.1);
        yield return new KernelCase("selective_scan", Spec("selective_scan"),
            new[] { S(("D", 24), ("N", 16), ("L", 50)), S(("D", 5), ("N", 3), ("L", 7)), S(("D", 1), ("N", 1), ("L", 1)), S(("D", 7), ("N", 5), ("L", 150)) }, 0.3);
        // (Inputs in [-0.3, 0.3]: A is not negative here, and the state grows by up to exp(0.3 softplus(0.6)) a step.)
        // Batch and channel groups: several chunks of steps and a partial last one, groups of 3 and 2 (D not a multiple:
        // the last group is partial), one group (Mamba's layout), one channel per group.
        // B and C the same for every token: several chunks of steps and a partial last one, a state of one.
        yield return new KernelCase("selective_scan.shared", Spec("selective_scan.shared"),
            new[] { S(("BT", 2), ("D", 6), ("N", 4), ("L", 150)), S(("BT", 1), ("D", 5), ("N", 3), ("L", 7)), S(("BT", 1), ("D", 1), ("N", 1), ("L", 1)) }, 0.3);
        yield return new KernelCase("selective_scan.grouped", Spec("selective_scan.grouped"),
            new[] { S(("BT", 2), ("D", 6), ("DG", 3), ("N", 4), ("L", 150)), S(("BT", 1), ("D", 5), ("DG", 2), ("N", 3), ("L", 7)), S(("BT", 1), ("D", 4), ("DG", 4), ("N", 16), ("L", 64)), S(("BT", 1), ("D", 1), ("DG", 1), ("N", 1), ("L", 1)) }, 0.3);
    }

    private static readonly Lazy<KernelBench> Bench = new(() =>
    {
        var bench = new KernelBench(Cases());
        bench.Compile();
        return bench;
    });

    [Fact]
    public void Every_spec_matches_the_interpreter()
    {
        var failures = Bench.Value.CompareAll(2e-5);
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }

    [Fact]
    public void Every_spec_has_a_descriptor_equal_to_its_compiled_cascade_and_analysis()
    {
        var failures = Bench.Value.DescriptorMismatches();
        Assert.True(failures.Count == 0, string.Join("\n\n", failures));
    }

    /// <summary>The hardware models give the same figures on the generated descriptor as on the spec compiled at run time.</summary>
    [Fact]
    public void Every_descriptor_costs_the_same_as_its_spec_on_every_hardware_model()
    {
        var bench = Bench.Value;
        var compared = 0;
        for (var i = 0; i < bench.Count; i++)
        {
            var descriptor = bench.Descriptor(i);
            var compiled = Kernels.Einsum.CascadeCompiler.Compile(bench.Case(i).Spec, "Kernel" + i).Cascade!;
            // A scheduled case's tiles are its partitions' sizes, in the descriptor as in the kernel.
            if (bench.Case(i).Schedule is { } schedule) compiled = Kernels.Einsum.Planning.Schedule.Parse(schedule, out _).ApplyTiles(compiled);
            foreach (var sizes in bench.Case(i).Sizes.Where(s => s.Values.All(v => v > 0)))
            {
                foreach (var target in Kernels.Hardware.Targets.SpatialPresets.Names.Select(Kernels.Hardware.Targets.SpatialPresets.Get))
                {
                    var expected = Kernels.Hardware.Spatial.SpatialArrayModel.Evaluate(compiled, sizes, target, 8);
                    var actual = Kernels.Hardware.KernelCost.Cost(descriptor, target, sizes, 8);
                    Assert.Equal(StructureDump.Of(expected), StructureDump.Of(actual));
                    Assert.True(actual.LatencySeconds > 0 && actual.EnergyPj > 0, $"{bench.Case(i).Name} on {target.Name}: nothing costed");
                }
                var fpga = Kernels.Hardware.KernelCost.Cost(descriptor, Kernels.Hardware.Fpga.FpgaDevice.U250, sizes, reuseFactor: 4);
                Assert.Equal(StructureDump.Of(Kernels.Hardware.Fpga.HlsEstimator.Estimate(compiled, sizes, 4)), StructureDump.Of(fpga));
                var pim = Kernels.Hardware.KernelCost.Cost(descriptor, Kernels.Hardware.Pim.PimPresets.All, sizes, instances: 8);
                Assert.Equal(StructureDump.Of(Kernels.Hardware.Pim.PimPlacement.Place(compiled, sizes, 8)), StructureDump.Of(pim));
                compared++;
            }
        }
        Assert.True(compared >= 16, $"only {compared} (spec, sizes) pairs compared");
    }
}
