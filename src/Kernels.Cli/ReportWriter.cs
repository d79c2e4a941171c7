using System.Globalization;
using System.Text.Json;
using Kernels.Einsum.Analysis;

namespace Kernels.Cli;

/// <summary>Renders a <see cref="CascadeReport"/> as aligned tables or as JSON with stable field names.</summary>
internal static class ReportWriter
{
    public static void WriteTable(CascadeReport report, TextWriter w)
    {
        w.WriteLine($"kernel {report.Kernel}");
        if (report.Sizes is { } sizes)
            w.WriteLine("sizes  " + string.Join(", ", sizes.Select(p => $"{p.Key}={p.Value}")));
        w.WriteLine();
        w.WriteLine("passes");
        Table(w, new[] { "rank", "passes", "outer ranks", "fusion groups (pass: einsums)" },
            report.Passes.Select(p => new[]
            {
                p.Rank + (p.DerivedRanks.Count > 1 ? $" ({string.Join(",", p.DerivedRanks)})" : ""),
                p.Passes.ToString(CultureInfo.InvariantCulture),
                p.OuterRanks.Count == 0 ? "-" : string.Join(",", p.OuterRanks),
                string.Join("  ", p.Groups.Select(g => $"{g.Pass + 1}: {string.Join(",", g.Einsums.Select(id => report.Einsums.First(e => e.Id == id).Output))}")),
            }));
        w.WriteLine();
        w.WriteLine("live footprint per outer index");
        Table(w, new[] { "rank", "pass", "elements", "value", "live tensors" },
            report.Passes.SelectMany(p => p.Groups.Select(g => new[]
            {
                p.Rank, (g.Pass + 1).ToString(CultureInfo.InvariantCulture), g.Footprint.ToString(), Number(g.FootprintValue), string.Join(",", g.LiveTensors),
            })));
        w.WriteLine();
        w.WriteLine("tensors");
        Table(w, new[] { "name", "role", "type", "ranks", "extents" },
            report.Tensors.Select(t => new[] { t.Name, t.Role, t.ElementType, "[" + string.Join(",", t.Dims) + "]", t.Extents is null ? "-" : "[" + string.Join(",", t.Extents) + "]" }));
        w.WriteLine();
        w.WriteLine("einsums");
        Table(w, new[] { "#", "output", "kind", "pass", "flops", "bytes", "einsum" },
            report.Einsums.Select(e => new[]
            {
                e.Id.ToString(CultureInfo.InvariantCulture), e.Output, e.Kind + (e.Reduction is null ? "" : $" {e.Reduction}[{string.Join(",", e.ReducedRanks)}]"),
                e.PassIndex.Count == 0 ? "-" : string.Join(",", e.PassIndex.Select(p => $"{p.Key}:{p.Value + 1}")),
                e.FlopsValue is { } f ? Number(f) : e.Flops.ToString(),
                e.BytesValue is { } b ? Number(b) : e.Bytes.ToString(),
                e.Text.Split('#')[0].Trim(),
            }));
        w.WriteLine();
    }

    private static string Number(double? v) => v is null ? "-" : v.Value >= 1e6 ? v.Value.ToString("0.###e0", CultureInfo.InvariantCulture) : v.Value.ToString("0.##", CultureInfo.InvariantCulture);

    private static void Table(TextWriter w, string[] header, IEnumerable<string[]> rows)
    {
        var all = new List<string[]> { header };
        all.AddRange(rows);
        var widths = header.Select((_, i) => all.Max(r => r[i].Length)).ToArray();
        for (var r = 0; r < all.Count; r++)
        {
            w.WriteLine("  " + string.Join("  ", all[r].Select((c, i) => i == all[r].Length - 1 ? c : c.PadRight(widths[i]))).TrimEnd());
            if (r == 0) w.WriteLine("  " + string.Join("  ", widths.Select(x => new string('-', x))));
        }
    }

    public static void WriteJson(IReadOnlyList<CascadeReport> reports, TextWriter w)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            if (reports.Count != 1) json.WriteStartArray();
            foreach (var r in reports) WriteReport(r, json);
            if (reports.Count != 1) json.WriteEndArray();
        }
        w.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static void WriteReport(CascadeReport r, Utf8JsonWriter j)
    {
        j.WriteStartObject();
        j.WriteString("kernel", r.Kernel);
        if (r.Sizes is { } sizes)
        {
            j.WriteStartObject("sizes");
            foreach (var p in sizes) j.WriteNumber(p.Key, p.Value);
            j.WriteEndObject();
        }
        j.WriteStartObject("passes");
        foreach (var p in r.Passes) j.WriteNumber(p.Rank, p.Passes);
        j.WriteEndObject();

        j.WriteStartArray("fusionGroups");
        foreach (var p in r.Passes)
            foreach (var g in p.Groups)
            {
                j.WriteStartObject();
                j.WriteString("rank", p.Rank);
                j.WriteNumber("pass", g.Pass + 1);
                Strings(j, "einsums", g.Einsums.Select(id => r.Einsums.First(e => e.Id == id).Output));
                Strings(j, "outerRanks", p.OuterRanks);
                Strings(j, "liveTensors", g.LiveTensors);
                j.WriteString("footprint", g.Footprint.ToString());
                if (g.FootprintValue is { } fv) j.WriteNumber("footprintElements", fv);
                j.WriteEndObject();
            }
        j.WriteEndArray();

        j.WriteStartArray("tensors");
        foreach (var t in r.Tensors)
        {
            j.WriteStartObject();
            j.WriteString("name", t.Name);
            j.WriteString("role", t.Role);
            j.WriteString("elementType", t.ElementType);
            Strings(j, "ranks", t.Dims);
            if (t.Extents is { } ex)
            {
                j.WriteStartArray("extents");
                foreach (var x in ex) j.WriteNumberValue(x);
                j.WriteEndArray();
            }
            j.WriteEndObject();
        }
        j.WriteEndArray();

        j.WriteStartArray("einsums");
        foreach (var e in r.Einsums)
        {
            j.WriteStartObject();
            j.WriteNumber("id", e.Id);
            j.WriteString("output", e.Output);
            j.WriteString("text", e.Text);
            j.WriteString("kind", e.Kind);
            if (e.Reduction is not null) j.WriteString("reduction", e.Reduction);
            Strings(j, "ranks", e.Ranks);
            Strings(j, "reducedRanks", e.ReducedRanks);
            Strings(j, "filters", e.Filters);
            if (e.IterativeRank is not null) j.WriteString("iterativeRank", e.IterativeRank);
            Strings(j, "reads", e.Reads);
            j.WriteStartObject("pass");
            foreach (var p in e.PassIndex) j.WriteNumber(p.Key, p.Value + 1);
            j.WriteEndObject();
            j.WriteNumber("opsPerPoint", e.OperationsPerPoint);
            j.WriteString("points", e.Points.ToString());
            j.WriteString("flops", e.Flops.ToString());
            j.WriteString("bytes", e.Bytes.ToString());
            if (e.FlopsValue is { } f) j.WriteNumber("flopsValue", f);
            if (e.BytesValue is { } b) j.WriteNumber("bytesValue", b);
            j.WriteEndObject();
        }
        j.WriteEndArray();
        j.WriteEndObject();
    }

    private static void Strings(Utf8JsonWriter j, string name, IEnumerable<string> values)
    {
        j.WriteStartArray(name);
        foreach (var v in values) j.WriteStringValue(v);
        j.WriteEndArray();
    }
}
