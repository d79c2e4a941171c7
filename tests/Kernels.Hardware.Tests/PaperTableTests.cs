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
    public void FlatUtilisationIsAnEighthOrAQuarterUntilItSpills()
    {
        foreach (var p in Table.Value.Points)
        {
            var e = TransformerWorkloads.Get(p.Model).HeadDim;
            if (p.Seq <= 16384)
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
