using System.Globalization;
using System.Net;
using System.Text;
using Kernels.Einsum.Ir;
using Kernels.Hardware.Fpga;
using Kernels.Hardware.Pim;
using Kernels.Hardware.Spatial;
using Kernels.Hardware.Targets;

namespace Kernels.Hardware.Roofline;

/// <summary>A roof: peak compute (FLOP/s) and the bandwidth (bytes/s) that feeds it.</summary>
public sealed record Roof(string Name, double PeakFlops, double BytesPerSecond);

/// <summary>An Einsum on the plot: arithmetic intensity (FLOP/byte; infinite when it moves no DRAM bytes) and attained FLOP/s.</summary>
public sealed record RooflinePoint(string Label, double Intensity, double FlopsPerSecond, string Roof);

public sealed record RooflineData(string Title, IReadOnlyList<Roof> Roofs, IReadOnlyList<RooflinePoint> Points);

/// <summary>Builds the roofline of a cascade on a target and renders it as a self-contained SVG (log-log axes).</summary>
public static class RooflinePlot
{
    /// <summary>Spatial array: one roof per array (MAC = 2 FLOP per PE-cycle) under the DRAM bandwidth; each Einsum at its fused intensity and its array's rate.</summary>
    public static RooflineData ForSpatial(Cascade cascade, IReadOnlyDictionary<string, int> sizes, SpatialTarget target, double instances = 1)
    {
        var result = SpatialArrayModel.Evaluate(cascade, sizes, target, instances);
        var bound = new Dictionary<string, int>(sizes, StringComparer.Ordinal);
        foreach (var (k, v) in result.Sizes) bound.TryAdd(k, (int)v);
        var traffic = PimPlacement.EinsumTraffic(cascade, bound.Where(p => cascade.Ranks.Any(r => r.Size == p.Key && r.Kind != RankKind.PartitionOuter)).ToDictionary(p => p.Key, p => p.Value),
            target.Overlap != OverlapRule.Serial);
        var roofs = target.Arrays.Select(a => new Roof($"{target.Name} {a.Name} ({a.Rows}x{a.Columns})", 2.0 * a.Pes * target.ClockHz, target.DramBytesPerSecond)).ToList();
        var points = new List<RooflinePoint>();
        foreach (var (e, flops, bytes) in traffic)
        {
            var cost = result.Einsums.First(c => c.Id == e.Id);
            if (cost.Array is null || cost.Cycles == 0) continue;
            var seconds = Math.Max(cost.Cycles / target.ClockHz, bytes * instances / target.DramBytesPerSecond);
            points.Add(new RooflinePoint(e.Output.Name, bytes == 0 ? double.PositiveInfinity : flops / bytes, flops * instances / seconds,
                roofs[target.Arrays.ToList().FindIndex(a => a.Name == cost.Array)].Name));
        }
        return new RooflineData($"{cascade.Name} on {target.Name}", roofs, points);
    }

    /// <summary>PIM: the three processors' roofs; each Einsum on the target it was placed on.</summary>
    public static RooflineData ForPim(Cascade cascade, IReadOnlyDictionary<string, int> sizes, double instances = 1, bool fused = true)
    {
        var placed = PimPlacement.Place(cascade, sizes, instances, fused);
        var roofs = placed.Targets.Select(t => new Roof(t.Name, t.PeakFlops, t.BytesPerSecond)).ToList();
        var points = placed.Einsums.Select(p => new RooflinePoint(p.Output, p.Intensity, p.Flops / p.Seconds, p.Target)).ToList();
        return new RooflineData($"{cascade.Name} placed across xPU and PIM", roofs, points);
    }

