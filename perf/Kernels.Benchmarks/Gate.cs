using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using BenchmarkDotNet.Reports;

namespace Kernels.Benchmarks;

/// <summary>One ratio measured in one run: a peer's or a limit's time over ours.</summary>
/// <param name="Key">"Class(parameters): ours / other", stable across runs and machines.</param>
/// <param name="Value">Above 1 (peer): ours is faster; a fraction (limit): the share of the machine's limit reached.</param>
public sealed record GateRatio(string Key, double Value);

/// <summary>A ratio against its baseline: regressed, improved or within the tolerance; new when the baseline lacks it.</summary>
public sealed record GateVerdict(string Key, double? Baseline, double Current, string Verdict);

/// <summary>
/// The performance regression gate: ratios of peers' and limits' times over ours, all from the same run, compared with
/// a committed baseline of ratios (perf/baseline.json) within a tolerance. Ratios, not times, so a baseline made on
/// one machine holds on another; a ratio that falls by more than the tolerance is a regression.
/// </summary>
public static class Gate
{
    /// <summary>The ratios of a run: for each method marked <see cref="OursAttribute"/>, each peer and limit of its class
    /// (or those it names) at the same parameters, the other's median time over ours.</summary>
    public static List<GateRatio> Ratios(IEnumerable<(Type Type, string Method, string Parameters, double Seconds)> results)
    {
        var ratios = new List<GateRatio>();
        foreach (var group in results.GroupBy(r => (r.Type, r.Parameters)))
        {
            var times = group.ToDictionary(r => r.Method, r => r.Seconds);
            foreach (var (method, seconds) in times)
            {
                if (group.Key.Type.GetMethod(method)?.GetCustomAttribute<OursAttribute>() is not { } ours) continue;
                foreach (var (other, otherSeconds) in times)
                {
                    var m = group.Key.Type.GetMethod(other);
                    var role = m?.GetCustomAttribute<PeerAttribute>() is not null || m?.GetCustomAttribute<LimitAttribute>() is not null;
                    if (!role || (ours.Versus.Length > 0 && !ours.Versus.Contains(other))) continue;
                    var parameters = group.Key.Parameters.Length > 0 ? "(" + group.Key.Parameters + ")" : "";
                    ratios.Add(new GateRatio($"{group.Key.Type.Name}{parameters}: {method} / {other}", otherSeconds / seconds));
                }
            }
        }
        return ratios.OrderBy(r => r.Key, StringComparer.Ordinal).ToList();
    }

    /// <summary>The ratios of BenchmarkDotNet summaries (median times).</summary>
    public static List<GateRatio> Ratios(IEnumerable<Summary> summaries) =>
        Ratios(summaries.SelectMany(s => s.Reports).Where(r => r.ResultStatistics is not null).Select(r => (
            r.BenchmarkCase.Descriptor.Type,
            r.BenchmarkCase.Descriptor.WorkloadMethod.Name,
            string.Join(", ", r.BenchmarkCase.Parameters.Items.Select(p => $"{p.Name}={Convert.ToString(p.Value, CultureInfo.InvariantCulture)}")),
            r.ResultStatistics!.Median / 1e9)));

    /// <summary>Each ratio against the baseline: "regressed" when it fell below baseline * (1 - tolerance), "improved"
    /// above baseline * (1 + tolerance), "new" without a baseline, else "ok".</summary>
    public static List<GateVerdict> Compare(IReadOnlyDictionary<string, double> baseline, IEnumerable<GateRatio> current, double tolerance) =>
        current.Select(r => baseline.TryGetValue(r.Key, out var b)
            ? new GateVerdict(r.Key, b, r.Value, r.Value < b * (1 - tolerance) ? "regressed" : r.Value > b * (1 + tolerance) ? "improved" : "ok")
            : new GateVerdict(r.Key, null, r.Value, "new")).ToList();

    public static (Dictionary<string, double> Ratios, double Tolerance) Load(string path)
    {
        if (!File.Exists(path)) return (new Dictionary<string, double>(StringComparer.Ordinal), 0.25);
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var ratios = root["ratios"]!.AsObject().ToDictionary(p => p.Key, p => p.Value!.GetValue<double>(), StringComparer.Ordinal);
        return (ratios, root["tolerance"]?.GetValue<double>() ?? 0.25);
    }

    /// <summary>Writes the baseline: the old ratios with the measured ones replacing or joining them.</summary>
    public static void Save(string path, IReadOnlyDictionary<string, double> old, IEnumerable<GateRatio> measured, double tolerance, string machine)
    {
        var merged = new SortedDictionary<string, double>(old.ToDictionary(p => p.Key, p => p.Value), StringComparer.Ordinal);
        foreach (var r in measured) merged[r.Key] = Math.Round(r.Value, 3);
        var root = new JsonObject
        {
            ["comment"] = "Ratios of a peer's or a limit's median time over ours, measured in one run (perf/README.md). Regenerate with: dotnet run -c Release --project perf/Kernels.Benchmarks -- gate --update",
            ["machine"] = machine,
            ["tolerance"] = tolerance,
            ["ratios"] = new JsonObject(merged.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)JsonValue.Create(p.Value)))),
        };
        File.WriteAllText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n");
    }

    /// <summary>The table of verdicts, regressions first; returns the number of regressions.</summary>
    public static int Report(IReadOnlyList<GateVerdict> verdicts, double tolerance, TextWriter output)
    {
        var width = Math.Max(10, verdicts.Select(v => v.Key.Length).DefaultIfEmpty(0).Max());
        output.WriteLine($"{"ratio".PadRight(width)}  {"baseline",8}  {"now",8}  verdict (tolerance {tolerance:P0})");
        foreach (var v in verdicts.OrderBy(v => v.Verdict switch { "regressed" => 0, "improved" => 1, "new" => 2, _ => 3 }).ThenBy(v => v.Key, StringComparer.Ordinal))
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{v.Key.PadRight(width)}  {(v.Baseline is { } b ? b.ToString("F3", CultureInfo.InvariantCulture) : "-"),8}  {v.Current,8:F3}  {v.Verdict}"));
        var regressions = verdicts.Count(v => v.Verdict == "regressed");
        output.WriteLine($"{regressions} regressed, {verdicts.Count(v => v.Verdict == "improved")} improved, {verdicts.Count(v => v.Verdict == "ok")} within the tolerance, {verdicts.Count(v => v.Verdict == "new")} new.");
        return regressions;
    }
}
