using System.Diagnostics;
using System.Globalization;
using System.Text;
using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Ir;
using Kernels.Hardware.Fpga;

namespace Kernels.Hardware.Tests;

/// <summary>
/// The C simulation: for every spec in specs/, emit HLS C++, compile it with g++ together with the generated test bench,
/// run it on random inputs and compare every output with the reference interpreter. The design computes in float, the
/// interpreter in double: elements must agree within 1e-4 relative to max(1, |reference|).
/// </summary>
public class HlsSimulationTests
{
    private const double Tolerance = 1e-4;
    private const string Compiler = "/usr/bin/g++";

    public static TheoryData<string> SpecNames() => new(Specs.Names);

    /// <summary>Small sizes: a partitioned rank spans two tiles of its default size, every other size is 8.</summary>
    internal static Dictionary<string, int> SmallSizes(Cascade cascade)
    {
        var sizes = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (size, def) in CascadeShapes.RequiredSizes(cascade))
        {
            if (def is not null) continue;
            var tile = cascade.Ranks.FirstOrDefault(r => r.Kind == RankKind.PartitionInner && r.PartitionOf?.ToUpperInvariant() == size);
            sizes[size] = tile?.DefaultSize is { } t ? 2 * t : 8;
        }
        return sizes;
    }

    [Theory]
    [MemberData(nameof(SpecNames))]
    public void EmittedHlsCompilesRunsAndMatchesTheInterpreter(string spec)
    {
        Assert.True(File.Exists(Compiler), "g++ is needed for the C simulation");
        var cascade = Specs.Load(spec);
        var sizes = SmallSizes(cascade);
        var shapes = CascadeShapes.Bind(cascade, sizes);
        var random = new Random(1234);
        var inputs = new Dictionary<string, double[]>(StringComparer.Ordinal);
        foreach (var t in cascade.Inputs)
        {
            var n = (int)shapes.ElementCount(t.Name);
            // Scalars are decay rates (small and positive); tensors are uniform in [-1, 1].
            inputs[t.Name] = Enumerable.Range(0, n).Select(_ => t.Rank == 0 ? 0.1 * random.NextDouble() : 2 * random.NextDouble() - 1).ToArray();
        }
        var expected = ReferenceInterpreter.Run(cascade, sizes, inputs);

        var design = HlsEmitter.Emit(cascade, sizes, new HlsOptions(ReuseFactor: 4));
        var dir = Path.Combine(Path.GetTempPath(), "kernels-hls-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            File.WriteAllText(Path.Combine(dir, "kernel.cpp"), design.Code);
            File.WriteAllText(Path.Combine(dir, "main.cpp"), HlsHarness.Emit(design, "kernel.cpp"));
            var text = new StringBuilder();
            foreach (var t in design.Inputs)
            {
                text.AppendLine(inputs[t.Name].Length.ToString(CultureInfo.InvariantCulture));
                foreach (var v in inputs[t.Name]) text.AppendLine(v.ToString("R", CultureInfo.InvariantCulture));
            }
            File.WriteAllText(Path.Combine(dir, "inputs.txt"), text.ToString());

            var (cc, _, ccErr) = Run(Compiler, $"-std=c++17 -O1 -Wall -Wno-unknown-pragmas -Wno-unused-label -o sim main.cpp", dir);
            Assert.True(cc == 0, "g++ failed:\n" + ccErr + "\n" + design.Code);
            Assert.DoesNotContain("warning", ccErr);
            var (rc, stdout, err) = Run(Path.Combine(dir, "sim"), "inputs.txt", dir);
            Assert.True(rc == 0, err);

            var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var i = 0;
            foreach (var t in design.Outputs)
            {
                var header = lines[i++].Split(' ');
                Assert.Equal(t.Name, header[0]);
                var count = int.Parse(header[1], CultureInfo.InvariantCulture);
                var reference = expected[t.Name];
                Assert.Equal(reference.Length, count);
                for (var k = 0; k < count; k++)
                {
                    var actual = double.Parse(lines[i++], CultureInfo.InvariantCulture);
                    var scale = Math.Max(1, Math.Abs(reference[k]));
                    Assert.True(Math.Abs(actual - reference[k]) <= Tolerance * scale, $"{spec} {t.Name}[{k}]: C simulation {actual:R}, interpreter {reference[k]:R}");
                }
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void OneFunctionPerPassWithPragmasAndBuffersFromTheLiveFootprint()
    {
        var three = HlsEmitter.Emit(Specs.Load("attention.3pass"), Specs.Sizes(("P", 8), ("M", 64), ("E", 8), ("F", 8)), new HlsOptions(ReuseFactor: 2));
        Assert.Equal(new[] { "pass1", "pass2", "pass3" }, three.PassFunctions);
        Assert.Contains("#pragma HLS PIPELINE II=2", three.Code);
        Assert.Contains("#pragma HLS UNROLL factor=4", three.Code); // sum[e] over E = 8 at RF 2
        Assert.Contains("#pragma HLS ARRAY_PARTITION variable=QK cyclic factor=16 dim=1", three.Code);

        // FuseMax: one pass; the running state keeps two steps of m1 and the per-tile values one, so no buffer but the
        // copies of K and V grows with M.
        var sizes = Specs.Sizes(("P", 8), ("M", 256), ("E", 8), ("F", 8));
        var one = HlsEmitter.Emit(Specs.Load("attention.fusemax"), sizes);
        Assert.Equal(new[] { "pass1" }, one.PassFunctions);
        var rnv = one.Buffers.Single(b => b.Name == "RNV");
        Assert.Equal(new long[] { 2, 8, 8 }, rnv.Extents);
        Assert.Equal(new long[] { 256 / 64 + 1, 8, 8 }, rnv.FullExtents);
        Assert.Equal(new long[] { 1, 64, 8 }, one.Buffers.Single(b => b.Name == "BQK").Extents);
        var bigger = HlsEmitter.Emit(Specs.Load("attention.fusemax"), Specs.Sizes(("P", 8), ("M", 1024), ("E", 8), ("F", 8)));
        Assert.Equal(one.Buffers.Where(b => b.Name is not ("BK" or "BV")).Sum(b => b.Elements), bigger.Buffers.Where(b => b.Name is not ("BK" or "BV")).Sum(b => b.Elements));
    }

    private static (int Exit, string Out, string Err) Run(string file, string args, string dir)
    {
        var psi = new ProcessStartInfo(file, args) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            return (-1, "", "timed out");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