    /// <summary>FPGA: the DSPs the design uses (2 FLOP per DSP-cycle) under the device's DRAM bandwidth.</summary>
    public static RooflineData ForFpga(Cascade cascade, IReadOnlyDictionary<string, int> sizes, int reuseFactor = 1, FpgaDevice? device = null)
    {
        var estimate = HlsEstimator.Estimate(cascade, sizes, reuseFactor, device: device);
        var traffic = PimPlacement.EinsumTraffic(cascade, sizes, fused: true);
        var roof = new Roof($"{estimate.Device.Name} ({estimate.Dsp} DSP used)", 2.0 * Math.Max(1, estimate.Dsp) * estimate.Device.ClockHz, estimate.Device.DramBytesPerSecond);
        var points = new List<RooflinePoint>();
        foreach (var (e, flops, bytes) in traffic)
        {
            var est = estimate.Einsums.FirstOrDefault(x => x.Output == e.Output.Name && x.LatencyCycles > 0);
            if (est is null) continue;
            var seconds = Math.Max(est.LatencyCycles / estimate.Device.ClockHz, bytes / estimate.Device.DramBytesPerSecond);
            points.Add(new RooflinePoint(e.Output.Name, bytes == 0 ? double.PositiveInfinity : flops / bytes, flops / seconds, roof.Name));
        }
        return new RooflineData($"{cascade.Name} on FPGA, RF={reuseFactor}", new[] { roof }, points);
    }

    private static readonly string[] Colors = { "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b" };

