using Kernels.Benchmarks;

namespace Kernels.Perf.Tests;

/// <summary>The suite in perf/ cannot rot: every benchmark runs once here; and the gate's ratios and verdicts are right.</summary>
public class PerfSuiteTests
{
    [Fact]
    public void Every_benchmark_of_every_suite_runs_once_at_its_smallest_parameters()
    {
        var log = new StringWriter();
        var ran = Smoke.Run(null, log);
        foreach (var suite in new[] { "AttentionBenchmarks", "DecodeBenchmarks", "SoftmaxBenchmarks", "ContractionBenchmarks", "DescriptorBenchmarks", "LinearAttentionBenchmarks", "SelectiveScanBenchmarks" })
            Assert.Contains(ran, r => r.StartsWith(suite + ".", StringComparison.Ordinal));
        var declared = Smoke.Suites.Sum(t => t.GetMethods().Count(m => m.GetCustomAttributes(typeof(BenchmarkDotNet.Attributes.BenchmarkAttribute), false).Length > 0));
        Assert.Equal(declared, ran.Count);
        // Every suite compares ours with something measured in the same run.
        foreach (var suite in Smoke.Suites)
        {
            Assert.Contains(suite.GetMethods(), m => m.GetCustomAttributes(typeof(OursAttribute), false).Length > 0);
            Assert.Contains(suite.GetMethods(), m => m.GetCustomAttributes(typeof(PeerAttribute), false).Length > 0 || m.GetCustomAttributes(typeof(LimitAttribute), false).Length > 0);
        }
    }

    /// <summary>
    /// The generated kernels' vector operations are inlined: in a process that runs ours of the attention, prefill,
    /// decode and softmax suites with every method compiled optimised at once (no tiering), no method of the vector
    /// widths (V512, V256, V128, F32, their exp and compat helpers) is compiled on its own, which would mean some
    /// optimised caller calls it. A method that spends the JIT's inlining budget does so silently (the later loops of
    /// an attention step once called V512 operators: 5% of multi-head attention at L = 512, docs/generator.md).
    /// Checked against a vector exp marked NoInlining, which it names.
    /// </summary>
    [Fact]
    public async Task The_kernels_inline_every_vector_operation()
    {
        var listing = Path.Combine(Path.GetTempPath(), $"kernels-jit-{Environment.ProcessId}.txt");
        try
        {
            foreach (var filter in new[] { "AttentionBenchmarks.Ours", "PrefillBenchmarks.Ours", "DecodeBenchmarks.Ours", "SoftmaxBenchmarks.Ours" })
            {
                File.Delete(listing);
                var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                foreach (var argument in new[] { typeof(Smoke).Assembly.Location, "smoke", filter }) start.ArgumentList.Add(argument);
                start.Environment["DOTNET_TieredCompilation"] = "0";
                start.Environment["DOTNET_JitDisasmSummary"] = "1";
                start.Environment["DOTNET_JitStdOutFile"] = listing;
                using var process = System.Diagnostics.Process.Start(start)!;
                var output = process.StandardOutput.ReadToEndAsync();
                var errors = await process.StandardError.ReadToEndAsync();
                await process.WaitForExitAsync();
                Assert.True(process.ExitCode == 0, $"smoke {filter} failed: {await output}{errors}");
                var compiled = File.ReadAllLines(listing);
                // Not vacuous: the kernels' step methods were compiled, and they are what calls the vector operations.
                Assert.Contains(compiled, line => line.Contains("JIT compiled Kernels.", StringComparison.Ordinal) && line.Contains("Kernel:_", StringComparison.Ordinal));
                var alone = compiled.Where(line => System.Text.RegularExpressions.Regex.IsMatch(line,
                    @"JIT compiled Kernels\.Runtime\.(V512|V256|V128|F32|SimdExp|Compat\d+|Portable\d+|ISimdFloat`1\[[^\]]*\]):")).ToList();
                Assert.True(alone.Count == 0, $"smoke {filter}: vector operations compiled on their own (not inlined):\n{string.Join("\n", alone.Take(20))}");
            }
        }
        finally
        {
            File.Delete(listing);
        }
    }

