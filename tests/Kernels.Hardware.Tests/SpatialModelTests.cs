using Kernels.Hardware.Spatial;
using Kernels.Hardware.Targets;

namespace Kernels.Hardware.Tests;

/// <summary>Closed-form checks of the spatial-array model on small shapes: every expected value is computed here from the
/// published formulas (../shared/reference/hardware-models.md), not read back from the model.</summary>
public class SpatialModelTests
{
    private const double Tol = 1e-9;

    private static void Close(double expected, double actual, double rel = Tol) =>
        Assert.True(Math.Abs(expected - actual) <= rel * Math.Max(1, Math.Abs(expected)), $"expected {expected:R}, got {actual:R}");

    // The init of a running value (RM[0,p] = ...) has the same output name and computes nothing.
    private static EinsumCost Of(SpatialResult r, string output) => r.Einsums.Where(e => e.Output == output).MaxBy(e => e.Cycles)!;

    private static double Cycles(SpatialResult r, string output) => Of(r, output).Cycles;

    [Theory]
    [InlineData(512, 512, 64, 64, 2)]
    [InlineData(1024, 2048, 128, 64, 3)]
    public void FuseMaxOpCountsMatchThePaperPerEinsum(int p, int m, int e, int f, int instances)
    {
        var r = SpatialArrayModel.Evaluate(Specs.Load("attention.fusemax"), Specs.Sizes(("P", p), ("M", m), ("E", e), ("F", f)), SpatialPresets.FuseMax, instances);
        var u = (double)instances * m * p / (256.0 * 256.0);
        var expected2D = new Dictionary<string, double> { ["BQK"] = e * u, ["LM"] = u, ["SLN"] = 7 * u, ["SLD"] = u, ["SLNV"] = f * u };
        var expected1D = new Dictionary<string, double> { ["RM"] = u, ["PRM"] = 7 * u, ["SPD"] = u, ["RD"] = u, ["SPNV"] = f * u, ["RNV"] = f * u, ["AV"] = (double)instances * f * p / 256 };
        foreach (var (name, c) in expected2D)
        {
            Assert.Equal("2D", Of(r, name).Array);
            Close(c, Cycles(r, name));
        }
        foreach (var (name, c) in expected1D)
        {
            Assert.Equal("1D", Of(r, name).Array);
            Close(c, Cycles(r, name));
        }
        Assert.All(r.Einsums.Where(x => x.Output is "BK" or "BV"), x => Assert.Null(x.Array)); // copies: layout only

        // The overlap rule: max(BQK+LM, RD+RNV+AV) + RM + max(SLN+SLD, PRM+SPD) + max(SLNV, SPNV).
        double C(string n) => expected2D.TryGetValue(n, out var v) ? v : expected1D[n];
        var cycles = Math.Max(C("BQK") + C("LM"), C("RD") + C("RNV") + C("AV")) + C("RM")
            + Math.Max(C("SLN") + C("SLD"), C("PRM") + C("SPD")) + Math.Max(C("SLNV"), C("SPNV"));
        Close(cycles, r.Cycles);
        Close(cycles / SpatialPresets.ClockHz, r.ComputeSeconds);
        Close(expected2D.Values.Sum() / cycles, r.Util2D);
    }

    [Fact]
    public void FuseMaxTrafficUsesTheLargestQueryTileWhoseStateFits()
    {
        // 1 MiB buffer: K and V tiles take 2*256*64*2 bytes; each query holds (E+F+2)*2 bytes.
        const int P = 16384, M = 16384, E = 64, F = 64;
        var target = SpatialPresets.FuseMax with { BufferBytes = 1 << 20 };
        var r = SpatialArrayModel.Evaluate(Specs.Load("attention.fusemax"), Specs.Sizes(("P", P), ("M", M), ("E", E), ("F", F)), target, instances: 4);
        var p1 = Enumerable.Range(1, P / 256).Where(k => (P / 256) % k == 0)
            .Where(k => 2.0 * 256 * (E + F) + k * 256.0 * (E + F + 2) * 2 <= target.BufferBytes).Max();
        Assert.Equal(8, p1);
        Assert.Equal(p1 * 256L, r.Traffic.QueryTile);
        Assert.False(r.Traffic.Spilled);
        var bytes = 2.0 * 4 * (E * P + F * P + (E + F) * (double)M * Math.Ceiling(P / (p1 * 256.0)));
        Close(bytes, r.DramBytes);
        Close(bytes / SpatialPresets.DramBytesPerSecond, r.MemorySeconds);
        Close(Math.Max(r.ComputeSeconds, r.MemorySeconds), r.LatencySeconds);
    }