    /// <summary>Renders the plot. Einsums that move no DRAM bytes (everything stays on chip) are drawn at the right edge, marked "on chip".</summary>
    public static string ToSvg(RooflineData data)
    {
        const double Width = 760, Height = 480, Left = 80, Right = 200, Top = 40, Bottom = 60;
        var finite = data.Points.Where(p => double.IsFinite(p.Intensity) && p.Intensity > 0).Select(p => p.Intensity).ToList();
        var xMin = Math.Pow(10, Math.Floor(Math.Log10(Math.Min(0.1, finite.DefaultIfEmpty(1).Min()))));
        var xMax = Math.Pow(10, Math.Ceiling(Math.Log10(Math.Max(1e3, finite.DefaultIfEmpty(1).Max() * 10))));
        var yMax = Math.Pow(10, Math.Ceiling(Math.Log10(data.Roofs.Max(r => r.PeakFlops) * 2)));
        var positives = data.Points.Where(p => p.FlopsPerSecond > 0).Select(p => p.FlopsPerSecond).ToList();
        var yMin = Math.Pow(10, Math.Floor(Math.Log10(Math.Min(data.Roofs.Min(r => r.BytesPerSecond * xMin), positives.DefaultIfEmpty(yMax).Min()))));
        double X(double v) => Left + (Math.Log10(v) - Math.Log10(xMin)) / (Math.Log10(xMax) - Math.Log10(xMin)) * (Width - Left - Right);
        double Y(double v) => Height - Bottom - (Math.Log10(Math.Max(v, yMin)) - Math.Log10(yMin)) / (Math.Log10(yMax) - Math.Log10(yMin)) * (Height - Top - Bottom);
        string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
        string E(string s) => WebUtility.HtmlEncode(s);

        var w = new StringBuilder();
        w.AppendLine($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{F(Width)}\" height=\"{F(Height)}\" viewBox=\"0 0 {F(Width)} {F(Height)}\" font-family=\"sans-serif\" font-size=\"11\">");
        w.AppendLine($"  <title>{E(data.Title)}</title>");
        w.AppendLine($"  <rect width=\"{F(Width)}\" height=\"{F(Height)}\" fill=\"white\"/>");
        w.AppendLine($"  <text x=\"{F(Left)}\" y=\"22\" font-size=\"14\">{E(data.Title)}</text>");
        w.AppendLine($"  <g class=\"axes\" stroke=\"#888\" stroke-width=\"1\">");
        for (var d = Math.Log10(xMin); d <= Math.Log10(xMax) + 1e-9; d++)
            w.AppendLine($"    <line x1=\"{F(X(Math.Pow(10, d)))}\" y1=\"{F(Top)}\" x2=\"{F(X(Math.Pow(10, d)))}\" y2=\"{F(Height - Bottom)}\" stroke=\"#eee\"/><text x=\"{F(X(Math.Pow(10, d)))}\" y=\"{F(Height - Bottom + 16)}\" text-anchor=\"middle\" stroke=\"none\">1e{d:0}</text>");
        for (var d = Math.Log10(yMin); d <= Math.Log10(yMax) + 1e-9; d++)
            w.AppendLine($"    <line x1=\"{F(Left)}\" y1=\"{F(Y(Math.Pow(10, d)))}\" x2=\"{F(Width - Right)}\" y2=\"{F(Y(Math.Pow(10, d)))}\" stroke=\"#eee\"/><text x=\"{F(Left - 6)}\" y=\"{F(Y(Math.Pow(10, d)) + 4)}\" text-anchor=\"end\" stroke=\"none\">1e{d:0}</text>");
        w.AppendLine($"    <rect x=\"{F(Left)}\" y=\"{F(Top)}\" width=\"{F(Width - Left - Right)}\" height=\"{F(Height - Top - Bottom)}\" fill=\"none\"/>");
        w.AppendLine("  </g>");
        w.AppendLine($"  <text x=\"{F((Left + Width - Right) / 2)}\" y=\"{F(Height - 18)}\" text-anchor=\"middle\">arithmetic intensity (FLOP/byte)</text>");
        w.AppendLine($"  <text transform=\"translate(18 {F((Top + Height - Bottom) / 2)}) rotate(-90)\" text-anchor=\"middle\">attained FLOP/s</text>");
        for (var i = 0; i < data.Roofs.Count; i++)
        {
            var r = data.Roofs[i];
            var ridge = r.PeakFlops / r.BytesPerSecond;
            var color = Colors[i % Colors.Length];
            var x0 = xMin;
            w.AppendLine($"  <polyline class=\"roof\" data-name=\"{E(r.Name)}\" data-peak=\"{r.PeakFlops.ToString("R", CultureInfo.InvariantCulture)}\" data-bandwidth=\"{r.BytesPerSecond.ToString("R", CultureInfo.InvariantCulture)}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{F(X(x0))},{F(Y(r.BytesPerSecond * x0))} {F(X(Math.Min(ridge, xMax)))},{F(Y(Math.Min(r.PeakFlops, r.BytesPerSecond * xMax)))} {F(X(xMax))},{F(Y(r.PeakFlops))}\"/>");
            w.AppendLine($"  <text x=\"{F(Width - Right + 8)}\" y=\"{F(Top + 14 + 16 * i)}\" fill=\"{color}\">{E(r.Name)}</text>");
        }
        foreach (var p in data.Points)
        {
            var i = Math.Max(0, data.Roofs.ToList().FindIndex(r => r.Name == p.Roof));
            var onChip = !double.IsFinite(p.Intensity);
            var x = X(onChip ? xMax : Math.Max(p.Intensity, xMin));
            var y = Y(p.FlopsPerSecond);
            w.AppendLine($"  <g class=\"einsum\" data-name=\"{E(p.Label)}\" data-intensity=\"{(onChip ? "inf" : p.Intensity.ToString("R", CultureInfo.InvariantCulture))}\" data-flops=\"{p.FlopsPerSecond.ToString("R", CultureInfo.InvariantCulture)}\" data-roof=\"{E(p.Roof)}\">");
            w.AppendLine($"    <circle cx=\"{F(x)}\" cy=\"{F(y)}\" r=\"4\" fill=\"{Colors[i % Colors.Length]}\"/><text x=\"{F(x + 6)}\" y=\"{F(y - 4)}\">{E(p.Label)}{(onChip ? " (on chip)" : "")}</text>");
            w.AppendLine("  </g>");
        }
        w.AppendLine("</svg>");
        return w.ToString();
    }
}
