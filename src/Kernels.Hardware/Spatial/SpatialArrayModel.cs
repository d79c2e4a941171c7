using Kernels.Einsum.Analysis;
using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Ir;
using Kernels.Hardware.Targets;

namespace Kernels.Hardware.Spatial;

/// <summary>One Einsum on its array: points (all instances), operations by kind, array cycles.</summary>
public sealed record EinsumCost(int Id, string Output, string? Array, double Points, IReadOnlyDictionary<string, double> Ops, double Cycles)
{
    /// <summary>Operations with a MAC counted as two (multiply and add), everything else as one.</summary>
    public double Flops => Ops.Sum(o => o.Key == "mac" ? 2 * o.Value : o.Value);
}

/// <summary>One phase of the schedule: the arrays run these Einsums concurrently; a phase lasts max(2D, 1D) cycles plus any
/// stall (Serial phases: max(compute, memory) seconds).</summary>
/// <param name="StallCycles">Cycles no array computes: the 2D array draining its pipeline before a wait (in-order schedule).</param>
public sealed record PhaseCost(string Name, IReadOnlyList<string> TwoD, IReadOnlyList<string> OneD, double Cycles2D, double Cycles1D, double DramBytes, double Seconds,
    double StallCycles = 0)
{
    public double Cycles => Math.Max(Cycles2D, Cycles1D) + StallCycles;
}

/// <summary>Everything the model computes for one cascade on one target.</summary>
public sealed record SpatialResult(
    string Target,
    string Kernel,
    IReadOnlyDictionary<string, long> Sizes,
    double Instances,
    IReadOnlyList<EinsumCost> Einsums,
    IReadOnlyList<PhaseCost> Phases,
    double Cycles,
    double ComputeSeconds,
    double MemorySeconds,
    double LatencySeconds,
    double DramBytes,
    TrafficResult Traffic,
    double Util2D,
    double Util1D,
    IReadOnlyDictionary<string, double> EnergyPjByAction)
{
    public double EnergyPj => EnergyPjByAction.Values.Sum();

    public bool MemoryBound => MemorySeconds > ComputeSeconds;

    public double Busy(string array) => Einsums.Where(e => e.Array == array).Sum(e => e.Cycles);
}

/// <summary>
/// The spatial-array model: a cascade bound to a target's 2D and 1D arrays, scheduled under the
/// target's overlap rule, with DRAM traffic from the tile the buffer allows, and energy as actions
/// times energy per action. See docs/hardware.md for the formulas.
/// </summary>
public static class SpatialArrayModel
{
    /// <summary>Busy cycles over the run's cycles. Busy never exceeds the run by construction (every phase lasts at least as long
    /// as each array's work in it), but the two are sums taken in different orders and through seconds, so a fully busy array
    /// can come out at 1 + 1 ulp: that rounding is clamped.</summary>
    private static double Utilisation(double busyCycles, double runCycles) => runCycles == 0 ? 0 : Math.Min(1.0, busyCycles / runCycles);

