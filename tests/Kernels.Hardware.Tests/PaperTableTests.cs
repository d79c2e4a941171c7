using Kernels.Hardware.Spatial;
using Kernels.Hardware.Targets;
using Kernels.Hardware.Workloads;

namespace Kernels.Hardware.Tests;

/// <summary>The acceptance figures: the 24-point averages within 5% of the published ones, and the utilisations.</summary>
public class PaperTableTests
{
    private static readonly Lazy<PaperTable> Table = new(() => FuseMaxPaper.Run(Specs.Load("attention.fusemax"), Specs.Load("attention.3pass")));

    private static void Within5(double published, double measured, string what) =>
        Assert.True(Math.Abs(measured / published - 1) <= 0.05, $"{what}: {measured:F3} vs published {published}");

    [Fact]
    public void HasTwentyFourPoints() => Assert.Equal(24, Table.Value.Points.Count);

    [Fact]
    public void AveragesMatchThePublishedFiguresWithinFivePercent()
    {
        var a = Table.Value.Averages;
        Within5(6.7, a.SpeedupVsFlat, "attention speedup vs FLAT");
        Within5(0.79, a.EnergyVsFlat, "attention energy vs FLAT");
        Within5(10, a.SpeedupVsUnfused, "attention speedup vs unfused");
        Within5(5.3, a.E2ESpeedupVsFlat, "end-to-end speedup vs FLAT");
        Within5(0.83, a.E2EEnergyVsFlat, "end-to-end energy vs FLAT");
        Within5(7.6, a.E2ESpeedupVsUnfused, "end-to-end speedup vs unfused");
    }

    [Fact]
    public void FuseMaxUtilisationRisesFromAbout089ToAbove099()
    {
        foreach (var p in Table.Value.Points)
        {
            if (p.Seq == 1024) Assert.InRange(p.Util2D, 0.87, 0.91);
            if (p.Seq >= 65536) Assert.True(p.Util2D > 0.99, $"{p.Model} {p.Seq}: {p.Util2D}");
            Assert.InRange(p.Util1D, 0.99, 1.0 + 1e-9);
        }
    }

    [Fact]
    public void FlatUtilisationIsAnEighthOrAQuarterUntilItSpillsFromTwoHundredFiftySixK()
    {
        foreach (var p in Table.Value.Points)
        {
            var e = TransformerWorkloads.Get(p.Model).HeadDim;
            if (p.Seq <= 65536)
            {
                Assert.False(p.Flat.Traffic.Spilled);
                Assert.Equal(2.0 * e / 1024, p.FlatUtil2D, 6);
            }
            if (p.Seq >= 262144)
            {
                Assert.True(p.Flat.Traffic.Spilled, $"{p.Model} {p.Seq}");
                Assert.True(p.Flat.MemoryBound);
                Assert.True(p.FlatUtil2D < 2.0 * e / 1024);
            }
        }
    }

    /// <summary>The reference's formulas at one point: u, FLAT's compute-bound cycles, FuseMax's cycles and DRAM bytes.</summary>
    private sealed record Expected(double U, double FlatCycles, double FuseMaxCycles, double FuseMaxBytes, double E, double F, double Bhmp)
    {
        public static Expected At(PaperPoint p)
        {
            var model = TransformerWorkloads.Get(p.Model);
            double bh = TransformerWorkloads.Batch * model.Heads, e = model.HeadDim, f = model.HeadDim, m = p.Seq, q = p.Seq;
            var u = bh * m * q / 65536;
            var flat = Math.Max((e + f) * u, 4 * bh * m * q / 256);
            var av = bh * f * q / 256;
            // max(BQK+LM, RD+RNV+AV) + RM + max(SLN+SLD, PRM+SPD) + max(SLNV, SPNV)
            var fuseMax = Math.Max(e * u + u, u + f * u + av) + u + Math.Max(7 * u + u, 7 * u + u) + Math.Max(f * u, f * u);
            // P1: the largest factor of P/256 whose query tile's state, with one K and one V tile, fits 16 MiB.
            var blocks = (int)(q / 256);
            var p1 = Enumerable.Range(1, blocks).Where(k => blocks % k == 0)
                .Where(k => 256.0 * (e + f) * 2 + k * 256.0 * (e + f + 2) * 2 <= 16 << 20).Max();
            var bytes = 2 * bh * (e * q + f * q + (e + f) * m * Math.Ceiling(q / (p1 * 256.0)));
            return new Expected(u, flat, fuseMax, bytes, e, f, bh * m * q);
        }
    }

    private static void Close(double expected, double actual, string what, double rel = 1e-9) =>
        Assert.True(Math.Abs(actual / expected - 1) <= rel, $"{what}: expected {expected:R}, got {actual:R}");

    [Fact]
    public void EveryPointMatchesTheReferenceFormulasUntilFlatSpills()
    {
        // FLAT is compute bound through 64K for all four models (the reference), so every point's speedup is the ratio of
        // the two cycle formulas, and the utilisations are (E+F)/1024 and (E+F+9)u / FuseMax's cycles.
        var f = SpatialPresets.ClockHz;
        foreach (var p in Table.Value.Points.Where(p => p.Seq <= 65536))
        {
            var x = Expected.At(p);
            var what = $"{p.Model} {p.Seq}";
            Assert.False(p.Flat.MemoryBound, what);
            Close(x.FlatCycles / f, p.Flat.LatencySeconds, what + " FLAT latency");
            Close((x.E + x.F) / 1024, p.FlatUtil2D, what + " FLAT util");
            var fuseMax = Math.Max(x.FuseMaxCycles / f, x.FuseMaxBytes / SpatialPresets.DramBytesPerSecond);
            Close(fuseMax, p.FuseMax.LatencySeconds, what + " FuseMax latency");
            Close(x.FuseMaxBytes, p.TrafficBytes, what + " FuseMax DRAM bytes");
            Close(x.FlatCycles / x.FuseMaxCycles, p.SpeedupVsFlat, what + " speedup");
            Close((x.E + x.F + 9) * x.U / x.FuseMaxCycles, p.Util2D, what + " FuseMax util");
        }
    }

