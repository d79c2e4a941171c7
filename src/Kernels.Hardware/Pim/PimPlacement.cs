using Kernels.Einsum.Analysis;
using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Ir;
using Kernels.Hardware.Spatial;

namespace Kernels.Hardware.Pim;

/// <summary>A processor for the roofline: peak compute, the bandwidth it sees to memory, and energy per FLOP and per bit moved.</summary>
public sealed record PimTarget(string Name, string Description, double PeakFlops, double BytesPerSecond, double EnergyPerFlopPj, double EnergyPerBitPj)
{
    /// <summary>The arithmetic intensity (FLOP per byte) above which the target is compute bound.</summary>
    public double Ridge => PeakFlops / BytesPerSecond;

    public double Seconds(double flops, double bytes) => Math.Max(flops / PeakFlops, bytes / BytesPerSecond);

    public double EnergyPj(double flops, double bytes) => flops * EnergyPerFlopPj + bytes * 8 * EnergyPerBitPj;
}

/// <summary>
/// Presets from AttAcc (HBM3, 670.4 GB/s per stack, five stacks as on an H100) and Duplex. PIM compute is sized as
/// internal bandwidth x the Op/B it is built for. Energies: ALU 0.32 pJ per MAC (0.16 per FLOP) everywhere; moving a
/// bit costs 3.59 pJ to the xPU, 3.29 to the buffer (logic) die, 0.55 inside a bank.
/// </summary>
public static class PimPresets
{
    public const double StackBytesPerSecond = 670.4e9;
    public const int Stacks = 5;
    public const double ExternalBytesPerSecond = StackBytesPerSecond * Stacks;

    /// <summary>H100-like xPU: 989 TFLOP/s, the stacks' external bandwidth (3.35 TB/s).</summary>
    public static PimTarget Xpu { get; } = new("xpu", "H100-like xPU: 989 TFLOP/s, 3.35 TB/s HBM3", 989e12, ExternalBytesPerSecond, 0.16, 3.59);

    /// <summary>Logic-die PIM (Duplex): the buffer die with more TSVs, 8x the external bandwidth, compute for 8 Op/B.</summary>
    public static PimTarget LogicDie { get; } = new("logic-die-pim", "Logic-die PIM (Duplex): 8x external bandwidth through more TSVs, compute for 8 Op/B",
        8 * ExternalBytesPerSecond * 8, 8 * ExternalBytesPerSecond, 0.16, 3.29);

    /// <summary>Bank-level PIM (AttAcc): 16x the external bandwidth, compute for 1 Op/B.</summary>
    public static PimTarget BankLevel { get; } = new("bank-pim", "Bank-level PIM (AttAcc): 16x external bandwidth, compute for 1 Op/B",
        16 * ExternalBytesPerSecond, 16 * ExternalBytesPerSecond, 0.16, 0.55);

    public static IReadOnlyList<PimTarget> All { get; } = new[] { Xpu, LogicDie, BankLevel };
}

/// <summary>One Einsum placed on a target.</summary>
/// <param name="Bytes">DRAM bytes the Einsum moves under the chosen fusion (intermediates that stay in a fused pass move none).</param>
/// <param name="Intensity">Flops / Bytes (infinite when the Einsum moves nothing).</param>
public sealed record PlacedEinsum(int Id, string Output, double Flops, double Bytes, double Intensity, string Target, double Seconds, double EnergyPj,
    IReadOnlyDictionary<string, double> SecondsByTarget);

public sealed record PimResult(string Kernel, bool Fused, IReadOnlyList<PlacedEinsum> Einsums, double Flops, double Bytes, double Seconds, double EnergyPj, IReadOnlyList<PimTarget> Targets)
{
    public double Intensity => Bytes == 0 ? double.PositiveInfinity : Flops / Bytes;

    /// <summary>The target that does most of the work (by time).</summary>
    public string MainTarget => Einsums.GroupBy(e => e.Target).OrderByDescending(g => g.Sum(e => e.Seconds)).First().Key;
}

/// <summary>
/// Roofline placement: per Einsum, FLOPs (a MAC is two) and the DRAM bytes it moves under the chosen fusion; each
/// Einsum goes to the target with the least time = max(flops / peak, bytes / bandwidth) + the transfer of operands
/// produced on another target over the external bandwidth. The cascade's time sums runs of Einsums on one target
/// as one kernel (compute and memory overlap inside a kernel): max(sum flops / peak, sum bytes / bandwidth).
/// </summary>
public static class PimPlacement
{
    public const int WordBytes = 2;

