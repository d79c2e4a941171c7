using System.Text.Json;

namespace Kernels.Cli.Tests;

/// <summary>`model`, `emit --target hls` and `roofline`, run in-process.</summary>
public class HardwareCommandTests
{
    private static string Spec(string name) => Path.Combine(AppContext.BaseDirectory, "specs", name + ".einsum");

    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = CliApp.Run(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    private static readonly string[] PointFields =
    {
        "model", "seq", "speedupVsFlat", "energyVsFlat", "speedupVsUnfused", "util2d", "util1d", "flatUtil2d", "trafficBytes",
        "e2eSpeedupVsFlat", "e2eEnergyVsFlat", "e2eSpeedupVsUnfused", "ablation",
    };

    private static readonly string[] AblationSteps = { "unfused", "flat", "cascade", "architecture", "binding" };

    private static readonly string[] AverageFields = { "speedupVsFlat", "energyVsFlat", "speedupVsUnfused", "e2eSpeedupVsFlat", "e2eEnergyVsFlat", "e2eSpeedupVsUnfused" };

    [Fact]
    public void PaperJsonHasTheStableSchemaAndThePublishedAverages()
    {
        var (exit, output, error) = Run("model", "--paper", "fusemax", "--json");
        Assert.True(exit == 0, error);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal(new[] { "points", "averages", "published", "ablationAverages" }, doc.RootElement.EnumerateObject().Select(p => p.Name));
        var points = doc.RootElement.GetProperty("points").EnumerateArray().ToList();
        Assert.Equal(24, points.Count);
        foreach (var p in points) Assert.Equal(PointFields, p.EnumerateObject().Select(f => f.Name));
        Assert.Equal(new[] { "BERT", "TrXL", "T5", "XLM" }, points.Select(p => p.GetProperty("model").GetString()).Distinct());
        Assert.Equal(new[] { 1024, 4096, 16384, 65536, 262144, 1048576 }, points.Select(p => p.GetProperty("seq").GetInt32()).Distinct());
        var averages = doc.RootElement.GetProperty("averages");
        var published = doc.RootElement.GetProperty("published");
        Assert.Equal(AverageFields, averages.EnumerateObject().Select(f => f.Name));
        foreach (var f in AverageFields)
        {
            // The averages are the means of the points' ratios, and within 5% of the published ones.
            Assert.Equal(points.Average(p => p.GetProperty(f).GetDouble()), averages.GetProperty(f).GetDouble(), 9);
            Assert.InRange(averages.GetProperty(f).GetDouble() / published.GetProperty(f).GetDouble(), 0.95, 1.05);
        }
        var table = Run("model", "--paper", "fusemax");
        Assert.Equal(0, table.Exit);
        Assert.Contains("published  6.70x", table.Out);

        // The ablation ladder: every step with its utilisations, latency and energy at every point; FLAT's step is FLAT.
        foreach (var p in points)
        {
            var ablation = p.GetProperty("ablation");
            Assert.Equal(AblationSteps, ablation.EnumerateObject().Select(a => a.Name));
            foreach (var a in ablation.EnumerateObject())
                Assert.Equal(new[] { "util2d", "util1d", "latency", "energy" }, a.Value.EnumerateObject().Select(f => f.Name));
            Assert.Equal(p.GetProperty("flatUtil2d").GetDouble(), ablation.GetProperty("flat").GetProperty("util2d").GetDouble());
            Assert.Equal(p.GetProperty("util2d").GetDouble(), ablation.GetProperty("binding").GetProperty("util2d").GetDouble());
            Assert.True(ablation.GetProperty("cascade").GetProperty("latency").GetDouble() > ablation.GetProperty("flat").GetProperty("latency").GetDouble());
        }
        var ladder = doc.RootElement.GetProperty("ablationAverages");
        Assert.Equal(AblationSteps, ladder.EnumerateObject().Select(a => a.Name));
        Assert.InRange(ladder.GetProperty("architecture").GetProperty("util2d").GetDouble(), 0.29, 0.36);
        foreach (var step in AblationSteps) Assert.Contains(step, table.Out);
    }

    [Fact]
    public void SweepReportsEveryDesignItsParetoFrontAndThePlot()
    {
        var file = Path.Combine(Path.GetTempPath(), $"pareto-{Guid.NewGuid():N}.svg");
        try
        {
            var (exit, output, error) = Run("model", Spec("attention.3pass"), "--target", "flat", "--model", "XLM", "--seq", "65536",
                "--sweep", "buffer=4MiB..64MiB,array=128|256", "-o", file);
            Assert.True(exit == 0, error);
            Assert.Contains("10 designs", output);
            // 64 rows of M + E + 1 words and a K and a V tile need 8.5 MB: 16 MiB stops the spill, 32 MiB holds 128-row blocks.
            Assert.Contains("256x256: nothing spills from 16MiB on; compute bound from 32MiB on", output);
            var svg = System.Xml.Linq.XDocument.Load(file);
            var texts = svg.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value.Trim()).ToList();
            Assert.Contains("latency (s)", texts);
            Assert.Contains("energy (J)", texts);
            Assert.Contains("256x256 32MiB", texts);

            var json = Run("model", Spec("attention.fusemax"), "--target", "fusemax", "--model", "BERT", "--seq", "4096", "--sweep", "buffer=4MiB..16MiB,array=64..256", "--json");
            Assert.True(json.Exit == 0, json.Err);
            using var doc = JsonDocument.Parse(json.Out);
            var points = doc.RootElement.GetProperty("points").EnumerateArray().ToList();
            Assert.Equal(9, points.Count);
            foreach (var f in new[] { "arrayWidth", "bufferBytes", "latencySeconds", "energyPj", "areaMm2", "util2d", "util1d", "memoryBound", "spilled", "pareto" })
                Assert.True(points[0].TryGetProperty(f, out _), f);
            // A wider array is faster; the smallest design is always on the front.
            var smallest = points.MinBy(p => p.GetProperty("areaMm2").GetDouble());
            Assert.True(smallest.GetProperty("pareto").GetBoolean());
            Assert.Equal(4L << 20, doc.RootElement.GetProperty("smallestBufferWithoutSpill").GetProperty("64").GetInt64());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("buffer=4MB..64MiB", "ambiguous")]
    [InlineData("buffers=4MiB", "unknown axis")]
    [InlineData("array=512..64", "starts above its end")]
    [InlineData("array=many", "not a positive whole number")]
    public void ABadSweepIsOneClearErrorNotAnExceptionTrace(string grid, string why)
    {
        var (exit, output, error) = Run("model", Spec("attention.fusemax"), "--sweep", grid);
        Assert.Equal(2, exit);
        Assert.Equal("", output);
        Assert.StartsWith("error: --sweep '" + grid + "'", error, StringComparison.Ordinal);
        Assert.Contains(why, error, StringComparison.Ordinal);
        Assert.Contains("buffer=4MiB..64MiB,array=64..512", error, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd().Split('\n'));

        var pim = Run("model", Spec("attention.fusemax"), "--target", "pim", "--sweep", "array=64..128");
        Assert.Equal(2, pim.Exit);
        Assert.Contains("--sweep varies a spatial array", pim.Err, StringComparison.Ordinal);
        Assert.Equal(2, Run("model", Spec("attention.fusemax"), "-o", Path.Combine(Path.GetTempPath(), "never.svg")).Exit);
    }

    [Fact]
    public void ModelWithAWorkloadPresetReportsLatencyUtilisationTrafficAndEnergy()
    {
        var (exit, output, error) = Run("model", Spec("attention.fusemax"), "--target", "fusemax", "--model", "BERT", "--seq", "4096", "--json");
        Assert.True(exit == 0, error);
        using var doc = JsonDocument.Parse(output);
        var r = doc.RootElement;
        foreach (var f in new[] { "kernel", "target", "sizes", "instances", "latencySeconds", "util2d", "util1d", "trafficBytes", "bufferBytes", "energyPj", "phases", "einsums" })
            Assert.True(r.TryGetProperty(f, out _), f);
        Assert.Equal(64 * 12, r.GetProperty("instances").GetDouble());
        Assert.Equal(4096, r.GetProperty("sizes").GetProperty("P").GetInt64());
        Assert.InRange(r.GetProperty("util2d").GetDouble(), 0.95, 1.0);
        // Q and the output once, K and V once (one query tile): 2 * B * H * (E + F) * (P + M) bytes.
        Assert.Equal(2.0 * 768 * 128 * (4096 + 4096), r.GetProperty("trafficBytes").GetDouble(), 0);

        var sized = Run("model", Spec("attention.3pass"), "--target", "flat", "--size", "P=1024,M=1024,E=64,F=64", "--instances", "8", "--json");
        Assert.Equal(0, sized.Exit);
        using var flat = JsonDocument.Parse(sized.Out);
        Assert.Equal(0.125, flat.RootElement.GetProperty("util2d").GetDouble(), 9);
        Assert.Contains("schedule", Run("model", Spec("attention.fusemax"), "--model", "XLM", "--seq", "1024").Out);
    }

    [Fact]
    public void ModelOnFpgaAndPim()
    {
        var fpga = Run("model", Spec("softmax.3pass"), "--target", "fpga", "--size", "P=64,N=256", "--reuse", "4", "--json");
        Assert.True(fpga.Exit == 0, fpga.Err);
        using (var doc = JsonDocument.Parse(fpga.Out))
        {
            Assert.Equal(4, doc.RootElement.GetProperty("reuseFactor").GetInt32());
            foreach (var f in new[] { "dsp", "bram36", "lut", "ff", "latencyCycles", "einsums" }) Assert.True(doc.RootElement.TryGetProperty(f, out _), f);
        }
        var pim = Run("model", Spec("attention.fusemax"), "--target", "pim", "--size", "P=8,M=8192,E=128,F=128", "--instances", "256", "--json");
        Assert.True(pim.Exit == 0, pim.Err);
        using (var doc = JsonDocument.Parse(pim.Out))
        {
            Assert.Equal("logic-die-pim", doc.RootElement.GetProperty("mainTarget").GetString());
            Assert.InRange(doc.RootElement.GetProperty("intensity").GetDouble(), 4, 8.5);
        }
    }

    [Fact]
    public void EmitHlsWritesCompilableLookingCppAndRejectsUnknownTargets()
    {
        var file = Path.Combine(Path.GetTempPath(), $"hls-{Guid.NewGuid():N}.cpp");
        try
        {
            var (exit, _, error) = Run("emit", Spec("attention.3pass"), "--target", "hls", "-o", file, "--size", "P=16,M=64,E=8,F=8");
            Assert.True(exit == 0, error);
            var code = File.ReadAllText(file);
            Assert.Contains("void attention_3pass_top(", code);
            Assert.Contains("static void pass3(", code);
            Assert.Contains("#pragma HLS PIPELINE II=1", code);
        }
        finally
        {
            File.Delete(file);
        }
        var stdout = Run("emit", Spec("softmax.2pass"), "--target", "hls");
        Assert.Equal(0, stdout.Exit);
        Assert.Contains("static void pass2(", stdout.Out);
        Assert.Equal(2, Run("emit", Spec("softmax.2pass"), "--target", "verilog").Exit);
        Assert.Equal(1, Run("emit", "/nonexistent/x.einsum").Exit);
    }

    [Fact]
    public void RooflineWritesAnSvgWithRoofsAndEinsums()
    {
        foreach (var target in new[] { "pim", "fusemax", "fpga" })
        {
            var file = Path.Combine(Path.GetTempPath(), $"roof-{Guid.NewGuid():N}.svg");
            try
            {
                var size = target == "fpga" ? "P=64,M=256,E=16,F=16" : "P=4096,M=4096,E=64,F=64";
                var (exit, _, error) = Run("roofline", Spec("attention.fusemax"), "--target", target, "--size", size, "-o", file);
                Assert.True(exit == 0, error);
                // Drawn by ScottPlot: the text of the plot is the roofs' names, the Einsums' labels, the title and the axes.
                var svg = System.Xml.Linq.XDocument.Load(file);
                Assert.Equal("svg", svg.Root!.Name.LocalName);
                var texts = svg.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value.Trim()).ToList();
                Assert.Contains("BQK", texts);
                Assert.Contains("arithmetic intensity (FLOP/byte)", texts);
                Assert.Contains(texts, t => t.StartsWith("attention_fusemax", StringComparison.Ordinal));
                Assert.Contains(texts, t => t == (target switch { "pim" => "bank-pim", "fusemax" => "fusemax 2D (256x256)", _ => texts.First(x => x.Contains("DSP used", StringComparison.Ordinal)) }));
            }
            finally
            {
                File.Delete(file);
            }
        }
    }

