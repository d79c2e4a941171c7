using Kernels.Hardware.Pim;
using Kernels.Hardware.Roofline;

namespace Kernels.Hardware.Tests;

/// <summary>Roofline placement acceptance: decode with grouped-query heads at 4-8 Op/B on logic-die PIM, prefill on the
/// xPU, multi-head decode QK at about 1 Op/B.</summary>
public class PimPlacementTests
{
    private static Dictionary<string, int> Attention(int queries, int keys, int headDim = 128) =>
        Specs.Sizes(("P", queries), ("M", keys), ("E", headDim), ("F", headDim));

    [Theory]
    [InlineData(4)]
    [InlineData(8)]
    public void GroupedQueryDecodeLandsAtFourToEightOpPerByteOnLogicDiePim(int group)
    {
        // One KV head serves `group` query heads: in the cascade they are `group` query rows over the same K and V.
        var r = PimPlacement.Place(Specs.Load("attention.fusemax"), Attention(group, 8192), instances: 32 * 8);
        // K and V are read once (2 bytes each), each query row does 2E + 2F FLOPs per key plus a few per-point operations.
        Assert.InRange(r.Intensity, 0.98 * group, 1.03 * group);
        Assert.InRange(r.Intensity, 4, 8.3);
        Assert.Equal("logic-die-pim", r.MainTarget);
        Assert.Equal("logic-die-pim", r.Einsums.Single(e => e.Output == "BQK").Target);
    }

    [Fact]
    public void PrefillRunsOnTheXpu()
    {
        var fused = PimPlacement.Place(Specs.Load("attention.fusemax"), Attention(4096, 4096), instances: 32);
        Assert.Equal("xpu", fused.MainTarget);
        Assert.True(fused.Intensity > 100);
        // Unfused prefill QK writes the scores: about E = 128 FLOP per byte, still the xPU's.
        var unfused = PimPlacement.Place(Specs.Load("attention.3pass"), Attention(4096, 4096), instances: 32, fused: false);
        var qk = unfused.Einsums.Single(e => e.Output == "QK");
        Assert.InRange(qk.Intensity, 100, 128);
        Assert.Equal("xpu", qk.Target);
    }

    [Fact]
    public void MultiHeadDecodeQkIsAboutOneOpPerByteAndGoesToBankPim()
    {
        var fused = PimPlacement.Place(Specs.Load("attention.fusemax"), Attention(1, 8192), instances: 32);
        var bqk = fused.Einsums.Single(e => e.Output == "BQK");
        Assert.InRange(bqk.Intensity, 0.95, 1.05);
        Assert.Equal("bank-pim", bqk.Target);
        var unfused = PimPlacement.Place(Specs.Load("attention.3pass"), Attention(1, 8192), instances: 32, fused: false);
        Assert.InRange(unfused.Einsums.Single(e => e.Output == "QK").Intensity, 0.95, 1.05);
    }

    [Fact]
    public void TimeAndEnergyFollowTheRooflineFormulas()
    {
        var t = PimPresets.LogicDie;
        Assert.Equal(8, t.Ridge, 9);
        Assert.Equal(Math.Max(1e12 / t.PeakFlops, 1e11 / t.BytesPerSecond), t.Seconds(1e12, 1e11));
        Assert.Equal(1e12 * 0.16 + 1e11 * 8 * 3.29, t.EnergyPj(1e12, 1e11), 1);
        var r = PimPlacement.Place(Specs.Load("attention.fusemax"), Attention(4, 4096), instances: 8);
        foreach (var e in r.Einsums)
        {
            var chosen = r.Targets.Single(x => x.Name == e.Target);
            Assert.True(e.SecondsByTarget.Values.All(s => s >= e.Seconds - 1e-18));
            Assert.Equal(chosen.EnergyPj(e.Flops, e.Bytes), e.EnergyPj, 6);
        }
        Assert.Equal(r.Einsums.Sum(e => e.EnergyPj), r.EnergyPj, 6);
    }

    [Fact]
    public void RooflineHasEveryRoofAndEinsumUnderItsRoof()
    {
        var data = RooflinePlot.ForPim(Specs.Load("attention.fusemax"), Attention(8, 4096), 8);
        Assert.Equal(3, data.Roofs.Count);
        Assert.Contains(data.Points, p => p.Label == "BQK");
        Assert.All(data.Points, p => Assert.True(p.FlopsPerSecond <= data.Roofs.Single(r => r.Name == p.Roof).PeakFlops * (1 + 1e-9)));

        var spatial = RooflinePlot.ForSpatial(Specs.Load("attention.3pass"), Attention(1024, 1024, 64), Targets.SpatialPresets.Flat, 64);
        Assert.Equal(2, spatial.Roofs.Count);
        Assert.All(spatial.Points, p => Assert.True(p.FlopsPerSecond <= spatial.Roofs.Single(r => r.Name == p.Roof).PeakFlops * (1 + 1e-9)));
    }

}
