using System.Globalization;
using Kernels.Einsum.Ir;
using Kernels.Hardware.Targets;

namespace Kernels.Hardware.Spatial;

/// <summary>What a sweep varies: global-buffer sizes (bytes) and 2D array widths (an n x n array with an n-PE 1D array).</summary>
public sealed record SweepGrid(IReadOnlyList<long> BufferBytes, IReadOnlyList<int> ArrayWidths)
{
    /// <summary>The most combinations one sweep costs.</summary>
    public const int MaxCombinations = 256;

    public const string Example = "buffer=4MiB..64MiB,array=64..512";

    /// <summary>
    /// Parses <c>buffer=4MiB..64MiB,array=64..512</c>: comma-separated axes, each <c>name=lo..hi</c> (lo, 2 lo, 4 lo, ... up
    /// to hi: powers of two apart), <c>name=a|b|c</c> (those values) or <c>name=v</c>. Buffer sizes are bytes with an optional
    /// KiB, MiB or GiB suffix; array widths are PEs per side. An axis left out keeps <paramref name="target"/>'s value.
    /// Throws <see cref="ArgumentException"/> with a message that says what to write instead.
    /// </summary>
    public static SweepGrid Parse(string text, SpatialTarget target)
    {
        if (target is null) throw new ArgumentNullException(nameof(target));
        if (string.IsNullOrWhiteSpace(text)) throw Bad(text, "it is empty");
        List<long>? buffers = null, arrays = null;
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=');
            if (eq <= 0) throw Bad(text, $"'{part}' is not name=values");
            var name = part[..eq].Trim().ToLowerInvariant();
            var values = part[(eq + 1)..].Trim();
            switch (name)
            {
                case "buffer":
                    if (buffers is not null) throw Bad(text, "'buffer' is given twice");
                    buffers = Values(text, name, values, v => ParseBytes(text, v), 1, 1L << 40);
                    break;
                case "array":
                    if (arrays is not null) throw Bad(text, "'array' is given twice");
                    arrays = Values(text, name, values, v => ParseCount(text, v), 1, 4096);
                    break;
                default:
                    throw Bad(text, $"unknown axis '{part[..eq].Trim()}' (the axes are buffer and array)");
            }
        }
        var grid = new SweepGrid(buffers ?? new List<long> { target.BufferBytes }, (arrays ?? new List<long> { target.Array2D.Rows }).Select(a => (int)a).ToList());
        if (grid.BufferBytes.Count * grid.ArrayWidths.Count > MaxCombinations)
            throw Bad(text, $"it makes {grid.BufferBytes.Count * grid.ArrayWidths.Count} combinations, more than {MaxCombinations}; narrow a range");
        return grid;
    }

    private static ArgumentException Bad(string? text, string why) =>
        new($"--sweep '{text}': {why}. Write comma-separated axes such as {Example}: name=lo..hi (powers of two from lo to hi), name=a|b|c or name=value; buffer sizes in bytes, KiB, MiB or GiB, array widths in PEs per side.");

    private static List<long> Values(string text, string name, string values, Func<string, long> parse, long min, long max)
    {
        var list = new List<long>();
        var range = values.Split("..");
        if (range.Length == 2)
        {
            long lo = parse(range[0].Trim()), hi = parse(range[1].Trim());
            if (lo > hi) throw Bad(text, $"the {name} range starts above its end ({range[0].Trim()} > {range[1].Trim()})");
            for (var v = lo; v <= hi; v *= 2) list.Add(v);
        }
        else if (range.Length == 1)
        {
            list.AddRange(values.Split('|', StringSplitOptions.TrimEntries).Select(parse));
        }
        else throw Bad(text, $"'{values}' has more than one '..'");
        foreach (var v in list)
            if (v < min || v > max) throw Bad(text, $"{name} {v} is outside {min}..{max}");
        return list.Distinct().Order().ToList();
    }

    private static long ParseCount(string text, string value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw Bad(text, $"'{value}' is not a positive whole number");

    private static long ParseBytes(string text, string value)
    {
        if (value.Length > 2 && "KMGkmg".Contains(value[^2]) && (value[^1] is 'B' or 'b'))
            throw Bad(text, $"'{value}' is ambiguous (use KiB, MiB or GiB: binary units, 1 MiB = 1048576 bytes)");
        var units = new (string Suffix, long Scale)[] { ("GiB", 1L << 30), ("MiB", 1L << 20), ("KiB", 1L << 10), ("B", 1) };
        foreach (var (suffix, scale) in units)
            if (value.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
                return ParseCount(text, value[..^suffix.Length].Trim()) * scale;
        if (value.Length > 0 && char.IsLetter(value[^1]))
            throw Bad(text, $"'{value}' has an unknown unit (use KiB, MiB or GiB: binary units, 1 MiB = 1048576 bytes)");
        return ParseCount(text, value);
    }
}

/// <summary>The area proxy of a design point: every PE and every buffer byte at a documented area (45 nm, our assumption:
/// the reference gives no areas). Only its ordering matters to the Pareto front.</summary>
/// <param name="PeUm2">One PE (an fp16 MAC with its registers): 3000 um^2.</param>
/// <param name="BufferUm2PerByte">One byte of global-buffer SRAM: 8 bits at 0.6 um^2 (a 0.35 um^2 cell plus periphery) = 5 um^2.</param>
public sealed record AreaModel(double PeUm2 = 3000, double BufferUm2PerByte = 5)
{
    public static AreaModel Default { get; } = new();

    public double Mm2(SpatialTarget target) => (target.Arrays.Sum(a => (double)a.Pes) * PeUm2 + target.BufferBytes * BufferUm2PerByte) * 1e-6;
}

/// <summary>One combination of the sweep, costed.</summary>
/// <param name="AreaMm2">The area proxy (<see cref="AreaModel"/>).</param>
/// <param name="Pareto">True when no other point is at least as good in latency, energy and area and better in one.</param>
public sealed record SweepPoint(long BufferBytes, int ArrayWidth, double AreaMm2, SpatialResult Result, bool Pareto)
{
    public double LatencySeconds => Result.LatencySeconds;

    public double EnergyPj => Result.EnergyPj;
}

public sealed record SweepResult(string Kernel, string Target, SweepGrid Grid, AreaModel Area, IReadOnlyList<SweepPoint> Points)
{
    public IEnumerable<SweepPoint> Front => Points.Where(p => p.Pareto);

    /// <summary>For each array width, the smallest buffer of the grid at which the cascade spills nothing (null: it spills at every one).</summary>
    public IReadOnlyDictionary<int, long?> SmallestBufferWithoutSpill => SmallestBuffer(p => !p.Result.Traffic.Spilled);

    /// <summary>For each array width, the smallest buffer of the grid at which the cascade is compute bound (null: at none).
    /// Not spilling is not enough: a small buffer also means small query tiles, and K and V streamed once per tile.</summary>
    public IReadOnlyDictionary<int, long?> SmallestBufferComputeBound => SmallestBuffer(p => !p.Result.MemoryBound);

    private Dictionary<int, long?> SmallestBuffer(Func<SweepPoint, bool> ok) =>
        Grid.ArrayWidths.ToDictionary(w => w, w => Points.Where(p => p.ArrayWidth == w && ok(p)).Select(p => (long?)p.BufferBytes).Min());
}

/// <summary>
/// A design-space sweep for architects: a cascade costed on every combination of buffer size and array width around a base
/// target, with the latency / energy / area Pareto front.
/// </summary>
public static class DesignSweep
{
    /// <summary>The base target with an n x n 2D array, an n-PE 1D array and the given buffer. Query tiles that were a
    /// multiple of the array width stay so.</summary>
    public static SpatialTarget Scale(SpatialTarget target, int arrayWidth, long bufferBytes)
    {
        if (target is null) throw new ArgumentNullException(nameof(target));
        var arrays = target.Arrays.Select(a => a.Kind == ArrayKind.TwoD ? a with { Rows = arrayWidth, Columns = arrayWidth } : a with { Columns = arrayWidth }).ToList();
        return target with
        {
            Name = $"{target.Name} {arrayWidth}x{arrayWidth} {FormatBytes(bufferBytes)}",
            Arrays = arrays,
            BufferBytes = bufferBytes,
            QueryTileGranularity = target.QueryTileGranularity == target.Array2D.Rows ? arrayWidth : target.QueryTileGranularity,
        };
    }

    public static SweepResult Run(Cascade cascade, IReadOnlyDictionary<string, int> sizes, SpatialTarget target, SweepGrid grid, double instances = 1, AreaModel? area = null)
    {
        if (grid is null) throw new ArgumentNullException(nameof(grid));
        area ??= AreaModel.Default;
        var costed = new List<(long Buffer, int Width, double Area, SpatialResult Result)>();
        foreach (var width in grid.ArrayWidths)
            foreach (var buffer in grid.BufferBytes)
            {
                var t = Scale(target, width, buffer);
                costed.Add((buffer, width, area.Mm2(t), SpatialArrayModel.Evaluate(cascade, sizes, t, instances)));
            }
        var front = ParetoFront(costed.Select(c => new[] { c.Result.LatencySeconds, c.Result.EnergyPj, c.Area }).ToList());
        var points = costed.Select((c, i) => new SweepPoint(c.Buffer, c.Width, c.Area, c.Result, front[i])).ToList();
        return new SweepResult(cascade.Name, target.Name, grid, area, points);
    }

    /// <summary>For each point (objectives to minimise), whether no other point dominates it: at most equal in every objective
    /// and less in one. Ties (equal in all) are all on the front.</summary>
    public static bool[] ParetoFront(IReadOnlyList<double[]> points)
    {
        var front = new bool[points.Count];
        for (var i = 0; i < points.Count; i++)
            front[i] = !points.Where((_, j) => j != i).Any(q => Dominates(q, points[i]));
        return front;
    }

    private static bool Dominates(double[] a, double[] b) => a.Zip(b).All(x => x.First <= x.Second) && a.Zip(b).Any(x => x.First < x.Second);

    public static string FormatBytes(long bytes) => bytes switch
    {
        _ when bytes >= 1L << 30 && bytes % (1L << 30) == 0 => $"{bytes >> 30}GiB",
        _ when bytes >= 1L << 20 && bytes % (1L << 20) == 0 => $"{bytes >> 20}MiB",
        _ when bytes >= 1L << 10 && bytes % (1L << 10) == 0 => $"{bytes >> 10}KiB",
        _ => $"{bytes}B",
    };
}
