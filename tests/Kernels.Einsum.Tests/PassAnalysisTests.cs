using Kernels.Einsum.Analysis;

namespace Kernels.Einsum.Tests;

public class PassAnalysisTests
{
    [Theory]
    [InlineData("attention.3pass", "m", 3)]
    [InlineData("attention.2pass", "m", 2)]
    [InlineData("attention.fusemax", "m", 1)]
    [InlineData("attention.window", "m", 1)]
    [InlineData("attention.scaled", "m", 1)]
    [InlineData("attention.masked", "m", 1)]
    [InlineData("attention.softcap", "m", 1)]
    [InlineData("attention.softcap.masked", "m", 1)]
    [InlineData("attention.bshd", "m", 1)]
    [InlineData("softmax.3pass", "n", 3)]
    [InlineData("softmax.2pass", "n", 2)]
    [InlineData("linear_attention.causal", "t", 1)]
    [InlineData("linear_attention.heads", "t", 1)]
    [InlineData("linear_attention.gated", "t", 1)]
    [InlineData("linear_attention.quadratic", "t", 1)]
    [InlineData("selective_scan", "l", 1)]
    [InlineData("selective_scan.grouped", "l", 1)]
    [InlineData("selective_scan.shared", "l", 1)]
    public void PassCountsFollowTheFuseMaxRule(string spec, string rank, int passes)
    {
        var report = PassAnalysis.Analyze(Specs.Load(spec));
        Assert.Equal(passes, report.PassesOver(rank));
    }

    [Fact]
    public void A_final_state_read_again_along_its_rank_is_a_second_pass()
    {
        var report = PassAnalysis.Analyze(Specs.Compile(UserCascades.Welford));
        Assert.Equal(2, report.PassesOver("e"));
        var y = Interpretation.ReferenceInterpreter.Run(Specs.Compile(UserCascades.Welford), Specs.Sizes(("P", 1), ("E", 4)),
            new Dictionary<string, double[]> { ["X"] = new double[] { 1, 2, 3, 6 } })["Y"];
        // mean 3, variance (4 + 1 + 0 + 9) / 4 = 3.5
        Assert.Equal(new[] { -2, -1, 0, 3 }.Select(d => d / Math.Sqrt(3.5 + 1e-5)).ToArray(), y, (a, b) => Math.Abs(a - b) < 1e-12);
    }

    [Fact]
    public void ThreePassAttentionGroupsAndFootprint()
    {
        var report = PassAnalysis.Analyze(Specs.Load("attention.3pass"), Specs.Sizes(("P", 8), ("M", 16), ("E", 4), ("F", 2)));
        var m = report.Passes.Single(p => p.Rank == "m");
        Assert.Equal(new[] { "p" }, m.OuterRanks);
        string[] Outputs(PassGroup g) => g.Einsums.Select(id => report.Einsums.Single(e => e.Id == id).Output).ToArray();
        Assert.Equal(new[] { "QK", "GM" }, Outputs(m.Groups[0]));
        Assert.Equal(new[] { "SN", "SD" }, Outputs(m.Groups[1]));
        Assert.Equal(new[] { "A", "AV" }, Outputs(m.Groups[2]));
        // Pass 1 must keep the row of scores (M) and its max (1) for the next pass.
        Assert.Equal("M + 1", m.Groups[0].Footprint.ToString());
        Assert.Equal(17, m.Groups[0].FootprintValue);
    }

    [Fact]
    public void OnePassAttentionKeepsStateIndependentOfSequenceLength()
    {
        var report = PassAnalysis.Analyze(Specs.Load("attention.fusemax"));
        var group = Assert.Single(report.Passes.Single(p => p.Rank == "m").Groups);
        Assert.Equal("F + 2", group.Footprint.ToString());
        Assert.Equal(new[] { "RM", "RD", "RNV" }, group.LiveTensors);
    }

    [Fact]
    public void FlopsAndBytesOfAContraction()
    {
        var report = PassAnalysis.Analyze(Specs.Load("attention.3pass"), Specs.Sizes(("P", 8), ("M", 16), ("E", 4), ("F", 2)));
        var qk = report.Einsums.Single(e => e.Output == "QK");
        // Each point (m,p,e): two multiplies (Q*K, *rsqrt), one rsqrt, one add of the sum.
        Assert.Equal("E*M*P", qk.Points.ToString());
        Assert.Equal(4, qk.OperationsPerPoint);
        Assert.Equal(4.0 * 8 * 16 * 4, qk.FlopsValue);
        // Reads Q (P*E) and K (M*E), writes QK (M*P), 4 bytes each.
        Assert.Equal(4.0 * (8 * 4 + 16 * 4 + 16 * 8), qk.BytesValue);
    }

    [Fact]
    public void FiltersAreCountedWhenSizesAreBound()
    {
        var report = PassAnalysis.Analyze(Specs.Load("linear_attention.quadratic"), Specs.Sizes(("T", 10), ("D", 3), ("F", 2)));
        var qk = report.Einsums.Single(e => e.Output == "QK");
        Assert.Equal(55.0 * 3, qk.PointsValue!.Value / qk.OperationsPerPoint * qk.OperationsPerPoint / 1, 6); // 55 (s <= t) pairs x D
    }
}