    [Fact]
    public void ModelTakesABuiltInKernelByNameAndCostsItsGeneratedDescriptor()
    {
        var byName = Run("model", "Attention.Forward", "--target", "fusemax", "--model", "BERT", "--seq", "4096", "--json");
        Assert.True(byName.Exit == 0, byName.Err);
        var bySpec = Run("model", Spec("attention.fusemax"), "--target", "fusemax", "--model", "BERT", "--seq", "4096", "--json");
        using var a = JsonDocument.Parse(byName.Out);
        using var b = JsonDocument.Parse(bySpec.Out);
        foreach (var f in new[] { "latencySeconds", "util2d", "util1d", "trafficBytes", "bufferBytes", "energyPj" })
            Assert.Equal(b.RootElement.GetProperty(f).GetDouble(), a.RootElement.GetProperty(f).GetDouble());

        var scan = Run("model", "selectivescan.forward", "--target", "pim", "--size", "D=1536,L=2048,N=16");
        Assert.True(scan.Exit == 0, scan.Err);
        var descriptor = Run("emit", "Softmax.Rows", "--target", "descriptor");
        Assert.True(descriptor.Exit == 0, descriptor.Err);
        Assert.Contains("RunDescriptor => __RunDescriptor.Instance", descriptor.Out);
        // softmax.3pass: the maximum, the numerator and its sum, and the division.
        Assert.Contains("// Passes over n: 3", descriptor.Out);
        var missing = Run("model", "Attention.Backward");
        Assert.Equal(1, missing.Exit);
        Assert.Contains("Attention.Forward", missing.Err);
    }