    /// <param name="cascade">Any bound cascade (from <c>CascadeCompiler.Compile</c> or a generated descriptor).</param>
    /// <param name="sizes">The cascade's sizes. A tile size (<c>M0</c>) left out is bound to the 2D array's height.</param>
    /// <param name="instances">Independent copies of the cascade run back to back (batch x heads for attention).</param>
    /// <param name="bindingOverrides">Output tensor name -> array name, to override the derived binding.</param>
    public static SpatialResult Evaluate(Cascade cascade, IReadOnlyDictionary<string, int> sizes, SpatialTarget target, double instances = 1,
        IReadOnlyDictionary<string, string>? bindingOverrides = null)
    {
        if (cascade is null) throw new ArgumentNullException(nameof(cascade));
        if (sizes is null) throw new ArgumentNullException(nameof(sizes));
        if (target is null) throw new ArgumentNullException(nameof(target));
        if (instances <= 0) throw new ArgumentException("instances must be positive.", nameof(instances));
        target.Validate();

        var bound = new Dictionary<string, int>(sizes, StringComparer.Ordinal);
        foreach (var r in cascade.Ranks.Where(r => r.Kind == RankKind.PartitionInner && r.AliasOf is null))
            if (!bound.ContainsKey(r.Size)) bound[r.Size] = target.Array2D.Rows;
        var report = PassAnalysis.Analyze(cascade, bound);
        var shapes = CascadeShapes.Bind(cascade, bound);
        var binding = ArrayBinder.Bind(cascade, report, target, bindingOverrides);

        var costs = new List<EinsumCost>();
        foreach (var e in cascade.Einsums)
        {
            var points = (report.Einsums.First(r => r.Id == e.Id).PointsValue ?? 0) * instances;
            var perPoint = OpCounter.PerPoint(e);
            var ops = perPoint.ToDictionary(p => p.Key, p => p.Value * points, StringComparer.Ordinal);
            var arrayName = binding[e.Id];
            double einsumCycles = 0;
            if (arrayName is not null)
            {
                var array = target.Arrays.First(a => a.Name == arrayName);
                einsumCycles = ops.Sum(o => o.Value * array.Ops[o.Key].Cycles) / array.Pes;
            }
            costs.Add(new EinsumCost(e.Id, e.Output.Name, arrayName, points, ops, einsumCycles));
        }

        var all = new HashSet<int>(cascade.Einsums.Select(e => e.Id));
        List<PhaseCost> phases;
        double cycles, computeSeconds, memorySeconds, latency, dramBytes;
        TrafficResult traffic;
        if (target.Overlap == OverlapRule.Serial)
        {
            phases = new List<PhaseCost>();
            var groups = SerialPhases(cascade, binding);
            traffic = TrafficModel.Analyze(cascade, report, shapes, binding, target, all);
            dramBytes = 0;
            computeSeconds = memorySeconds = latency = 0;
            cycles = 0;
            foreach (var (name, ids) in groups)
            {
                var t = TrafficModel.Analyze(cascade, report, shapes, binding, target, ids);
                var c2 = costs.Where(c => ids.Contains(c.Id) && c.Array == target.Array2D.Name).Sum(c => c.Cycles);
                var c1 = costs.Where(c => ids.Contains(c.Id) && c.Array == target.Array1D.Name).Sum(c => c.Cycles);
                var bytes = t.Bytes * instances;
                var compute = Math.Max(c2, c1) / target.ClockHz;
                var memory = bytes / target.DramBytesPerSecond;
                phases.Add(new PhaseCost(name, Names(costs, ids, target.Array2D.Name), Names(costs, ids, target.Array1D.Name), c2, c1, bytes, Math.Max(compute, memory)));
                cycles += Math.Max(c2, c1);
                computeSeconds += compute;
                memorySeconds += memory;
                latency += Math.Max(compute, memory);
                dramBytes += bytes;
            }
        }
        else
        {
            phases = target.Overlap is OverlapRule.Interleaved or OverlapRule.InOrder
                ? SegmentPhases(cascade, binding, costs, target, target.Overlap == OverlapRule.Interleaved,
                    target.Overlap == OverlapRule.InOrder ? DrainCycles(shapes, binding, target, instances) : 0)
                : new List<PhaseCost>
                {
                    new("pipelined", Names(costs, all, target.Array2D.Name), Names(costs, all, target.Array1D.Name),
                        costs.Where(c => c.Array == target.Array2D.Name).Sum(c => c.Cycles), costs.Where(c => c.Array == target.Array1D.Name).Sum(c => c.Cycles), 0, 0),
                };
            cycles = phases.Sum(p => p.Cycles);
            traffic = TrafficModel.Analyze(cascade, report, shapes, binding, target, all);
            dramBytes = traffic.Bytes * instances;
            computeSeconds = cycles / target.ClockHz;
            memorySeconds = dramBytes / target.DramBytesPerSecond;
            latency = Math.Max(computeSeconds, memorySeconds);
            phases = phases.Select(p => p with { Seconds = p.Cycles / target.ClockHz }).ToList();
        }

        var runCycles = latency * target.ClockHz;
        var util2 = Utilisation(costs.Where(c => c.Array == target.Array2D.Name).Sum(c => c.Cycles), runCycles);
        var util1 = Utilisation(costs.Where(c => c.Array == target.Array1D.Name).Sum(c => c.Cycles), runCycles);
        var energy = Energy(cascade, shapes, target, costs, runCycles, dramBytes, instances);
        return new SpatialResult(target.Name, cascade.Name, shapes.RankSizes.Where(p => cascade.Rank(p.Key).AliasOf is null).ToDictionary(p => cascade.Rank(p.Key).Size, p => p.Value),
            instances, costs, phases, cycles, computeSeconds, memorySeconds, latency, dramBytes, traffic, util2, util1, energy);
    }

    private static List<string> Names(List<EinsumCost> costs, ISet<int> ids, string array) =>
        costs.Where(c => ids.Contains(c.Id) && c.Array == array).Select(c => c.Output).ToList();

