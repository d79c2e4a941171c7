using Kernels.Hardware.Spatial;
using Kernels.Hardware.Targets;

namespace Kernels.Hardware.Tests;

/// <summary>The design-space sweep: the grid syntax, the scaled targets, and the Pareto front against a brute-force one.</summary>
public class DesignSweepTests
{
    [Fact]
    public void RangesStepByPowersOfTwoAndOmittedAxesKeepTheTarget()
    {
        var grid = SweepGrid.Parse("buffer=4MiB..64MiB,array=64..512", SpatialPresets.FuseMax);
        Assert.Equal(new long[] { 4 << 20, 8 << 20, 16 << 20, 32 << 20, 64 << 20 }, grid.BufferBytes);
        Assert.Equal(new[] { 64, 128, 256, 512 }, grid.ArrayWidths);

        // The end is included only when it is the start times a power of two.
        Assert.Equal(new[] { 96, 192 }, SweepGrid.Parse("array=96..300", SpatialPresets.FuseMax).ArrayWidths);
        var listed = SweepGrid.Parse("buffer=512KiB|3MiB|1048576", SpatialPresets.Flat);
        Assert.Equal(new long[] { 512 << 10, 1 << 20, 3 << 20 }, listed.BufferBytes);
        Assert.Equal(new[] { 256 }, listed.ArrayWidths);
        Assert.Equal(new long[] { 32 << 20 }, SweepGrid.Parse("array=128", SpatialPresets.Flat).BufferBytes);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("buffer=4MB..64MiB", "ambiguous")]
    [InlineData("buf=4MiB", "unknown axis 'buf'")]
    [InlineData("array=512..64", "starts above its end")]
    [InlineData("array=64,array=128", "given twice")]
    [InlineData("array=0", "not a positive whole number")]
    [InlineData("array=8192", "outside 1..4096")]
    [InlineData("buffer=1.5MiB", "not a positive whole number")]
    [InlineData("buffer=4MiB..8MiB..16MiB", "more than one '..'")]
    [InlineData("array", "not name=values")]
    [InlineData("buffer=1..1GiB,array=1..4096", "combinations")]
    public void BadGridsSayWhatIsWrongAndWhatToWrite(string text, string why)
    {
        var ex = Assert.Throws<ArgumentException>(() => SweepGrid.Parse(text, SpatialPresets.FuseMax));
        Assert.Contains(why, ex.Message, StringComparison.Ordinal);
        Assert.Contains(SweepGrid.Example, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ScalingChangesTheArraysTheBufferAndTheTileGranularityTiedToTheWidth()
    {
        var t = DesignSweep.Scale(SpatialPresets.FuseMax, 64, 2 << 20);
        Assert.Equal((64, 64), (t.Array2D.Rows, t.Array2D.Columns));
        Assert.Equal((1, 64), (t.Array1D.Rows, t.Array1D.Columns));
        Assert.Equal(2L << 20, t.BufferBytes);
        Assert.Equal(64, t.QueryTileGranularity);
        Assert.Equal(64, DesignSweep.Scale(SpatialPresets.Flat, 128, 1 << 20).QueryTileGranularity); // FLAT's 64-row blocks are not the width
        Assert.Equal(SpatialPresets.FuseMax.Array2D.Ops, t.Array2D.Ops);
        // The area proxy: 3000 um^2 per PE (64*64 + 64 of them) and 5 um^2 per byte.
        Assert.Equal(((64 * 64 + 64) * 3000.0 + (2 << 20) * 5.0) * 1e-6, AreaModel.Default.Mm2(t), 9);
    }

    [Fact]
    public void TheFrontIsExactlyTheUndominatedPointsOfABruteForceSearch()
    {
        // FLAT's three-pass cascade at E = F = 128: small buffers spill its rows, small arrays are slow, large ones cost area,
        // and from 4 MiB on every query row fits, so more buffer only adds area.
        var cascade = Specs.Load("attention.3pass");
        var sizes = Specs.Sizes(("P", 1024), ("M", 1024), ("E", 128), ("F", 128));
        var grid = SweepGrid.Parse("buffer=256KiB..16MiB,array=32..256", SpatialPresets.Flat);
        var sweep = DesignSweep.Run(cascade, sizes, SpatialPresets.Flat, grid, instances: 4);
        Assert.Equal(7 * 4, sweep.Points.Count);

        var brute = new List<(long Buffer, int Width, double Latency, double Energy, double Area)>();
        foreach (var width in new[] { 32, 64, 128, 256 })
            foreach (var buffer in new long[] { 256 << 10, 512 << 10, 1 << 20, 2 << 20, 4 << 20, 8 << 20, 16 << 20 })
            {
                var target = SpatialPresets.Flat with
                {
                    Arrays = SpatialPresets.Flat.Arrays.Select(a => a.Kind == ArrayKind.TwoD ? a with { Rows = width, Columns = width } : a with { Columns = width }).ToList(),
                    BufferBytes = buffer,
                };
                var r = SpatialArrayModel.Evaluate(cascade, sizes, target, 4);
                brute.Add((buffer, width, r.LatencySeconds, r.EnergyPj, ((width * width + width) * 3000.0 + buffer * 5.0) * 1e-6));
            }
        foreach (var b in brute)
        {
            var dominated = brute.Any(o => o.Latency <= b.Latency && o.Energy <= b.Energy && o.Area <= b.Area
                && (o.Latency < b.Latency || o.Energy < b.Energy || o.Area < b.Area));
            var p = sweep.Points.Single(x => x.BufferBytes == b.Buffer && x.ArrayWidth == b.Width);
            Assert.Equal(b.Latency, p.LatencySeconds);
            Assert.Equal(b.Energy, p.EnergyPj);
            Assert.Equal(!dominated, p.Pareto);
        }
        Assert.All(sweep.Points.Where(p => p.BufferBytes > 4 << 20), p => Assert.False(p.Pareto));
        Assert.True(sweep.Front.Count() >= 2);
        // The smallest design and the fastest design are never dominated.
        Assert.True(sweep.Points.MinBy(p => p.AreaMm2)!.Pareto);
        Assert.True(sweep.Points.MinBy(p => p.LatencySeconds)!.Pareto);
    }

    [Fact]
    public void TheSmallestBufferThatStopsSpillingFollowsTheFootprintFormula()
    {
        // FLAT, XLM at 64K: 64 rows of M + E + 1 words plus one K and one V tile need 8.5 MB, so 8 MiB spills and 16 MiB
        // does not; 16 MiB still holds only 64-row blocks and streams K and V 1024 times (memory bound); 32 MiB holds 128.
        var sizes = Specs.Sizes(("P", 65536), ("M", 65536), ("E", 128), ("F", 128));
        var need = 64L * (65536 + 128 + 1) * 2 + 2L * 256 * 256;
        Assert.InRange(need, (8L << 20) + 1, 16L << 20);
        var sweep = DesignSweep.Run(Specs.Load("attention.3pass"), sizes, SpatialPresets.Flat, SweepGrid.Parse("buffer=4MiB..64MiB", SpatialPresets.Flat), instances: 1024);
        Assert.Equal(16L << 20, sweep.SmallestBufferWithoutSpill[256]);
        Assert.Equal(32L << 20, sweep.SmallestBufferComputeBound[256]);
        Assert.All(sweep.Points.Where(p => p.BufferBytes < need), p => Assert.True(p.Result.Traffic.Spilled));
    }
}