    [Fact]
    public void FromTwoHundredFiftySixKFlatSpillsAndIsBoundByWritingAndRereadingItsRows()
    {
        // About 8 B H M P bytes (QK and SN written and read back once), on top of Q, K, V and the output: memory bound.
        foreach (var p in Table.Value.Points.Where(p => p.Seq >= 262144))
        {
            var x = Expected.At(p);
            var what = $"{p.Model} {p.Seq}";
            Assert.True(p.Flat.Traffic.Spilled, what);
            Assert.Equal(new[] { "QK", "SN" }, p.Flat.Traffic.SpilledTensors.Order());
            Assert.InRange(p.Flat.DramBytes / (8 * x.Bhmp), 1.0, 1.01);
            Close(p.Flat.DramBytes / SpatialPresets.DramBytesPerSecond, p.Flat.LatencySeconds, what + " FLAT latency");
            Close((x.E + x.F) * x.U / (p.Flat.LatencySeconds * SpatialPresets.ClockHz), p.FlatUtil2D, what + " FLAT util");
            Close(p.Flat.LatencySeconds * SpatialPresets.ClockHz / x.FuseMaxCycles, p.SpeedupVsFlat, what + " speedup");
        }
    }

    [Fact]
    public void AblationOneCascadeAloneIsSlowerThanFlatAndThePesWithoutInterleavingReachAboutThirtyPercent()
    {
        foreach (var p in Table.Value.Points)
        {
            var what = $"{p.Model} {p.Seq}";
            Assert.Equal(new[] { "unfused", "flat", "cascade", "architecture", "binding" }, p.Ablation.Select(a => a.Name));
            var step = p.Ablation.ToDictionary(a => a.Name);
            Assert.Equal(p.Flat.LatencySeconds, step["flat"].LatencySeconds);
            Assert.Equal(p.FuseMax.LatencySeconds, step["binding"].LatencySeconds);
            Assert.Equal(p.Unfused.LatencySeconds, step["unfused"].LatencySeconds);
            // The published facts: the one-pass cascade on FLAT's hardware is slower than FLAT ...
            Assert.True(step["cascade"].LatencySeconds > step["flat"].LatencySeconds, what);
            // ... and FuseMax's PEs without interleaving reach about 0.30 2D utilisation (E = F = 64; XLM's longer
            // contractions keep the 2D array busier), which the binding lifts to FuseMax's.
            var e = TransformerWorkloads.Get(p.Model).HeadDim;
            if (e == 64) Assert.InRange(step["architecture"].Util2D, 0.29, 0.31);
            else Assert.InRange(step["architecture"].Util2D, 0.31, 0.5);
            Assert.True(step["architecture"].LatencySeconds < step["cascade"].LatencySeconds, what);
            Assert.True(step["binding"].LatencySeconds < step["architecture"].LatencySeconds / 2, what);
            // The in-order formula of docs/hardware.md: max(BQK+LM, AV) + RM + drain (256 u) + max(SLN+SLD+SLNV, PRM+SPD+RD+SPNV+RNV).
            var x = Expected.At(p);
            var av = x.Bhmp / p.Seq * x.F / 256;
            var cycles = Math.Max((x.E + 1) * x.U, av) + x.U + 256 * x.U + Math.Max((8 + x.F) * x.U, (9 + 2 * x.F) * x.U);
            Close((x.E + x.F + 9) * x.U / cycles, step["architecture"].Util2D, what + " +architecture util");
            foreach (var a in p.Ablation)
            {
                Assert.InRange(a.Util2D, 0, 1 + 1e-9);
                Assert.InRange(a.Util1D, 0, 1 + 1e-9);
                Assert.True(a.EnergyPj > 0 && a.LatencySeconds > 0, what);
            }
        }
        var averages = Table.Value.Ablation.ToDictionary(a => a.Name);
        Assert.Equal(1.0, averages["flat"].SpeedupVsFlat, 12);
        Assert.True(averages["cascade"].SpeedupVsFlat < 1);
        Assert.True(averages["unfused"].SpeedupVsFlat < 1);
        Within5(6.7, averages["binding"].SpeedupVsFlat, "binding speedup vs FLAT");
    }

    [Fact]
    public void FuseMaxOnChipMemoryDoesNotGrowWithSequenceLength()
    {
        foreach (var p in Table.Value.Points)
        {
            Assert.False(p.FuseMax.Traffic.Spilled);
            Assert.True(p.FuseMax.Traffic.FootprintBytes <= SpatialPresets.FuseMax.BufferBytes);
            Assert.Equal(2 * TransformerWorkloads.Get(p.Model).HeadDim + 2, p.FuseMax.Traffic.StateWordsPerQuery);
            Assert.False(p.FuseMax.MemoryBound);
        }
    }
}