    [Fact]
    public void EmitPrintsTheLoopProgramTheCSharpKernelIsPrintedFromAndFollowsTheSchedule()
    {
        var loops = Run("emit", Spec("attention.fusemax"), "--target", "loops");
        Assert.True(loops.Exit == 0, loops.Err);
        var text = loops.Out.Replace("\r\n", "\n");
        // The plans in the order a call tries them, and the fold of the running sum into the second contraction.
        Assert.True(text.IndexOf("plan Dense", StringComparison.Ordinal) < text.IndexOf("plan General", StringComparison.Ordinal)
            && text.IndexOf("plan General", StringComparison.Ordinal) < text.IndexOf("plan FewRows", StringComparison.Ordinal), text);
        Assert.Contains("RNV[m1+1,p,f] = SLNV[m1,p,f] + SPNV[m1,p,f]\n          contraction over m0 with the running sum rescaled by PRM as it stores", text, StringComparison.Ordinal);
        Assert.Contains("one sweep over m0: SLN stored and reduced into SLD", text, StringComparison.Ordinal);
        Assert.Contains("RM[m1+1: two slots, p: the block's rows]", text, StringComparison.Ordinal);
        // A schedule changes the program as it changes the kernel.
        var scalar = Run("emit", Spec("attention.fusemax"), "--target", "loops", "--schedule", "fold off; fuse SLN off").Out;
        Assert.DoesNotContain("one sweep", scalar, StringComparison.Ordinal);
        Assert.DoesNotContain("running sum rescaled", scalar, StringComparison.Ordinal);
    }

