using System.Globalization;
using Kernels.Hardware.Roofline;
using Kernels.Hardware.Spatial;
using ScottPlot;

namespace Kernels.Measure;

/// <summary>A line of a chart: its name and its points.</summary>
public sealed record ChartSeries(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y);

/// <summary>
/// SVG charts drawn with ScottPlot: throughput against a size (log-log), and rooflines (the roofs of a target, and
/// Einsums or kernels at their arithmetic intensity and attained rate). Log axes are drawn as ScottPlot does them: the
/// data in log10, ticks at the powers of ten, labelled with their values.
/// </summary>
public static class Charts
{
    public const int Width = 800, Height = 500;

    /// <summary>Lines of throughput (or any positive quantity) against a positive size, both axes logarithmic.</summary>
    public static string Lines(string title, string xLabel, string yLabel, IEnumerable<ChartSeries> series)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var i = 0;
        foreach (var s in series)
        {
            var points = s.X.Zip(s.Y).Where(p => p.First > 0 && p.Second > 0).ToList();
            if (points.Count == 0) continue;
            var line = plot.Add.Scatter(points.Select(p => Math.Log10(p.First)).ToArray(), points.Select(p => Math.Log10(p.Second)).ToArray(), palette.GetColor(i++));
            line.LegendText = s.Name;
            line.LineWidth = 2;
            line.MarkerSize = 7;
        }
        Finish(plot, title, xLabel, yLabel);
        return plot.GetSvgXml(Width, Height);
    }

    /// <summary>
    /// A roofline: each roof as min(peak, bandwidth x intensity) across the plotted intensities, each point at its
    /// intensity and rate in its roof's colour, labelled. Points that move no DRAM bytes (infinite intensity) sit at
    /// the right edge, marked "on chip".
    /// </summary>
    public static string Roofline(RooflineData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var finite = data.Points.Where(p => double.IsFinite(p.Intensity) && p.Intensity > 0).Select(p => p.Intensity).ToList();
        var xMin = Math.Floor(Math.Log10(Math.Min(0.1, finite.DefaultIfEmpty(1).Min())));
        var xMax = Math.Ceiling(Math.Log10(Math.Max(1e3, finite.DefaultIfEmpty(1).Max() * 10)));
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (var r = 0; r < data.Roofs.Count; r++)
        {
            var roof = data.Roofs[r];
            var ridge = Math.Log10(roof.PeakFlops / roof.BytesPerSecond);
            var xs = new[] { xMin, Math.Clamp(ridge, xMin, xMax), xMax };
            var line = plot.Add.Scatter(xs, xs.Select(x => Math.Log10(Math.Min(roof.PeakFlops, roof.BytesPerSecond * Math.Pow(10, x)))).ToArray(), palette.GetColor(r));
            line.LegendText = roof.Name;
            line.LineWidth = 2;
            line.MarkerSize = 0;
        }
        foreach (var p in data.Points.Where(p => p.FlopsPerSecond > 0))
        {
            var r = Math.Max(0, data.Roofs.ToList().FindIndex(x => x.Name == p.Roof));
            var onChip = !double.IsFinite(p.Intensity);
            var x = onChip ? xMax : Math.Log10(Math.Max(p.Intensity, Math.Pow(10, xMin)));
            var y = Math.Log10(p.FlopsPerSecond);
            var marker = plot.Add.Marker(x, y);
            marker.Color = palette.GetColor(r);
            marker.Size = 9;
            var label = plot.Add.Text(p.Label + (onChip ? " (on chip)" : ""), x, y);
            label.LabelFontSize = 11;
            label.LabelOffsetX = 6;
            label.LabelOffsetY = -6;
        }
        plot.Axes.AutoScale();
        plot.Axes.SetLimitsX(xMin, xMax + 0.3);
        Finish(plot, data.Title, "arithmetic intensity (FLOP/byte)", "attained FLOP/s", fixedX: true);
        return plot.GetSvgXml(Width, Height);
    }

    /// <summary>
    /// A design-space sweep: every combination at its latency and energy (log-log), coloured by array width; the
    /// latency / energy / area Pareto front drawn larger and labelled with its array and buffer.
    /// </summary>
    public static string Pareto(SweepResult sweep)
    {
        ArgumentNullException.ThrowIfNull(sweep);
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var widths = sweep.Grid.ArrayWidths.ToList();
        foreach (var width in widths)
        {
            var points = sweep.Points.Where(p => p.ArrayWidth == width).ToList();
            var color = palette.GetColor(widths.IndexOf(width));
            var series = plot.Add.ScatterPoints(points.Select(p => Math.Log10(p.LatencySeconds)).ToArray(), points.Select(p => Math.Log10(p.EnergyPj * 1e-12)).ToArray(), color);
            series.LegendText = $"{width}x{width} array";
            series.MarkerSize = 6;
            foreach (var p in points.Where(p => p.Pareto))
            {
                var marker = plot.Add.Marker(Math.Log10(p.LatencySeconds), Math.Log10(p.EnergyPj * 1e-12));
                marker.Color = color;
                marker.Size = 12;
                var label = plot.Add.Text($"{width}x{width} {DesignSweep.FormatBytes(p.BufferBytes)}", Math.Log10(p.LatencySeconds), Math.Log10(p.EnergyPj * 1e-12));
                label.LabelFontSize = 10;
                label.LabelOffsetX = 6;
                label.LabelOffsetY = -6;
            }
        }
        Finish(plot, $"{sweep.Kernel} on {sweep.Target}: sweep (large markers: latency / energy / area Pareto front)", "latency (s)", "energy (J)");
        return plot.GetSvgXml(Width, Height);
    }

    private static void Finish(Plot plot, string title, string xLabel, string yLabel, bool fixedX = false)
    {
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        if (!fixedX) plot.Axes.AutoScale();
        var limits = plot.Axes.GetLimits();
        plot.Axes.Bottom.TickGenerator = LogTicks(limits.Left, limits.Right);
        plot.Axes.Left.TickGenerator = LogTicks(limits.Bottom, limits.Top);
        plot.ShowLegend(Alignment.LowerRight);
    }

    /// <summary>Ticks for a log10 axis from <paramref name="low"/> to <paramref name="high"/>: the powers of ten, and 2 and
    /// 5 times them, or every integer multiple where the range spans less than a factor of ten.</summary>
    private static ScottPlot.TickGenerators.NumericManual LogTicks(double low, double high)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        var span = high - low;
        int[] multiples = span > 3 ? new[] { 1 } : span > 1 ? new[] { 1, 2, 5 } : new[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
        for (var e = (int)Math.Floor(low) - 1; e <= (int)Math.Ceiling(high); e++)
            foreach (var m in multiples)
            {
                var at = Math.Log10(m) + e;
                if (at >= low && at <= high) ticks.AddMajor(at, Value(m * Math.Pow(10, e)));
            }
        return ticks;
    }

    /// <summary>A tick's value in engineering form: 0.5, 20, 1k, 200M, 1G.</summary>
    private static string Value(double value)
    {
        string[] suffixes = { "", "k", "M", "G", "T", "P", "E" };
        if (value < 1000) return value.ToString("0.###", CultureInfo.InvariantCulture);
        var group = Math.Min(suffixes.Length - 1, (int)Math.Floor(Math.Log10(value) / 3 + 1e-9));
        return (value / Math.Pow(1000, group)).ToString("0.##", CultureInfo.InvariantCulture) + suffixes[group];
    }
}