    /// <summary>Serial (unfused) phases: maximal runs of consecutive Einsums on the same array; copies and inits join the phase of their first reader.</summary>
    internal static List<(string Name, HashSet<int> Ids)> SerialPhases(Cascade cascade, ArrayBinding binding)
    {
        var einsums = cascade.Einsums;
        var phases = new List<(string Array, HashSet<int> Ids)>();
        foreach (var e in einsums)
        {
            var array = binding[e.Id];
            if (array is null) continue;
            if (phases.Count == 0 || phases[^1].Array != array) phases.Add((array, new HashSet<int>()));
            phases[^1].Ids.Add(e.Id);
        }
        foreach (var e in einsums.Where(e => binding[e.Id] is null))
        {
            var reader = einsums.FirstOrDefault(r => r.Id != e.Id && binding[r.Id] is not null && r.Reads().Any(x => x.Tensor.Name == e.Output.Name));
            var phase = reader is null ? phases.LastOrDefault() : phases.First(p => p.Ids.Contains(reader.Id));
            phase.Ids?.Add(e.Id);
        }
        return phases.Select((p, i) => ($"kernel {i + 1} ({p.Array})", p.Ids)).ToList();
    }

    /// <summary>
    /// The 2D Einsums of one iteration cut into segments wherever one needs a 1D result of the same
    /// iteration (LM -> RM -> SLN); those 1D Einsums run alone between segments (the 2D array waits).
    /// <para>Interleaved (FuseMax): every other 1D Einsum runs under the earliest segment after its inputs
    /// exist; one that needs the last segment's 2D output runs under the next iteration's first segment,
    /// and 1D work after the loop under the next instance's first segment.</para>
    /// <para>In order (no interleaving): a 1D Einsum may also run under the segment whose 2D output it
    /// reads, streaming behind it, but never under a later iteration; and before every wait the 2D array
    /// drains its pipeline (<paramref name="drainCycles"/>).</para>
    /// cycles = sum over segments of max(2D, 1D) + the waits (+ the drains).
    /// </summary>
    internal static List<PhaseCost> SegmentPhases(Cascade cascade, ArrayBinding binding, List<EinsumCost> costs, SpatialTarget target, bool interleave, double drainCycles)
    {
        var cost = costs.ToDictionary(c => c.Id);
        var computing = cascade.Einsums.Where(e => binding[e.Id] is not null).ToList();
        var loopBlock = cascade.Blocks.OrderByDescending(b => b.Einsums.Sum(e => cost[e.Id].Cycles)).FirstOrDefault();
        bool InLoop(ExtendedEinsum e) => loopBlock is null || e.IterativeRank == loopBlock.Rank;
        var is2D = computing.ToDictionary(e => e.Id, e => binding[e.Id] == target.Array2D.Name);
        var loop = computing.Where(InLoop).ToList();

        // Same-step dependencies between computing Einsums, seen through copies.
        var deps = new Dictionary<int, List<ExtendedEinsum>>();
        List<ExtendedEinsum> Deps(ExtendedEinsum e)
        {
            if (deps.TryGetValue(e.Id, out var d)) return d;
            d = new List<ExtendedEinsum>();
            foreach (var p in ArrayBinder.Producers(cascade, e))
                if (binding[p.Id] is not null) d.Add(p);
                else d.AddRange(Deps(p));
            deps[e.Id] = d;
            return d;
        }

        var segments = new List<(List<ExtendedEinsum> TwoD, List<ExtendedEinsum> OneD)> { (new(), new()) };
        var barriers = new List<List<ExtendedEinsum>> { new() };
        var position = new Dictionary<int, int>(); // 2k+1: segment k; 2k: the wait before segment k
        foreach (var x in loop.Where(e => is2D[e.Id]))
        {
            var needed = new List<ExtendedEinsum>();
            void Need(ExtendedEinsum e)
            {
                foreach (var p in Deps(e))
                    if (!is2D[p.Id] && InLoop(p) && !position.ContainsKey(p.Id) && !needed.Contains(p))
                    {
                        Need(p);
                        needed.Add(p);
                    }
            }
            Need(x);
            if (needed.Count > 0)
            {
                segments.Add((new(), new()));
                var order = loop.Where(needed.Contains).ToList();
                barriers.Add(order);
                foreach (var n in order) position[n.Id] = 2 * (segments.Count - 1);
            }
            segments[^1].TwoD.Add(x);
            position[x.Id] = 2 * segments.Count - 1;
        }
        foreach (var y in loop.Where(e => !is2D[e.Id] && !position.ContainsKey(e.Id)))
        {
            var placed = false;
            for (var k = 0; k < segments.Count && !placed; k++)
            {
                var ok = Deps(y).Where(InLoop).All(p => position.TryGetValue(p.Id, out var pos) && (is2D[p.Id] && interleave ? pos < 2 * k + 1 : pos <= 2 * k + 1));
                if (!ok) continue;
                segments[k].OneD.Add(y);
                position[y.Id] = 2 * k + 1;
                placed = true;
            }
            if (!placed)
            {
                segments[0].OneD.Add(y);
                position[y.Id] = 1;
            }
        }
        var outside = computing.Where(e => !InLoop(e)).ToList();
        segments[0].OneD.AddRange(outside.Where(e => !is2D[e.Id]));

        double Sum(IEnumerable<ExtendedEinsum> es) => es.Sum(e => cost[e.Id].Cycles);
        List<string> N(IEnumerable<ExtendedEinsum> es) => es.Select(e => e.Output.Name).ToList();
        var phases = new List<PhaseCost>();
        for (var k = 0; k < segments.Count; k++)
        {
            if (k > 0) phases.Add(new PhaseCost($"wait {k}", new List<string>(), N(barriers[k]), 0, Sum(barriers[k]), 0, 0, drainCycles));
            phases.Add(new PhaseCost($"segment {k + 1}", N(segments[k].TwoD), N(segments[k].OneD), Sum(segments[k].TwoD), Sum(segments[k].OneD), 0, 0));
        }
        var tail = outside.Where(e => is2D[e.Id]).ToList();
        if (tail.Count > 0) phases.Add(new PhaseCost("after the loop", N(tail), new List<string>(), Sum(tail), 0, 0, 0));
        return phases;
    }

