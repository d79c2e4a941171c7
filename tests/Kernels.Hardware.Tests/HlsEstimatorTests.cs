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
        Assert.Empty(HlsEmitter.Emit(Specs.Load("attention.3pass"), sizes).PresenceFlags); // no absent points: no flags
    }

    [Fact]
    public void PresenceFlagsOfACascadeWithAbsentPointsTakeBramToo()
    {
        // Causal attention is the one-pass cascade with its scores filtered: the same buffers and lookup tables, plus one bool
        // per element of every tensor that can have absent points and is read again (declared `static bool T_h[n]`). Those
        // arrays are 1 bit wide: a BRAM36 holds 32K of them, and each of the 16 cyclic partitions takes its own block.
        var sizes = Specs.Sizes(("P", 512), ("M", 4096), ("E", 64), ("F", 64), ("M0", 256));
        var plain = HlsEstimator.Estimate(Specs.Load("attention.fusemax"), sizes, 4);
        var causal = HlsEstimator.Estimate(Specs.Load("attention.causal"), sizes, 4);
        var code = HlsEmitter.Emit(Specs.Load("attention.causal"), sizes, new HlsOptions(4)).Code;
        var flags = System.Text.RegularExpressions.Regex.Matches(code, @"static bool (\w+)_h\[(\d+)\];")
            .Select(m => (Name: m.Groups[1].Value, Elements: long.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture))).ToList();
        Assert.Contains(flags, f => f.Name == "BQK" && f.Elements == 256L * 512); // one tile of scores: m0 x p
        long Blocks(long n) => n <= 1024 ? 0 : Math.Max(Math.Min(16, n), (n + 32767) / 32768);
        var expected = flags.Sum(f => Blocks(f.Elements));
        Assert.True(expected > 0);
        Assert.Equal(plain.Bram36 + expected, causal.Bram36);
        Assert.Equal(plain.Dsp, causal.Dsp);
        Assert.Equal(16, Blocks(256L * 512)); // 128 Kbit: four blocks' worth, but 16 partitions
        Assert.Equal(1 + 1, HlsEstimator.Bram36(1025, 1, 1) + HlsEstimator.Bram36(32768, 1, 1));
        Assert.Equal(2, HlsEstimator.Bram36(32769, 1, 1));
    }
}
