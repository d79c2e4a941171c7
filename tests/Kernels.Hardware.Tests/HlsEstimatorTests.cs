using Kernels.Hardware.Fpga;

namespace Kernels.Hardware.Tests;

/// <summary>The hls4ml-style closed forms, checked by hand on a plain contraction (a dense layer: Y[b,o] = sum[i] X[b,i] * W[o,i]).</summary>
public class HlsEstimatorTests
{
    private const string Dense = """
        input  X[b,i], W[o,i]
        output Y[b,o]
        Y[b,o] = X[b,i] * W[o,i]
        """;

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(16)]
    [InlineData(64)]
    public void DspIsTheReductionOverTheReuseFactorAndLatencyGrowsWithIt(int rf)
    {
        const int B = 8, O = 32, I = 64;
        var e = HlsEstimator.Estimate(Specs.Compile(Dense, "dense"), Specs.Sizes(("B", B), ("O", O), ("I", I)), rf);
        var y = e.Einsums.Single();
        Assert.Equal(I / rf, y.Lanes);
        Assert.Equal(I / rf, e.Dsp); // one multiplier per lane (16-bit operands)
        Assert.Equal((long)B * O, y.Outputs);
        Assert.Equal((long)B * O * rf + 3 + (long)Math.Ceiling(Math.Log2(I / rf)), e.LatencyCycles);
        Assert.Equal(0, e.Bram36); // no intermediate buffers and no lookup tables
    }

    [Fact]
    public void ReuseFactorsSnapToDivisorsAndNarrowOperandsUseLuts()
    {
        Assert.Equal(4, HlsEstimator.ValidReuseFactor(64, 3));
        Assert.Equal(5, HlsEstimator.ValidReuseFactor(60, 5));
        Assert.Equal(7, HlsEstimator.ValidReuseFactor(7, 100));
        var sizes = Specs.Sizes(("B", 8), ("O", 32), ("I", 64));
        var narrow = HlsEstimator.Estimate(Specs.Compile(Dense, "dense"), sizes, 4, bits: 8);
        var wide = HlsEstimator.Estimate(Specs.Compile(Dense, "dense"), sizes, 4, bits: 16);
        Assert.Equal(0, narrow.Dsp);
        Assert.True(narrow.Lut > wide.Lut);
    }

    [Fact]
    public void BuffersAndLookupTablesTakeBram()
    {
        // attention.3pass at M = P = 256: QK and SN are 256*256*16 bits = 1 Mbit each -> 29 BRAM36; GM, SD 4 Kbit -> 16 (partitions);
        // A is 29 too; SN's exp and A's divide use one lookup table each.
        var sizes = Specs.Sizes(("P", 256), ("M", 256), ("E", 64), ("F", 64));
        var e = HlsEstimator.Estimate(Specs.Load("attention.3pass"), sizes, 1);
        var big = (256L * 256 * 16 + 36863) / 36864;
        Assert.Equal(3 * big + 2 * 16 + 2, e.Bram36);
        Assert.True(e.Dsp > 0 && e.Lut > 0 && e.Ff > 0);
        var slower = HlsEstimator.Estimate(Specs.Load("attention.3pass"), sizes, 8);
        Assert.True(slower.Dsp < e.Dsp && slower.LatencyCycles > e.LatencyCycles);
    }
}
