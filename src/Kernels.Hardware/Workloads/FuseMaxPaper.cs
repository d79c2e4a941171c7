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
    SpatialResult Unfused,
    IReadOnlyList<AblationStep> Ablation);

/// <summary>A step of the paper's ablation ladder: which cascade runs on which target.</summary>
/// <param name="Name">The JSON name: unfused, flat, cascade, architecture, binding.</param>
/// <param name="OnePass">True: the one-pass cascade; false: the three-pass one.</param>
public sealed record AblationRung(string Name, string Description, SpatialTarget Target, bool OnePass);

/// <summary>One rung evaluated at one point.</summary>
public sealed record AblationStep(string Name, double Util2D, double Util1D, double LatencySeconds, double EnergyPj)
{
    public static AblationStep Of(string name, SpatialResult r) => new(name, r.Util2D, r.Util1D, r.LatencySeconds, r.EnergyPj);
}

/// <summary>Arithmetic means of the ratios over the points.</summary>
public sealed record PaperAverages(double SpeedupVsFlat, double EnergyVsFlat, double SpeedupVsUnfused, double E2ESpeedupVsFlat, double E2EEnergyVsFlat, double E2ESpeedupVsUnfused);

/// <summary>A rung of the ablation ladder averaged over the points: utilisations, and latency and energy relative to FLAT
/// (speedup = FLAT latency / this step's; energy = this step's / FLAT's).</summary>
public sealed record AblationAverage(string Name, double Util2D, double Util1D, double SpeedupVsFlat, double EnergyVsFlat);

public sealed record PaperTable(IReadOnlyList<PaperPoint> Points, PaperAverages Averages, PaperAverages Published, IReadOnlyList<AblationAverage> Ablation);

/// <summary>
/// Reproduces the FuseMax evaluation: the one-pass cascade on the FuseMax preset, the three-pass
/// cascade on FLAT and unfused, for every model and sequence length; end to end adds one encoder
/// layer's linear layers on the 2D array (the same for every design).
/// </summary>
public static class FuseMaxPaper
{
    /// <summary>The published averages (MICRO 2024): 6.7x and 79% vs FLAT, 10x vs unfused; end to end 5.3x and 83%, 7.6x vs unfused.</summary>
    public static PaperAverages Published { get; } = new(6.7, 0.79, 10.0, 5.3, 0.83, 7.6);

    /// <summary>
    /// The ablation ladder of the paper (its utilisation, speedup and energy figures): each step adds one of FuseMax's
    /// contributions to the one before. Unfused and FLAT run the three-pass cascade; "+cascade" runs the one-pass cascade
    /// on FLAT's hardware, "+architecture" on FuseMax's PEs and buffer, both without interleaving (<see cref="OverlapRule.InOrder"/>);
    /// "+binding" is FuseMax.
    /// </summary>
    public static IReadOnlyList<AblationRung> Ladder { get; } = new[]
    {
        new AblationRung("unfused", "three-pass cascade, QK / softmax / AV as separate kernels on FLAT's hardware", SpatialPresets.Unfused, false),
        new AblationRung("flat", "three-pass cascade fused per row block (FLAT)", SpatialPresets.Flat, false),
        new AblationRung("cascade", "+cascade: the one-pass cascade on FLAT's hardware, in order", SpatialPresets.FlatInOrder, true),
        new AblationRung("architecture", "+architecture: FuseMax's PEs (max and exp on the 2D array), in order", SpatialPresets.FuseMaxInOrder, true),
        new AblationRung("binding", "+binding: FuseMax, the 2D and 1D work of consecutive iterations interleaved", SpatialPresets.FuseMax, true),
    };

    public static PaperTable Run(Cascade onePass, Cascade threePass, IEnumerable<TransformerModel>? models = null, IEnumerable<int>? sequenceLengths = null)
    {
        var points = new List<PaperPoint>();
        foreach (var model in models ?? TransformerWorkloads.Models)
            foreach (var seq in sequenceLengths ?? TransformerWorkloads.SequenceLengths)
                points.Add(Point(onePass, threePass, model, seq));
        PaperAverages Mean(IReadOnlyList<PaperPoint> p) => new(
            p.Average(x => x.SpeedupVsFlat), p.Average(x => x.EnergyVsFlat), p.Average(x => x.SpeedupVsUnfused),
            p.Average(x => x.E2ESpeedupVsFlat), p.Average(x => x.E2EEnergyVsFlat), p.Average(x => x.E2ESpeedupVsUnfused));
        var ladder = Ladder.Select((rung, i) => new AblationAverage(rung.Name,
            points.Average(p => p.Ablation[i].Util2D), points.Average(p => p.Ablation[i].Util1D),
            points.Average(p => p.Flat.LatencySeconds / p.Ablation[i].LatencySeconds), points.Average(p => p.Ablation[i].EnergyPj / p.Flat.EnergyPj))).ToList();
        return new PaperTable(points, Mean(points), Published, ladder);
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
        var ablation = Ladder.Select(rung => AblationStep.Of(rung.Name, rung.Target.Name switch
        {
            "fusemax" => fm,
            "flat" => flat,
            "unfused" => unfused,
            _ => SpatialArrayModel.Evaluate(rung.OnePass ? onePass : threePass, sizes, rung.Target, instances),
        })).ToList();
        return new PaperPoint(
            model.Name, seq,
            flat.LatencySeconds / fm.LatencySeconds,
            fm.EnergyPj / flat.EnergyPj,
            unfused.LatencySeconds / fm.LatencySeconds,
            fm.Util2D, fm.Util1D, flat.Util2D, fm.DramBytes,
            (flat.LatencySeconds + linFlat.Seconds) / (fm.LatencySeconds + linFm.Seconds),
            (fm.EnergyPj + linFm.EnergyPj) / (flat.EnergyPj + linFlat.EnergyPj),
            (unfused.LatencySeconds + linUnfused.Seconds) / (fm.LatencySeconds + linFm.Seconds),
            fm, flat, unfused, ablation);
    }
}