    [Fact]
    public void EmitPrintsTheScheduleAndTakesOverridesWhoseErrorsPointAtTheDirective()
    {
        var chosen = Run("emit", Spec("attention.3pass"), "--target", "schedule");
        Assert.True(chosen.Exit == 0, chosen.Err);
        Assert.StartsWith("parallel p\nrows blocked\nlower QK contraction\n", chosen.Out.Replace("\r\n", "\n"), StringComparison.Ordinal);

        var changed = Run("emit", Spec("attention.3pass"), "--target", "schedule", "--schedule", "lower QK vector; lower AV vector");
        Assert.True(changed.Exit == 0, changed.Err);
        Assert.Contains("rows per-row\nlower QK vector e\n", changed.Out.Replace("\r\n", "\n"), StringComparison.Ordinal);
        var kernel = Run("emit", Spec("attention.3pass"), "--target", "csharp", "--schedule", "lower QK vector; lower AV vector");
        Assert.DoesNotContain("Gemm.Run", kernel.Out, StringComparison.Ordinal);
        Assert.Contains("Gemm.Run", Run("emit", Spec("attention.3pass"), "--target", "csharp").Out, StringComparison.Ordinal);

        var illegal = Run("emit", Spec("attention.3pass"), "--target", "csharp", "--schedule", "serial\nlower GM contraction");
        Assert.Equal(1, illegal.Exit);
        Assert.Contains("--schedule(2,1): error KRN0036: The Einsum for 'GM' is not a contraction", illegal.Err, StringComparison.Ordinal);
        var syntax = Run("emit", Spec("attention.3pass"), "--target", "schedule", "--schedule", "rows diagonal");
        Assert.Equal(1, syntax.Exit);
        Assert.Contains("--schedule(1,6): error KRN0035: Unknown row walk 'diagonal'", syntax.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void EmitTakesAScheduledTileForEveryTarget()
    {
        var plain = Run("emit", Spec("attention.fusemax"), "--target", "schedule");
        Assert.Contains("rows blocked\ntile M0 64\n", plain.Out.Replace("\r\n", "\n"), StringComparison.Ordinal);
        var tiled = Run("emit", Spec("attention.fusemax"), "--target", "schedule", "--schedule", "tile M0 128; rows blocked 24");
        Assert.True(tiled.Exit == 0, tiled.Err);
        Assert.Contains("rows blocked 24\ntile M0 128\n", tiled.Out.Replace("\r\n", "\n"), StringComparison.Ordinal);
        var kernel = Run("emit", Spec("attention.fusemax"), "--target", "csharp", "--schedule", "tile M0 128; rows blocked 24");
        Assert.Contains("int M0 = 128; // the schedule's tile", kernel.Out, StringComparison.Ordinal);
        Assert.Contains("int _PB = 24;", kernel.Out, StringComparison.Ordinal);
        // The tile is the partition's size for the other sinks too: the descriptor and the HLS design.
        Assert.Contains("tileSize: 128", Run("emit", Spec("attention.fusemax"), "--target", "descriptor", "--schedule", "tile M0 128").Out, StringComparison.Ordinal);
        Assert.Contains("static const long M0 = 128;", Run("emit", Spec("attention.fusemax"), "--target", "hls", "--schedule", "tile M0 128").Out, StringComparison.Ordinal);
        var wrong = Run("emit", Spec("attention.fusemax"), "--target", "csharp", "--schedule", "tile E0 32");
        Assert.Equal(1, wrong.Exit);
        Assert.Contains("--schedule(1,1): error KRN0036: 'E0' is not a tile of this cascade; its tiles are M0.", wrong.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void BadArgumentsAreErrors()
    {
        Assert.Equal(2, Run("model").Exit);
        Assert.NotEqual(0, Run("model", Spec("attention.fusemax"), "--target", "gpu").Exit);
        Assert.NotEqual(0, Run("model", Spec("attention.fusemax"), "--model", "GPT5").Exit);
        Assert.Equal(2, Run("model", "--paper", "flat").Exit);
        Assert.Equal(0, Run("model", "--print-target", "flat").Exit);
    }
}