    [Fact]
    public void FlatIsOneDimensionalBoundAndSpillsItsRowsWhenTheyDoNotFit()
    {
        const int P = 4096, M = 4096, E = 64, F = 64, Instances = 2;
        var cascade = Specs.Load("attention.3pass");
        var sizes = Specs.Sizes(("P", P), ("M", M), ("E", E), ("F", F));
        var r = SpatialArrayModel.Evaluate(cascade, sizes, SpatialPresets.Flat, Instances);
        var u = (double)Instances * M * P / 65536;
        Assert.Equal(new[] { "AV", "QK" }, r.Einsums.Where(x => x.Array == "2D").Select(x => x.Output).Order());
        Assert.Equal(new[] { "A", "GM", "SD", "SN" }, r.Einsums.Where(x => x.Array == "1D").Select(x => x.Output).Order());
        Close(Math.Max((E + F) * u, 4.0 * Instances * M * P / 256), r.Cycles);
        Close((E + F) / 1024.0, r.Util2D);
        Assert.False(r.Traffic.Spilled);

        // The busiest pass (the first) holds the M-long row of QK, the running GM and Q's row: M + E + 1 words per query (the
        // second holds GM, SN (written over QK in place) and SD: M + 2); K and V add one 256-row tile each.
        Assert.Equal(M + E + 1, r.Traffic.StateWordsPerQuery);
        Assert.Equal(256.0 * (E + F), r.Traffic.SharedWords);

        // A buffer too small for 64 such rows: QK and SN go through DRAM,
        // written once and read back once, 8 bytes per (m, p) point on top of Q, K, V and the output.
        var small = SpatialPresets.Flat with { BufferBytes = 64L * (M + E + 1) * 2 + 2L * 256 * (E + F) - 2 };
        var s = SpatialArrayModel.Evaluate(cascade, sizes, small, Instances);
        Assert.True(s.Traffic.Spilled);
        Assert.Equal(new[] { "QK", "SN" }, s.Traffic.SpilledTensors.Order());
        var tiles = Math.Ceiling((double)P / s.Traffic.QueryTile);
        Close(Instances * (8.0 * M * P + 2.0 * (E * P + F * P) + 2.0 * (E + F) * M * tiles), s.DramBytes);
    }

    [Theory]
    [InlineData(1024, 64, 64)]
    [InlineData(65536, 64, 64)]
    [InlineData(4096, 128, 128)]
    public void FlatSpillsExactlyWhen64RowsOfItsBusiestPassNoLongerFit(int m, int e, int f)
    {
        // The spill threshold of the docs: 64 * (M + E + 1) * 2 + 2 * 256 * (E + F) bytes against the buffer, here a buffer
        // sized for M so that M fits and the next block of 64 keys does not.
        var cascade = Specs.Load("attention.3pass");
        var buffer = 64L * (m + e + 1) * 2 + 2L * 256 * (e + f);
        var target = SpatialPresets.Flat with { BufferBytes = buffer };
        var fits = SpatialArrayModel.Evaluate(cascade, Specs.Sizes(("P", m), ("M", m), ("E", e), ("F", f)), target);
        Assert.False(fits.Traffic.Spilled);
        Assert.Equal(64, fits.Traffic.QueryTile);
        Assert.Equal(buffer, fits.Traffic.FootprintBytes);
        var spills = SpatialArrayModel.Evaluate(cascade, Specs.Sizes(("P", m + 64), ("M", m + 64), ("E", e), ("F", f)), target);
        Assert.True(spills.Traffic.Spilled);
        Assert.Equal(e + 1, spills.Traffic.StateWordsPerQuery); // GM and Q's row stay; the M-long rows went to DRAM
    }