    /// <param name="fused">True: the pass analysis's fusion (values used in the pass that writes them stay on chip); false: every Einsum a kernel through DRAM.</param>
    public static PimResult Place(Cascade cascade, IReadOnlyDictionary<string, int> sizes, double instances = 1, bool fused = true, IReadOnlyList<PimTarget>? targets = null)
    {
        if (cascade is null) throw new ArgumentNullException(nameof(cascade));
        targets ??= PimPresets.All;
        var traffic = EinsumTraffic(cascade, sizes, fused);
        var placed = new List<PlacedEinsum>();
        var where = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (e, flops, bytes) in traffic)
        {
            if (flops == 0 && bytes == 0) continue;
            var f = flops * instances;
            var b = bytes * instances;
            var byTarget = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var t in targets)
            {
                var transfer = e.Reads().Select(r => r.Tensor.Name).Distinct()
                    .Where(n => where.TryGetValue(n, out var at) && at != t.Name)
                    .Sum(n => ElementCount(cascade, sizes, n) * WordBytes * instances) / PimPresets.ExternalBytesPerSecond;
                byTarget[t.Name] = t.Seconds(f, b) + transfer;
            }
            var best = targets.OrderBy(t => byTarget[t.Name]).ThenBy(t => t.EnergyPj(f, b)).First();
            where[e.Output.Name] = best.Name;
            placed.Add(new PlacedEinsum(e.Id, e.Output.Name, f, b, b == 0 ? double.PositiveInfinity : f / b, best.Name, byTarget[best.Name], best.EnergyPj(f, b), byTarget));
        }

        // Runs of Einsums on one target are one kernel: their compute and memory overlap.
        double seconds = 0;
        for (var i = 0; i < placed.Count;)
        {
            var j = i;
            while (j < placed.Count && placed[j].Target == placed[i].Target) j++;
            var t = targets.First(x => x.Name == placed[i].Target);
            var run = placed.Skip(i).Take(j - i).ToList();
            var transfer = run.Sum(p => p.Seconds - t.Seconds(p.Flops, p.Bytes));
            seconds += t.Seconds(run.Sum(p => p.Flops), run.Sum(p => p.Bytes)) + transfer;
            i = j;
        }
        return new PimResult(cascade.Name, fused, placed, placed.Sum(p => p.Flops), placed.Sum(p => p.Bytes), seconds, placed.Sum(p => p.EnergyPj), targets);
    }

    private static double ElementCount(Cascade cascade, IReadOnlyDictionary<string, int> sizes, string tensor) =>
        CascadeShapes.Bind(cascade, sizes).ElementCount(tensor);

    /// <summary>Per Einsum: FLOPs and DRAM bytes for one instance. A copy (<c>BK = K[...]</c>) moves nothing itself: its readers read the source.</summary>
    public static IReadOnlyList<(ExtendedEinsum Einsum, double Flops, double Bytes)> EinsumTraffic(Cascade cascade, IReadOnlyDictionary<string, int> sizes, bool fused)
    {
        var shapes = CascadeShapes.Bind(cascade, sizes);
        var report = PassAnalysis.Analyze(cascade, sizes);
        var passOf = TrafficModel.PassNumbers(cascade, report, ArrayBinder.InnerRoot(cascade, report));
        var copies = cascade.Einsums.Where(OpCounter.IsCopy).ToDictionary(e => e.Output.Name, e => ((TensorRead)e.Body).Tensor.Name, StringComparer.Ordinal);
        string Source(string name) => copies.TryGetValue(name, out var s) ? Source(s) : name;
        int? WriterPass(string name)
        {
            var w = cascade.Writer(name);
            return w is null ? null : passOf[w.Id];
        }

        var result = new List<(ExtendedEinsum, double, double)>();
        foreach (var e in cascade.Einsums)
        {
            if (e.IsInit || OpCounter.IsCopy(e)) continue;
            var points = report.Einsums.First(r => r.Id == e.Id).PointsValue ?? 0;
            var ops = OpCounter.PerPoint(e);
            var flops = points * ops.Sum(o => o.Key == "mac" ? 2 * o.Value : o.Value);
            double bytes = 0;
            foreach (var name in e.Reads().Select(r => Source(r.Tensor.Name)).Distinct())
            {
                var t = cascade.Tensor(name);
                var fromDram = t.Role == TensorRole.Input || !fused || (WriterPass(name) is { } wp && wp != passOf[e.Id]);
                if (fromDram && !(fused && t.IsLoopCarried)) bytes += shapes.ElementCount(name) * WordBytes;
            }
            var readLater = cascade.Einsums.Any(r => r.Id != e.Id && r.Reads().Any(x => x.Tensor.Name == e.Output.Name) && passOf[r.Id] != passOf[e.Id]);
            if (e.Output.Role == TensorRole.Output || !fused || readLater) bytes += shapes.ElementCount(e.Output.Name) * WordBytes;
            result.Add((e, flops, bytes));
        }
        return result;
    }
}
