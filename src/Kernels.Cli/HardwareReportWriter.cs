using System.Globalization;
using System.Text;
using System.Text.Json;
using Kernels.Hardware.Fpga;
using Kernels.Hardware.Pim;
using Kernels.Hardware.Spatial;
using Kernels.Hardware.Workloads;

namespace Kernels.Cli;

/// <summary>Tables and JSON (stable camelCase field names) for the hardware models.</summary>
internal static class HardwareReportWriter
{
    private static string N(double v) => double.IsPositiveInfinity(v) ? "inf"
        : Math.Abs(v) >= 1e5 || (v != 0 && Math.Abs(v) < 1e-3) ? v.ToString("0.###e0", CultureInfo.InvariantCulture) : v.ToString("0.###", CultureInfo.InvariantCulture);

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

    private static void Json(TextWriter w, Action<Utf8JsonWriter> body)
    {
        using var stream = new MemoryStream();
        using (var j = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true })) body(j);
        w.WriteLine(Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static void Number(Utf8JsonWriter j, string name, double v)
    {
        if (double.IsFinite(v)) j.WriteNumber(name, v);
        else j.WriteNull(name);
    }

    public static void WriteSpatial(SpatialResult r, TextWriter w)
    {
        w.WriteLine($"kernel {r.Kernel} on {r.Target}");
        w.WriteLine($"sizes  {string.Join(", ", r.Sizes.Select(p => $"{p.Key}={p.Value}"))}; instances {N(r.Instances)}");
        w.WriteLine();
        w.WriteLine($"latency      {N(r.LatencySeconds)} s ({(r.MemoryBound ? "memory" : "compute")} bound: compute {N(r.ComputeSeconds)} s, memory {N(r.MemorySeconds)} s)");
        w.WriteLine($"utilisation  2D {r.Util2D:0.000}, 1D {r.Util1D:0.000}");
        w.WriteLine($"DRAM         {N(r.DramBytes)} bytes; query tile {r.Traffic.QueryTile} rows x {r.Traffic.QueryTiles}; buffer {N(r.Traffic.FootprintBytes)} bytes" +
            (r.Traffic.Spilled ? $"; spilled {string.Join(",", r.Traffic.SpilledTensors)}" : ""));
        w.WriteLine($"energy       {N(r.EnergyPj * 1e-12)} J ({string.Join(", ", r.EnergyPjByAction.Where(p => p.Value > 0).OrderByDescending(p => p.Value).Select(p => $"{p.Key} {p.Value / r.EnergyPj:P1}"))})");
        w.WriteLine();
        w.WriteLine("schedule");
        Table(w, new[] { "phase", "2D einsums", "1D einsums", "2D cycles", "1D cycles" },
            r.Phases.Select(p => new[] { p.Name, string.Join(",", p.TwoD), string.Join(",", p.OneD), N(p.Cycles2D), N(p.Cycles1D) }));
        w.WriteLine();
        w.WriteLine("einsums");
        Table(w, new[] { "output", "array", "points", "ops", "cycles" },
            r.Einsums.Where(e => e.Array is not null).Select(e => new[] { e.Output, e.Array!, N(e.Points), string.Join(" ", e.Ops.Select(o => $"{o.Key}:{N(o.Value)}")), N(e.Cycles) }));
    }

    public static void WriteSpatialJson(SpatialResult r, TextWriter w) => Json(w, j =>
    {
        j.WriteStartObject();
        j.WriteString("kernel", r.Kernel);
        j.WriteString("target", r.Target);
        j.WriteStartObject("sizes");
        foreach (var (k, v) in r.Sizes) j.WriteNumber(k, v);
        j.WriteEndObject();
        j.WriteNumber("instances", r.Instances);
        j.WriteNumber("latencySeconds", r.LatencySeconds);
        j.WriteNumber("computeSeconds", r.ComputeSeconds);
        j.WriteNumber("memorySeconds", r.MemorySeconds);
        j.WriteBoolean("memoryBound", r.MemoryBound);
        j.WriteNumber("cycles", r.Cycles);
        j.WriteNumber("util2d", r.Util2D);
        j.WriteNumber("util1d", r.Util1D);
        j.WriteNumber("trafficBytes", r.DramBytes);
        j.WriteNumber("queryTile", r.Traffic.QueryTile);
        j.WriteNumber("queryTiles", r.Traffic.QueryTiles);
        j.WriteNumber("bufferBytes", r.Traffic.FootprintBytes);
        j.WriteBoolean("spilled", r.Traffic.Spilled);
        j.WriteStartArray("spilledTensors");
        foreach (var t in r.Traffic.SpilledTensors) j.WriteStringValue(t);
        j.WriteEndArray();
        j.WriteNumber("energyPj", r.EnergyPj);
        j.WriteStartObject("energyPjByAction");
        foreach (var (k, v) in r.EnergyPjByAction) j.WriteNumber(k, v);
        j.WriteEndObject();
        j.WriteStartArray("phases");
        foreach (var p in r.Phases)
        {
            j.WriteStartObject();
            j.WriteString("name", p.Name);
            j.WriteStartArray("twoD");
            foreach (var n in p.TwoD) j.WriteStringValue(n);
            j.WriteEndArray();
            j.WriteStartArray("oneD");
            foreach (var n in p.OneD) j.WriteStringValue(n);
            j.WriteEndArray();
            j.WriteNumber("cycles2d", p.Cycles2D);
            j.WriteNumber("cycles1d", p.Cycles1D);
            j.WriteNumber("stallCycles", p.StallCycles);
            j.WriteNumber("seconds", p.Seconds);
            j.WriteEndObject();
        }
        j.WriteEndArray();
        j.WriteStartArray("einsums");
        foreach (var e in r.Einsums)
        {
            j.WriteStartObject();
            j.WriteNumber("id", e.Id);
            j.WriteString("output", e.Output);
            if (e.Array is null) j.WriteNull("array");
            else j.WriteString("array", e.Array);
            j.WriteNumber("points", e.Points);
            j.WriteStartObject("ops");
            foreach (var (k, v) in e.Ops) j.WriteNumber(k, v);
            j.WriteEndObject();
            j.WriteNumber("cycles", e.Cycles);
            j.WriteEndObject();
        }
        j.WriteEndArray();
        j.WriteEndObject();
    });

    public static void WritePaper(PaperTable t, TextWriter w)
    {
        w.WriteLine("FuseMax (MICRO 2024) reproduced: one-pass cascade on FuseMax vs the three-pass cascade on FLAT and unfused; batch 64.");
        w.WriteLine();
        Table(w, new[] { "model", "seq", "vs FLAT", "energy", "vs unfused", "util 2D", "util 1D", "FLAT 2D", "DRAM bytes", "e2e vs FLAT", "e2e energy", "e2e vs unfused" },
            t.Points.Select(p => new[]
            {
                p.Model, p.Seq.ToString(CultureInfo.InvariantCulture), $"{p.SpeedupVsFlat:0.00}x", $"{p.EnergyVsFlat:0.000}", $"{p.SpeedupVsUnfused:0.00}x",
                $"{p.Util2D:0.000}", $"{p.Util1D:0.000}", $"{p.FlatUtil2D:0.000}", N(p.TrafficBytes), $"{p.E2ESpeedupVsFlat:0.00}x", $"{p.E2EEnergyVsFlat:0.000}", $"{p.E2ESpeedupVsUnfused:0.00}x",
            }));
        w.WriteLine();
        Table(w, new[] { "average", "vs FLAT", "energy", "vs unfused", "e2e vs FLAT", "e2e energy", "e2e vs unfused" },
            new[] { ("model", t.Averages), ("published", t.Published) }.Select(a => new[]
            {
                a.Item1, $"{a.Item2.SpeedupVsFlat:0.00}x", $"{a.Item2.EnergyVsFlat:0.000}", $"{a.Item2.SpeedupVsUnfused:0.00}x",
                $"{a.Item2.E2ESpeedupVsFlat:0.00}x", $"{a.Item2.E2EEnergyVsFlat:0.000}", $"{a.Item2.E2ESpeedupVsUnfused:0.00}x",
            }));
        w.WriteLine();
        w.WriteLine("Ablation ladder: each step adds one of FuseMax's contributions (2D utilisation / 1D utilisation, speedup over FLAT).");
        w.WriteLine();
        var steps = FuseMaxPaper.Ladder;
        Table(w, new[] { "model", "seq" }.Concat(steps.Select(s => s.Name)).ToArray(),
            t.Points.Select(p => new[] { p.Model, p.Seq.ToString(CultureInfo.InvariantCulture) }
                .Concat(p.Ablation.Select(a => $"{a.Util2D:0.000}/{a.Util1D:0.000} {p.Flat.LatencySeconds / a.LatencySeconds:0.00}x")).ToArray()));
        w.WriteLine();
        Table(w, new[] { "step", "util 2D", "util 1D", "vs FLAT", "energy vs FLAT", "what" },
            t.Ablation.Select((a, i) => new[] { a.Name, $"{a.Util2D:0.000}", $"{a.Util1D:0.000}", $"{a.SpeedupVsFlat:0.00}x", $"{a.EnergyVsFlat:0.000}", steps[i].Description }));
    }

    public static void WritePaperJson(PaperTable t, TextWriter w) => Json(w, j =>
    {
        j.WriteStartObject();
        j.WriteStartArray("points");
        foreach (var p in t.Points)
        {
            j.WriteStartObject();
            j.WriteString("model", p.Model);
            j.WriteNumber("seq", p.Seq);
            j.WriteNumber("speedupVsFlat", p.SpeedupVsFlat);
            j.WriteNumber("energyVsFlat", p.EnergyVsFlat);
            j.WriteNumber("speedupVsUnfused", p.SpeedupVsUnfused);
            j.WriteNumber("util2d", p.Util2D);
            j.WriteNumber("util1d", p.Util1D);
            j.WriteNumber("flatUtil2d", p.FlatUtil2D);
            j.WriteNumber("trafficBytes", p.TrafficBytes);
            j.WriteNumber("e2eSpeedupVsFlat", p.E2ESpeedupVsFlat);
            j.WriteNumber("e2eEnergyVsFlat", p.E2EEnergyVsFlat);
            j.WriteNumber("e2eSpeedupVsUnfused", p.E2ESpeedupVsUnfused);
            Steps(j, "ablation", p.Ablation, a => a.Name,
                ("util2d", a => a.Util2D), ("util1d", a => a.Util1D), ("latency", a => a.LatencySeconds), ("energy", a => a.EnergyPj));
            j.WriteEndObject();
        }
        j.WriteEndArray();
        Averages(j, "averages", t.Averages);
        Averages(j, "published", t.Published);
        Steps(j, "ablationAverages", t.Ablation, a => a.Name,
            ("util2d", a => a.Util2D), ("util1d", a => a.Util1D), ("speedupVsFlat", a => a.SpeedupVsFlat), ("energyVsFlat", a => a.EnergyVsFlat));
        j.WriteEndObject();
    });

    /// <summary>An object named <paramref name="name"/> holding one object of numbers per step, keyed by the step's name.</summary>
    private static void Steps<T>(Utf8JsonWriter j, string name, IEnumerable<T> steps, Func<T, string> key, params (string Field, Func<T, double> Value)[] fields)
    {
        j.WriteStartObject(name);
        foreach (var step in steps)
        {
            j.WriteStartObject(key(step));
            foreach (var (field, value) in fields) j.WriteNumber(field, value(step));
            j.WriteEndObject();
        }
        j.WriteEndObject();
    }

    private static void Averages(Utf8JsonWriter j, string name, PaperAverages a)
    {
        j.WriteStartObject(name);
        j.WriteNumber("speedupVsFlat", a.SpeedupVsFlat);
        j.WriteNumber("energyVsFlat", a.EnergyVsFlat);
        j.WriteNumber("speedupVsUnfused", a.SpeedupVsUnfused);
        j.WriteNumber("e2eSpeedupVsFlat", a.E2ESpeedupVsFlat);
        j.WriteNumber("e2eEnergyVsFlat", a.E2EEnergyVsFlat);
        j.WriteNumber("e2eSpeedupVsUnfused", a.E2ESpeedupVsUnfused);
        j.WriteEndObject();
    }

    public static void WriteSweep(SweepResult s, TextWriter w)
    {
        w.WriteLine($"kernel {s.Kernel} on {s.Target}: {s.Points.Count} designs (buffer x array width); * = on the latency / energy / area Pareto front");
        w.WriteLine($"area proxy: {N(s.Area.PeUm2)} um^2 per PE + {N(s.Area.BufferUm2PerByte)} um^2 per buffer byte (45 nm)");
        w.WriteLine();
        Table(w, new[] { "", "array", "buffer", "latency (s)", "energy (J)", "area (mm^2)", "util 2D", "util 1D", "bound", "query tile", "spilled" },
            s.Points.Select(p => new[]
            {
                p.Pareto ? "*" : "", $"{p.ArrayWidth}x{p.ArrayWidth}", DesignSweep.FormatBytes(p.BufferBytes), N(p.LatencySeconds), N(p.EnergyPj * 1e-12), N(p.AreaMm2),
                $"{p.Result.Util2D:0.000}", $"{p.Result.Util1D:0.000}", p.Result.MemoryBound ? "memory" : "compute", p.Result.Traffic.QueryTile.ToString(CultureInfo.InvariantCulture),
                p.Result.Traffic.Spilled ? string.Join(",", p.Result.Traffic.SpilledTensors) : "no",
            }));
        w.WriteLine();
        string From(long? buffer, string what) => buffer is { } b ? $"{what} from {DesignSweep.FormatBytes(b)} on" : $"never {what} (up to {DesignSweep.FormatBytes(s.Grid.BufferBytes.Max())})";
        foreach (var width in s.Grid.ArrayWidths)
            w.WriteLine($"{width}x{width}: {From(s.SmallestBufferWithoutSpill[width], "nothing spills")}; {From(s.SmallestBufferComputeBound[width], "compute bound")}");
    }

    public static void WriteSweepJson(SweepResult s, TextWriter w) => Json(w, j =>
    {
        j.WriteStartObject();
        j.WriteString("kernel", s.Kernel);
        j.WriteString("target", s.Target);
        j.WriteStartObject("area");
        j.WriteNumber("peUm2", s.Area.PeUm2);
        j.WriteNumber("bufferUm2PerByte", s.Area.BufferUm2PerByte);
        j.WriteEndObject();
        j.WriteStartArray("points");
        foreach (var p in s.Points)
        {
            j.WriteStartObject();
            j.WriteNumber("arrayWidth", p.ArrayWidth);
            j.WriteNumber("bufferBytes", p.BufferBytes);
            j.WriteNumber("latencySeconds", p.LatencySeconds);
            j.WriteNumber("energyPj", p.EnergyPj);
            j.WriteNumber("areaMm2", p.AreaMm2);
            j.WriteNumber("util2d", p.Result.Util2D);
            j.WriteNumber("util1d", p.Result.Util1D);
            j.WriteBoolean("memoryBound", p.Result.MemoryBound);
            j.WriteBoolean("spilled", p.Result.Traffic.Spilled);
            j.WriteBoolean("pareto", p.Pareto);
            j.WriteEndObject();
        }
        j.WriteEndArray();
        foreach (var (name, smallest) in new[] { ("smallestBufferWithoutSpill", s.SmallestBufferWithoutSpill), ("smallestBufferComputeBound", s.SmallestBufferComputeBound) })
        {
            j.WriteStartObject(name);
            foreach (var (width, buffer) in smallest)
            {
                if (buffer is { } b) j.WriteNumber(width.ToString(CultureInfo.InvariantCulture), b);
                else j.WriteNull(width.ToString(CultureInfo.InvariantCulture));
            }
            j.WriteEndObject();
        }
        j.WriteEndObject();
    });

    public static void WriteFpga(HlsEstimate e, TextWriter w)
    {
        w.WriteLine($"kernel {e.Kernel} on FPGA {e.Device.Name}: reuse factor {e.ReuseFactor}, {e.Bits}-bit operands");
        w.WriteLine($"resources  DSP {e.Dsp} / {e.Device.Dsp}, BRAM36 {e.Bram36} / {e.Device.Bram36}, LUT {e.Lut} / {e.Device.Lut}, FF {e.Ff} / {e.Device.Ff}{(e.Fits ? "" : "  (does not fit)")}");
        w.WriteLine($"latency    {e.LatencyCycles} cycles = {N(e.LatencySeconds)} s at {N(e.Device.ClockHz / 1e6)} MHz");
        w.WriteLine();
        Table(w, new[] { "output", "pass", "outputs", "reduction", "RF", "lanes", "DSP", "LUT", "FF", "cycles" },
            e.Einsums.Select(x => new[] { x.Output, x.Pass.ToString(CultureInfo.InvariantCulture), N(x.Outputs), N(x.ReductionLength), x.ReuseFactor.ToString(CultureInfo.InvariantCulture), N(x.Lanes), N(x.Dsp), N(x.Lut), N(x.Ff), N(x.LatencyCycles) }));
    }

    public static void WriteFpgaJson(HlsEstimate e, TextWriter w) => Json(w, j =>
    {
        j.WriteStartObject();
        j.WriteString("kernel", e.Kernel);
        j.WriteString("device", e.Device.Name);
        j.WriteNumber("reuseFactor", e.ReuseFactor);
        j.WriteNumber("bits", e.Bits);
        j.WriteNumber("dsp", e.Dsp);
        j.WriteNumber("bram36", e.Bram36);
        j.WriteNumber("lut", e.Lut);
        j.WriteNumber("ff", e.Ff);
        j.WriteNumber("latencyCycles", e.LatencyCycles);
        j.WriteNumber("latencySeconds", e.LatencySeconds);
        j.WriteBoolean("fits", e.Fits);
        j.WriteStartArray("einsums");
        foreach (var x in e.Einsums)
        {
            j.WriteStartObject();
            j.WriteString("output", x.Output);
            j.WriteNumber("pass", x.Pass);
            j.WriteNumber("reuseFactor", x.ReuseFactor);
            j.WriteNumber("lanes", x.Lanes);
            j.WriteNumber("dsp", x.Dsp);
            j.WriteNumber("lut", x.Lut);
            j.WriteNumber("ff", x.Ff);
            j.WriteNumber("latencyCycles", x.LatencyCycles);
            j.WriteEndObject();
        }
        j.WriteEndArray();
        j.WriteEndObject();
    });

    public static void WritePim(PimResult r, TextWriter w)
    {
        w.WriteLine($"kernel {r.Kernel} placed across {string.Join(", ", r.Targets.Select(t => t.Name))} ({(r.Fused ? "fused passes" : "unfused")})");
        w.WriteLine($"cascade    {N(r.Intensity)} FLOP/B, {N(r.Seconds)} s, {N(r.EnergyPj * 1e-12)} J; most time on {r.MainTarget}");
        w.WriteLine();
        Table(w, new[] { "output", "FLOP", "bytes", "FLOP/B", "target", "seconds", "energy (J)" },
            r.Einsums.Select(e => new[] { e.Output, N(e.Flops), N(e.Bytes), N(e.Intensity), e.Target, N(e.Seconds), N(e.EnergyPj * 1e-12) }));
    }

    public static void WritePimJson(PimResult r, TextWriter w) => Json(w, j =>
    {
        j.WriteStartObject();
        j.WriteString("kernel", r.Kernel);
        j.WriteBoolean("fused", r.Fused);
        Number(j, "intensity", r.Intensity);
        j.WriteNumber("flops", r.Flops);
        j.WriteNumber("bytes", r.Bytes);
        j.WriteNumber("seconds", r.Seconds);
        j.WriteNumber("energyPj", r.EnergyPj);
        j.WriteString("mainTarget", r.MainTarget);
        j.WriteStartArray("einsums");
        foreach (var e in r.Einsums)
        {
            j.WriteStartObject();
            j.WriteString("output", e.Output);
            j.WriteNumber("flops", e.Flops);
            j.WriteNumber("bytes", e.Bytes);
            Number(j, "intensity", e.Intensity);
            j.WriteString("target", e.Target);
            j.WriteNumber("seconds", e.Seconds);
            j.WriteNumber("energyPj", e.EnergyPj);
            j.WriteEndObject();
        }
        j.WriteEndArray();
        j.WriteEndObject();
    });
}