    [Fact]
    public void InOrderScheduleDrainsThe2DArrayAtEachWaitAndStreamsThe1DWorkBehindIt()
    {
        // FuseMax's PEs without interleaving: BQK+LM (with AV of the previous instance under them), the wait for RM plus a
        // drain of the 2D pipeline (256 cycles per 256x256 tile = 256 u), then SLN, SLD, SLNV on the 2D array while
        // PRM, SPD, RD, SPNV, RNV stream behind them on the 1D array, nothing deferred to the next iteration.
        const int P = 2048, M = 4096, E = 64, F = 64, Instances = 3;
        var r = SpatialArrayModel.Evaluate(Specs.Load("attention.fusemax"), Specs.Sizes(("P", P), ("M", M), ("E", E), ("F", F)), SpatialPresets.FuseMaxInOrder, Instances);
        var u = (double)Instances * M * P / 65536;
        var av = (double)Instances * F * P / 256;
        var cycles = Math.Max((E + 1) * u, av) + u + 256 * u + Math.Max((7 + 1 + F) * u, (7 + 1 + 1 + F + F) * u);
        Close(cycles, r.Cycles);
        Close((E + F + 9) * u / cycles, r.Util2D);
        Close((10 + 2 * F) * u / cycles + av / cycles, r.Util1D);
        Assert.Equal(256 * u, r.Phases.Sum(p => p.StallCycles));
        Assert.Equal(new[] { "PRM", "SPD", "RD", "SPNV", "RNV" }, r.Phases.Single(p => p.TwoD.Contains("SLNV")).OneD);

        // On FLAT's PEs the 2D array only does the two contractions: it waits for LM, RM and SLN on the 1D array.
        var flat = SpatialArrayModel.Evaluate(Specs.Load("attention.fusemax"), Specs.Sizes(("P", P), ("M", M), ("E", E), ("F", F)), SpatialPresets.FlatInOrder, Instances);
        Assert.Equal(new[] { "LM", "RM", "SLN" }, flat.Phases.Single(p => p.Name == "wait 1").OneD);
        var oneD = 3 * 256 * u + (4 + 2 * F) * u; // LM, SLN, SLD per point; RM, PRM, SPD, RD, SPNV, RNV per row
        Close(Math.Max(E * u, av) + 256 * u + (256 * u + u + 256 * u) + Math.Max(F * u, oneD - (256 * u + u + 256 * u)), flat.Cycles);
    }

    [Fact]
    public void UnfusedSumsItsKernelsEachBoundByComputeOrMemory()
    {
        const int P = 2048, M = 2048, E = 64, F = 64;
        var r = SpatialArrayModel.Evaluate(Specs.Load("attention.3pass"), Specs.Sizes(("P", P), ("M", M), ("E", E), ("F", F)), SpatialPresets.Unfused, 1);
        Assert.Equal(3, r.Phases.Count);
        Assert.Equal(new[] { "QK" }, r.Phases[0].TwoD);
        Assert.Equal(new[] { "GM", "SN", "SD", "A" }, r.Phases[1].OneD);
        Assert.Equal(new[] { "AV" }, r.Phases[2].TwoD);
        var bw = SpatialPresets.DramBytesPerSecond;
        var f = SpatialPresets.ClockHz;
        // QK: read Q and K, write the scores. Softmax: read the scores once (a row fits), write A. AV: read A and V, write the output.
        var qk = Math.Max(E * (double)M * P / 65536 / f, 2.0 * (P * E + M * E + (double)M * P) / bw);
        var softmax = Math.Max(4.0 * M * P / 256 / f, 2.0 * (2.0 * M * P) / bw);
        var av = Math.Max(F * (double)M * P / 65536 / f, 2.0 * ((double)M * P + M * F + P * F) / bw);
        Close(qk + softmax + av, r.LatencySeconds);
    }