    [Fact]
    public void Ratios_pair_ours_with_each_peer_and_limit_at_the_same_parameters_and_respect_versus()
    {
        var ratios = Gate.Ratios(new (Type, string, string, double)[]
        {
            (typeof(SoftmaxBenchmarks), "Ours", "Shape=64x4096", 2.0),
            (typeof(SoftmaxBenchmarks), "OursThreePass", "Shape=64x4096", 4.0),
            (typeof(SoftmaxBenchmarks), "Onnx", "Shape=64x4096", 3.0),
            (typeof(SoftmaxBenchmarks), "TensorPrimitivesRows", "Shape=64x4096", 8.0),
            (typeof(SoftmaxBenchmarks), "Copy", "Shape=64x4096", 1.0),
            (typeof(SoftmaxBenchmarks), "Onnx", "Shape=4096x4096", 30.0), // no ours at these parameters: no ratio
            (typeof(DescriptorBenchmarks), "BuildDescriptor", "", 1.0),
            (typeof(DescriptorBenchmarks), "CompileSpec", "", 50.0),
            (typeof(DescriptorBenchmarks), "CostFromSpec", "", 60.0),
            (typeof(DescriptorBenchmarks), "CostFromDescriptor", "", 10.0),
        }).ToDictionary(r => r.Key, r => r.Value);
        Assert.Equal(1.5, ratios["SoftmaxBenchmarks(Shape=64x4096): Ours / Onnx"]);
        Assert.Equal(4.0, ratios["SoftmaxBenchmarks(Shape=64x4096): Ours / TensorPrimitivesRows"]);
        Assert.Equal(0.5, ratios["SoftmaxBenchmarks(Shape=64x4096): Ours / Copy"]);
        Assert.Equal(0.75, ratios["SoftmaxBenchmarks(Shape=64x4096): OursThreePass / Onnx"]);
        Assert.Equal(50.0, ratios["DescriptorBenchmarks: BuildDescriptor / CompileSpec"]);
        Assert.Equal(6.0, ratios["DescriptorBenchmarks: CostFromDescriptor / CostFromSpec"]);
        Assert.Equal(8, ratios.Count); // ours never against ours; Versus limits the descriptor's pairs
    }

