using System.Diagnostics;
using System.Globalization;
using System.Text;
using Kernels.Hardware.Fpga;

namespace Kernels.Hardware.Tests;

/// <summary>
/// The C simulation of an emitted HLS design: the design and its generated test bench compiled with g++ (warnings are
/// failures), run on the given inputs, and its outputs read back. Shared by the spec tests here and the random-cascade
/// tests of Kernels.Generators.Tests (linked there).
/// </summary>
public static class HlsSimulation
{
    public const string Compiler = "g++";

    /// <summary>Compiles and runs <paramref name="design"/>; returns each output by name, or throws with g++'s or the program's message.</summary>
    public static Dictionary<string, double[]> Run(HlsDesign design, IReadOnlyDictionary<string, double[]> inputs)
    {
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

            var (cc, _, ccErr) = Exec(Compiler, "-std=c++17 -O1 -Wall -Wno-unknown-pragmas -Wno-unused-label -o sim main.cpp", dir);
            if (cc != 0 || ccErr.Contains("warning", StringComparison.Ordinal))
                throw new InvalidOperationException($"g++ {(cc != 0 ? "failed" : "warned")}:\n{ccErr}\n{design.Code}");
            var (rc, stdout, err) = Exec(Path.Combine(dir, "sim"), "inputs.txt", dir);
            if (rc != 0) throw new InvalidOperationException($"the simulation exited with {rc}: {err}");

            var outputs = new Dictionary<string, double[]>(StringComparer.Ordinal);
            var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var i = 0;
            foreach (var t in design.Outputs)
            {
                var header = lines[i++].Split(' ');
                if (header[0] != t.Name) throw new InvalidOperationException($"expected output {t.Name}, the simulation printed {header[0]}");
                var values = new double[int.Parse(header[1], CultureInfo.InvariantCulture)];
                for (var k = 0; k < values.Length; k++) values[k] = Number(lines[i++]);
                outputs[t.Name] = values;
            }
            return outputs;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The first element that differs by more than <paramref name="tolerance"/> x max(1, |reference|), or null.
    /// NaN must meet NaN and an infinity the same infinity.</summary>
    public static string? Compare(IReadOnlyDictionary<string, double[]> expected, IReadOnlyDictionary<string, double[]> actual, double tolerance)
    {
        foreach (var (name, reference) in expected)
        {
            if (!actual.TryGetValue(name, out var got)) return $"{name}: no output";
            if (got.Length != reference.Length) return $"{name}: {got.Length} elements, the interpreter has {reference.Length}";
            for (var k = 0; k < reference.Length; k++)
            {
                var (r, a) = (reference[k], got[k]);
                var ok = double.IsNaN(r) ? double.IsNaN(a) : double.IsInfinity(r) ? a == r : Math.Abs(a - r) <= tolerance * Math.Max(1, Math.Abs(r));
                if (!ok) return $"{name}[{k}]: C simulation {a:R}, interpreter {r:R}";
            }
        }
        return null;
    }

    private static (int Exit, string Out, string Err) Exec(string file, string args, string dir)
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

    /// <summary>A number as C's printf writes it: a decimal, or inf, -inf and nan (a max over an empty fiber is -inf).</summary>
    private static double Number(string text) => text.Trim() switch
    {
        "inf" or "+inf" => double.PositiveInfinity,
        "-inf" => double.NegativeInfinity,
        "nan" or "-nan" or "+nan" => double.NaN,
        var t => double.Parse(t, CultureInfo.InvariantCulture),
    };
}
