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

/// <summary>Builds the roofline of a cascade on a target: its roofs and each Einsum as a point (Kernels.Measure.Charts.Roofline draws it).</summary>
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
}