    [Fact]
    public void EnergyIsActionsTimesEnergyPerActionAndMacsDominateFuseMax()
    {
        const int P = 4096, M = 4096, E = 64, F = 64;
        var r = SpatialArrayModel.Evaluate(Specs.Load("attention.fusemax"), Specs.Sizes(("P", P), ("M", M), ("E", E), ("F", F)), SpatialPresets.FuseMax, 1);
        // MACs: per (m, p) point E + F for the contractions and 6 for SLN's exp; per (m1, p) 6 for PRM's exp,
        // 1 for SPD's multiply and F for SPNV's (a multiply runs on a MAC unit).
        var macs = (double)M * P * (E + F + 6) + (M / 256.0) * P * (6 + 1 + F);
        var macEnergy = r.EnergyPjByAction["mac"];
        Assert.True(macEnergy / r.EnergyPj is > 0.93 and < 0.97, $"MAC share {macEnergy / r.EnergyPj}");
        Close(macs * 17.16, macEnergy, 1e-3);
        Close(r.LatencySeconds * SpatialPresets.ClockHz * (65536 + 256) * 0.653, r.EnergyPjByAction["pe_cycle"]);
        Close(r.DramBytes * 8 / 64 * 249.6, r.EnergyPjByAction["dram"]);
    }

    [Fact]
    public void BindingCanBeOverriddenByOutputName()
    {
        var sizes = Specs.Sizes(("P", 1024), ("M", 1024), ("E", 64), ("F", 64));
        var cascade = Specs.Load("attention.fusemax");
        var derived = SpatialArrayModel.Evaluate(cascade, sizes, SpatialPresets.FuseMax);
        var forced = SpatialArrayModel.Evaluate(cascade, sizes, SpatialPresets.FuseMax, 1, new Dictionary<string, string> { ["SLN"] = "1D" });
        Assert.Equal("1D", Of(forced, "SLN").Array);
        // On the 1D array SLN costs 7 cycles per point on 256 PEs instead of 65536.
        Close(Cycles(derived, "SLN") * 256, Cycles(forced, "SLN"));
        Assert.True(forced.LatencySeconds > 10 * derived.LatencySeconds);
        Assert.Throws<ArgumentException>(() => SpatialArrayModel.Evaluate(cascade, sizes, SpatialPresets.Flat, 1, new Dictionary<string, string> { ["BQK"] = "3D" }));
    }

    [Fact]
    public void TargetsRoundTripThroughJson()
    {
        foreach (var name in SpatialPresets.Names)
        {
            var preset = SpatialPresets.Get(name);
            var json = preset.ToJson();
            var back = SpatialTarget.FromJson(json);
            Assert.Equal(json, back.ToJson());
            var sizes = Specs.Sizes(("P", 1024), ("M", 1024), ("E", 64), ("F", 64));
            var cascade = Specs.Load("attention.3pass");
            Assert.Equal(SpatialArrayModel.Evaluate(cascade, sizes, preset, 8).LatencySeconds, SpatialArrayModel.Evaluate(cascade, sizes, back, 8).LatencySeconds);
        }
        using var doc = System.Text.Json.JsonDocument.Parse(SpatialPresets.FuseMax.ToJson());
        foreach (var field in new[] { "name", "arrays", "bufferBytes", "dramBytesPerSecond", "clockHz", "wordBytes", "queryTileGranularity", "overlap", "energyPj" })
            Assert.True(doc.RootElement.TryGetProperty(field, out _), field);
        Assert.Equal("interleaved", doc.RootElement.GetProperty("overlap").GetString());
        Assert.Throws<ArgumentException>(() => SpatialTarget.FromJson("{ \"name\": \"x\" }"));
        Assert.Throws<ArgumentException>(() => SpatialTarget.FromJson("not json"));
    }

    public static TheoryData<string> SpecNames() => new(Specs.Names);

    [Theory]
    [MemberData(nameof(SpecNames))]
    public void EverySpecRunsOnEveryPreset(string spec)
    {
        var cascade = Specs.Load(spec);
        var sizes = Kernels.Einsum.Interpretation.CascadeShapes.RequiredSizes(cascade)
            .Where(s => s.Default is null).ToDictionary(s => s.Size, _ => 256);
        foreach (var name in SpatialPresets.Names)
        {
            var r = SpatialArrayModel.Evaluate(cascade, sizes, SpatialPresets.Get(name), 4);
            Assert.True(r.LatencySeconds > 0 && double.IsFinite(r.LatencySeconds), $"{spec} on {name}");
            Assert.True(r.EnergyPj > 0 && r.Util2D <= 1 + 1e-9 && r.Util1D <= 1 + 1e-9, $"{spec} on {name}");
            Assert.Contains(r.Einsums, e => e.Cycles > 0);
        }
    }
}
