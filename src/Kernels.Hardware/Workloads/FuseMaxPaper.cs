using Kernels.Einsum.Ir;
using Kernels.Hardware.Spatial;
using Kernels.Hardware.Targets;

namespace Kernels.Hardware.Workloads;

/// <summary>One (model, sequence length) point of the FuseMax evaluation.</summary>
public sealed record PaperPoint(
    string Model,
    int Seq,
    double SpeedupVsFlat,
    double EnergyVsFlat,
    double SpeedupVsUnfused,
    double Util2D,
    double Util1D,
    double FlatUtil2D,
    double TrafficBytes,
    double E2ESpeedupVsFlat,
    double E2EEnergyVsFlat,
    double E2ESpeedupVsUnfused,
    SpatialResult FuseMax,
    SpatialResult Flat,
    SpatialResult Unfused);

/// <summary>Arithmetic means of the ratios over the points.</summary>
public sealed record PaperAverages(double SpeedupVsFlat, double EnergyVsFlat, double SpeedupVsUnfused, double E2ESpeedupVsFlat, double E2EEnergyVsFlat, double E2ESpeedupVsUnfused);

public sealed record PaperTable(IReadOnlyList<PaperPoint> Points, PaperAverages Averages, PaperAverages Published);

/// <summary>
/// Reproduces the FuseMax evaluation: the one-pass cascade on the FuseMax preset, the three-pass
/// cascade on FLAT and unfused, for every model and sequence length; end to end adds one encoder
/// layer's linear layers on the 2D array (the same for every design).
/// </summary>
public static class FuseMaxPaper
{
    /// <summary>The published averages (MICRO 2024): 6.7x and 79% vs FLAT, 10x vs unfused; end to end 5.3x and 83%, 7.6x vs unfused.</summary>
    public static PaperAverages Published { get; } = new(6.7, 0.79, 10.0, 5.3, 0.83, 7.6);

    public static PaperTable Run(Cascade onePass, Cascade threePass, IEnumerable<TransformerModel>? models = null, IEnumerable<int>? sequenceLengths = null)
    {
        var points = new List<PaperPoint>();
        foreach (var model in models ?? TransformerWorkloads.Models)
            foreach (var seq in sequenceLengths ?? TransformerWorkloads.SequenceLengths)
                points.Add(Point(onePass, threePass, model, seq));
        PaperAverages Mean(IReadOnlyList<PaperPoint> p) => new(
            p.Average(x => x.SpeedupVsFlat), p.Average(x => x.EnergyVsFlat), p.Average(x => x.SpeedupVsUnfused),
            p.Average(x => x.E2ESpeedupVsFlat), p.Average(x => x.E2EEnergyVsFlat), p.Average(x => x.E2ESpeedupVsUnfused));
        return new PaperTable(points, Mean(points), Published);
    }

    public static PaperPoint Point(Cascade onePass, Cascade threePass, TransformerModel model, int seq)
    {
        var sizes = model.AttentionSizes(seq);
        var instances = model.Instances(TransformerWorkloads.Batch);
        var fm = SpatialArrayModel.Evaluate(onePass, sizes, SpatialPresets.FuseMax, instances);
        var flat = SpatialArrayModel.Evaluate(threePass, sizes, SpatialPresets.Flat, instances);
        var unfused = SpatialArrayModel.Evaluate(threePass, sizes, SpatialPresets.Unfused, instances);
        var linFm = TransformerWorkloads.LinearLayers(model, TransformerWorkloads.Batch, seq, SpatialPresets.FuseMax);
        var linFlat = TransformerWorkloads.LinearLayers(model, TransformerWorkloads.Batch, seq, SpatialPresets.Flat);
        var linUnfused = TransformerWorkloads.LinearLayers(model, TransformerWorkloads.Batch, seq, SpatialPresets.Unfused);
        return new PaperPoint(
            model.Name, seq,
            flat.LatencySeconds / fm.LatencySeconds,
            fm.EnergyPj / flat.EnergyPj,
            unfused.LatencySeconds / fm.LatencySeconds,
            fm.Util2D, fm.Util1D, flat.Util2D, fm.DramBytes,
            (flat.LatencySeconds + linFlat.Seconds) / (fm.LatencySeconds + linFm.Seconds),
            (fm.EnergyPj + linFm.EnergyPj) / (flat.EnergyPj + linFlat.EnergyPj),
            (unfused.LatencySeconds + linUnfused.Seconds) / (fm.LatencySeconds + linFm.Seconds),
            fm, flat, unfused);
    }
}
