using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Kernels.Hardware.Roofline;

namespace Kernels.Benchmarks;

/// <summary>
/// `plot`: renders the latest results (BenchmarkDotNet's full JSON reports) as SVG charts: throughput against the
/// sequence length for attention (ours, ONNX Runtime, the FMA peak) and linear attention, and a roofline whose roofs are
/// the FMA peak and copy bandwidth measured in the same runs and whose points are our kernels.
/// </summary>
public static class Plots
{
    /// <summary>One result of a report: the suite, the method, its parameters and its median time.</summary>
    public sealed record Result(Type Suite, string Method, IReadOnlyDictionary<string, string> Parameters, double Seconds);

    /// <summary>Reads every *-report-full.json under <paramref name="resultsDirectory"/> (the newest report of each suite).</summary>
    public static List<Result> Read(string resultsDirectory)
    {
        var results = new List<Result>();
        if (!Directory.Exists(resultsDirectory)) return results;
        foreach (var file in Directory.GetFiles(resultsDirectory, "*-report-full.json"))
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            foreach (var b in doc.RootElement.GetProperty("Benchmarks").EnumerateArray())
            {
                var type = typeof(Plots).Assembly.GetType(b.GetProperty("Namespace").GetString() + "." + b.GetProperty("Type").GetString());
                if (type is null || !b.TryGetProperty("Statistics", out var stats) || stats.ValueKind != JsonValueKind.Object) continue;
                var parameters = (b.GetProperty("Parameters").GetString() ?? "").Split('&', StringSplitOptions.RemoveEmptyEntries)
                    .Select(p => p.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
                results.Add(new Result(type, b.GetProperty("Method").GetString()!, parameters, stats.GetProperty("Median").GetDouble() / 1e9));
            }
        }
        return results;
    }

    /// <summary>Writes the charts into <paramref name="outputDirectory"/>; returns the files written.</summary>
    public static List<string> Write(IReadOnlyList<Result> results, string outputDirectory)
    {
        Directory.CreateDirectory(outputDirectory);
        var written = new List<string>();
        void Save(string name, string svg)
        {
            var path = Path.Combine(outputDirectory, name);
            File.WriteAllText(path, svg);
            written.Add(path);
        }
        foreach (var (suite, file, title) in new[]
        {
            (typeof(AttentionBenchmarks), "attention-throughput.svg", "Attention, B=1 H=8 D=64: throughput against length"),
            (typeof(LinearAttentionBenchmarks), "linear-attention-throughput.svg", "Causal linear attention, D=F=64: throughput against length"),
        })
        {
            var series = Throughput(results.Where(r => r.Suite == suite).ToList(), "Length");
            if (series.Count > 0) Save(file, Measure.Charts.Lines(title, "sequence length", "GFLOP/s", series));
        }
        if (Roofline(results) is { } roofline) Save("roofline.svg", Measure.Charts.Roofline(roofline));
        return written;
    }

    /// <summary>GFLOP/s of each method of a suite against one of its parameters (the suite's own FLOP count).</summary>
    private static List<Measure.ChartSeries> Throughput(IReadOnlyList<Result> results, string parameter) =>
        results.GroupBy(r => r.Method).Select(g =>
        {
            var points = g.Where(r => r.Parameters.ContainsKey(parameter)).Select(r => (X: double.Parse(r.Parameters[parameter], CultureInfo.InvariantCulture), Y: Work(r)!.Flops / r.Seconds / 1e9))
                .OrderBy(p => p.X).ToList();
            return new Measure.ChartSeries(Description(g.First().Suite, g.Key), points.Select(p => p.X).ToList(), points.Select(p => p.Y).ToList());
        }).Where(s => s.X.Count > 0).ToList();

    /// <summary>The machine's roofs from the limits measured (the best FMA peak and copy bandwidth), our kernels as points.</summary>
    private static RooflineData? Roofline(IReadOnlyList<Result> results)
    {
        var limits = results.Where(r => Role<LimitAttribute>(r) && Work(r) is not null).ToList();
        var peak = limits.Where(r => r.Method == "Peak").Select(r => Work(r)!.Flops / r.Seconds).DefaultIfEmpty(0).Max();
        // A copy limit moves the suite's bytes (reads and writes as many as the kernel must).
        var bandwidth = limits.Where(r => r.Method == "Copy").Select(r => Work(r)!.Bytes / r.Seconds).DefaultIfEmpty(0).Max();
        if (peak <= 0 || bandwidth <= 0) return null;
        var points = results.Where(r => Role<OursAttribute>(r) && Work(r) is { } w && w.Bytes > 0).Select(r =>
        {
            var w = Work(r)!;
            var label = r.Suite.Name.Replace("Benchmarks", "") + (r.Parameters.Count > 0 ? " " + string.Join(",", r.Parameters.Values) : "") + (r.Method == "Ours" ? "" : " " + r.Method);
            return new RooflinePoint(label, w.Flops / w.Bytes, w.Flops / r.Seconds, "this machine");
        }).ToList();
        return new RooflineData("Our kernels on this machine (roofs measured in the same runs)", new[] { new Roof("this machine", peak, bandwidth) }, points);
    }

    private static bool Role<T>(Result r) where T : Attribute => r.Suite.GetMethod(r.Method)?.GetCustomAttribute<T>() is not null;

    private static string Description(Type suite, string method) =>
        suite.GetMethod(method)?.GetCustomAttribute<BenchmarkDotNet.Attributes.BenchmarkAttribute>()?.Description ?? method;

    /// <summary>The suite's work at the result's parameters, or null when the suite does not say.</summary>
    private static IWork? Work(Result r)
    {
        if (!typeof(IWork).IsAssignableFrom(r.Suite)) return null;
        var suite = Activator.CreateInstance(r.Suite)!;
        foreach (var (name, value) in r.Parameters)
        {
            if (r.Suite.GetField(name) is { } f) f.SetValue(suite, Convert.ChangeType(value, f.FieldType, CultureInfo.InvariantCulture));
            else if (r.Suite.GetProperty(name) is { } p) p.SetValue(suite, Convert.ChangeType(value, p.PropertyType, CultureInfo.InvariantCulture));
        }
        return (IWork)suite;
    }
}