    [Fact]
    public void A_ratio_below_the_tolerance_regresses_and_the_baseline_round_trips()
    {
        var baseline = new Dictionary<string, double> { ["a"] = 1.0, ["b"] = 0.5, ["c"] = 2.0 };
        var verdicts = Gate.Compare(baseline, new[] { new GateRatio("a", 0.79), new GateRatio("b", 0.64), new GateRatio("c", 1.9), new GateRatio("d", 1) }, 0.2)
            .ToDictionary(v => v.Key, v => v.Verdict);
        Assert.Equal(new Dictionary<string, string> { ["a"] = "regressed", ["b"] = "improved", ["c"] = "ok", ["d"] = "new" }, verdicts);
        var output = new StringWriter();
        Assert.Equal(1, Gate.Report(Gate.Compare(baseline, new[] { new GateRatio("a", 0.79) }, 0.2), 0.2, output));
        Assert.Contains("1 regressed", output.ToString());

        var path = Path.Combine(Path.GetTempPath(), "kernels-baseline-" + Guid.NewGuid().ToString("N") + ".json");
        try
        {
            Gate.Save(path, baseline, new[] { new GateRatio("b", 0.6), new GateRatio("e", 3.14159) }, 0.2, "test machine");
            var (loaded, tolerance) = Gate.Load(path);
            Assert.Equal(0.2, tolerance);
            Assert.Equal(new Dictionary<string, double> { ["a"] = 1.0, ["b"] = 0.6, ["c"] = 2.0, ["e"] = 3.142 }, loaded);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Paired_rounds_form_the_gates_ratios_in_one_process_at_the_fixed_parameters_only()
    {
        var log = new StringWriter();
        var ratios = Paired.Run("SoftmaxBenchmarks", new Dictionary<string, string> { ["Shape"] = "64x4096" },
            new Paired.Options(Rounds: 3, Batch: TimeSpan.FromMilliseconds(2), Pause: TimeSpan.Zero), log);
        // Every ours against every peer and limit of its class, as the gate pairs them, at 64x4096 only.
        var expected = new[] { "Ours", "OursThreePass", "OursTwoPass" }
            .SelectMany(o => new[] { "Copy", "Onnx", "TensorPrimitivesRows" }.Select(x => $"SoftmaxBenchmarks(Shape=64x4096): {o} / {x}")).Order(StringComparer.Ordinal);
        Assert.Equal(expected, ratios.Select(r => r.Key));
        foreach (var r in ratios)
        {
            Assert.Equal(3, r.Rounds);
            Assert.True(r.Low > 0 && r.Low <= r.Median && r.Median <= r.High && double.IsFinite(r.High), r.ToString());
        }
        Assert.Equal(3, log.ToString().Split('\n').Count(l => l.StartsWith("paired: SoftmaxBenchmarks(Shape=64x4096) round ", StringComparison.Ordinal)));
        var table = new StringWriter();
        Paired.Report(ratios, table);
        Assert.Contains("| SoftmaxBenchmarks(Shape=64x4096): Ours / Onnx | ", table.ToString());
        Assert.Empty(Paired.Run("NoSuchSuite", new Dictionary<string, string>(), new Paired.Options(Rounds: 1), TextWriter.Null));
        Assert.Throws<ArgumentOutOfRangeException>(() => Paired.Run(null, new Dictionary<string, string>(), new Paired.Options(Rounds: 0), TextWriter.Null));
    }

    [Fact]
    public void Paired_takes_the_suite_of_exactly_the_filters_name_before_those_that_contain_it()
    {
        Assert.Equal(new[] { "AttentionBenchmarks" }, Paired.Suites("AttentionBenchmarks").Select(t => t.Name));
        Assert.Equal(new[] { "AttentionBenchmarks" }, Paired.Suites("attentionbenchmarks").Select(t => t.Name));
        var contains = Paired.Suites("AttentionBench").Select(t => t.Name).ToList();
        Assert.Contains("AttentionBenchmarks", contains);
        Assert.Contains("LinearAttentionBenchmarks", contains);
        Assert.Equal(Smoke.Suites.Count(), Paired.Suites(null).Count);
        Assert.Empty(Paired.Suites("NoSuchSuite"));
    }

    [Fact]
    public void Plots_draw_throughput_against_length_and_a_roofline_of_the_measured_points()
    {
        Plots.Result R(Type t, string m, string p, double s) => new(t, m, p.Length == 0 ? new Dictionary<string, string>() : new Dictionary<string, string> { [p.Split('=')[0]] = p.Split('=')[1] }, s);
        var results = new[]
        {
            R(typeof(AttentionBenchmarks), "Ours", "Length=512", 3e-3), R(typeof(AttentionBenchmarks), "Onnx", "Length=512", 2e-3), R(typeof(AttentionBenchmarks), "Peak", "Length=512", 1.3e-3),
            R(typeof(AttentionBenchmarks), "Ours", "Length=2048", 45e-3), R(typeof(AttentionBenchmarks), "Onnx", "Length=2048", 30e-3), R(typeof(AttentionBenchmarks), "Peak", "Length=2048", 21e-3),
            R(typeof(SoftmaxBenchmarks), "Ours", "Shape=4096x4096", 5e-3), R(typeof(SoftmaxBenchmarks), "Copy", "Shape=4096x4096", 2.5e-3),
        };
        var dir = Path.Combine(Path.GetTempPath(), "kernels-plots-" + Guid.NewGuid().ToString("N"));
        try
        {
            var files = Plots.Write(results, dir).Select(Path.GetFileName).ToList();
            Assert.Equal(new[] { "attention-throughput.svg", "roofline.svg" }, files);
            string[] Texts(string f) => System.Xml.Linq.XDocument.Load(Path.Combine(dir, f)).Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value.Trim()).ToArray();
            Assert.Contains("ONNX Runtime MultiHeadAttention", Texts("attention-throughput.svg"));
            Assert.Contains("Kernels Attention.Forward, per head", Texts("attention-throughput.svg"));
            var roofline = Texts("roofline.svg");
            Assert.Contains("Attention 2048", roofline);
            Assert.Contains("Softmax 4096x4096", roofline);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }
}