    /// <summary>What one drain of the 2D array costs over the whole run: its pipeline depth (rows) once per rows x columns tile
    /// of (query, streamed) points, i.e. instances x queries x streamed length / columns cycles.</summary>
    private static double DrainCycles(CascadeShapes shapes, ArrayBinding binding, SpatialTarget target, double instances)
    {
        var queries = binding.OuterRanks.Aggregate(1.0, (acc, r) => acc * shapes.RankSize(r));
        return instances * queries * shapes.RankSize(binding.InnerRoot) / target.Array2D.Columns;
    }

    /// <summary>Energy by action: operations, every PE clocked for the whole run, buffer rows for DRAM traffic and for
    /// values passed between arrays, DRAM accesses.</summary>
    private static Dictionary<string, double> Energy(Cascade cascade, CascadeShapes shapes, SpatialTarget target, List<EinsumCost> costs, double runCycles, double dramBytes, double instances)
    {
        var counts = new Dictionary<string, double>(StringComparer.Ordinal);
        void Add(string action, double n)
        {
            counts.TryGetValue(action, out var c);
            counts[action] = c + n;
        }
        foreach (var c in costs.Where(c => c.Array is not null))
        {
            var array = target.Arrays.First(a => a.Name == c.Array);
            foreach (var (op, n) in c.Ops)
                foreach (var (action, per) in array.Ops[op].Actions)
                    Add(action, n * per);
        }
        Add("pe_cycle", runCycles * target.Arrays.Sum(a => a.Pes));

        // Values produced on one array and read on the other pass through the global buffer.
        double bufferWriteBytes = dramBytes, bufferReadBytes = dramBytes;
        foreach (var writer in cascade.Einsums.Where(e => !e.IsInit))
        {
            var wa = costs.First(c => c.Id == writer.Id).Array;
            if (wa is null) continue;
            var readers = cascade.Einsums.Where(e => e.Id != writer.Id && e.Reads().Any(r => r.Tensor.Name == writer.Output.Name))
                .Select(e => costs.First(c => c.Id == e.Id).Array).Where(a => a is not null && a != wa).Count();
            if (readers == 0) continue;
            var bytes = shapes.ElementCount(writer.Output.Name) * (double)target.WordBytes * instances;
            bufferWriteBytes += bytes;
            bufferReadBytes += bytes * readers;
        }
        Add("buffer_write", bufferWriteBytes * 8 / target.BufferRowBits);
        Add("buffer_read", bufferReadBytes * 8 / target.BufferRowBits);
        Add("dram", dramBytes * 8 / target.DramAccessBits);
        return counts.ToDictionary(p => p.Key, p => p.Value * target.Energy(p.Key), StringComparer.Ordinal);
    }
}
