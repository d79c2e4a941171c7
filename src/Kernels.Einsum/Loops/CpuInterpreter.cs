using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Ir;
using Kernels.Einsum.Planning;

namespace Kernels.Einsum.Loops;

/// <summary>How <see cref="CpuInterpreter"/> runs a plan's parallel loop: the threads' ranges of rows, the rows of a
/// block when the plan does not fix them, and whether few long rows run one at a time (<see cref="CpuParallel.RowByRow"/>).</summary>
public sealed record CpuRun(int Threads = 2, int BlockRows = 3, bool RowByRow = false);

/// <summary>
/// Runs a <see cref="CpuProgram"/>'s plan in double precision, node by node, as the C# kernel runs it: each tensor in the
/// storage the plan gives it (dimensions dropped, kept as two slots, as a block's rows or a chunk of steps, in the
/// storage order; an intermediate in the output it is an alias of), scratch allocated per call or per thread's range
/// and filled with NaN where the kernel's is left unset, so a read of a point no node wrote shows; each Einsum over the
/// loops and bounds its plan gives it (a block's rows, a chunk's steps, the edge of a partial tile), absent points
/// tracked only by the exact lowering; a fill pass after a filled Einsum; a fused sweep reducing the map's value where
/// the reduction reads it; a folded call adding the rescaled running sum; a block's steps skipped where a skipper has no
/// point. Its outputs must match the reference interpreter's: a second oracle for every decision the program carries,
/// before any code is printed.
/// </summary>
public sealed class CpuInterpreter
{
    private readonly CpuProgram _program;
    private readonly CpuPlan _plan;
    private readonly CascadeShapes _shapes;
    private readonly CpuRun _run;
    private readonly Dictionary<string, long> _env = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Memory> _memory = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (long From, long To)> _chunks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Rank, string Live)> _liveSlots = new(StringComparer.Ordinal);
    private (long Begin, long End)? _rows;
    private long _blockRows;
    private (string Tensor, double Value)? _inRegister;

    private sealed class Memory
    {
        public double[] Values = Array.Empty<double>();
        public bool[]? Present;
    }

    /// <summary>What an access of a tensor needs, looked up once: its storage (its alias's), the name of the memory it
    /// lives in, its extents, and whether it keeps flags.</summary>
    private sealed class Access
    {
        public TensorStorage Storage = null!;
        public string Memory = "";
        public long[] Extents = Array.Empty<long>();
        public bool Flags;
    }

    private readonly Dictionary<string, Access> _access = new(StringComparer.Ordinal);

    private Access AccessOf(Tensor t)
    {
        if (_access.TryGetValue(t.Name, out var a)) return a;
        var storage = _program.Variants.StorageOf(P, t);
        a = new Access
        {
            Storage = storage,
            Memory = _program.Variants.Aliases.TryGetValue(t.Name, out var y) ? y.Name : t.Name,
            Extents = t.Dims.Select(d => _shapes.RankSize(d.Rank) + d.Offset).ToArray(),
            Flags = storage.HasPresence,
        };
        _access[t.Name] = a;
        return a;
    }

    private CpuInterpreter(CpuProgram program, CpuPlan plan, CascadeShapes shapes, CpuRun run) =>
        (_program, _plan, _shapes, _run) = (program, plan, shapes, run);

    /// <summary>
    /// Runs <paramref name="plan"/> (null: the one a call with these sizes runs, <see cref="CpuProgram.Choose"/>) on the
    /// inputs; returns every output, row-major. Throws <see cref="InvalidOperationException"/> where the program reads
    /// or writes outside a tensor's storage.
    /// </summary>
    public static IReadOnlyDictionary<string, double[]> Run(CpuProgram program, CpuPlan? plan, IReadOnlyDictionary<string, int> sizes, IReadOnlyDictionary<string, double[]> inputs, CpuRun? run = null)
    {
        if (program is null) throw new ArgumentNullException(nameof(program));
        if (inputs is null) throw new ArgumentNullException(nameof(inputs));
        var source = CascadeShapes.Bind(program.Variants.Source, sizes);
        plan ??= program.Choose(s => source.SizeValue(s));
        var shapes = CascadeShapes.Bind(plan.Cascade, sizes);
        var it = new CpuInterpreter(program, plan, shapes, run ?? new CpuRun());
        return it.Execute(inputs);
    }

    private Cascade C => _plan.Cascade;

    private KernelPlan P => _plan.Plan;

    private IReadOnlyDictionary<string, double[]> Execute(IReadOnlyDictionary<string, double[]> inputs)
    {
        foreach (var t in C.Tensors.Where(t => t.Role != TensorRole.Intermediate))
        {
            var count = _shapes.ElementCount(t.Name);
            if (t.Role == TensorRole.Input)
            {
                if (!inputs.TryGetValue(t.Name, out var data) || data.LongLength != count)
                    throw new ArgumentException($"Input '{t.Name}' is missing or does not hold {count} elements.", nameof(inputs));
                _memory[t.Name] = new Memory { Values = data };
                continue;
            }
            var s = P.Storage[t.Name];
            if (s.StorageOrder.Where((d, i) => d != i).Any() || s.Dims.Any(d => d != DimStorage.Kept))
                throw new InvalidOperationException($"The output {t.Name} is not stored whole in declaration order.");
            var values = new double[count];
            if (!_program.ClearedOutputs.Contains(t.Name)) for (var i = 0; i < values.Length; i++) values[i] = double.NaN; // the caller's span holds anything
            _memory[t.Name] = new Memory { Values = values, Present = s.HasPresence ? new bool[count] : null };
        }
        Allocate(TensorHome.Shared);
        Nodes(_plan.Hoisted);
        if (_plan.Parallel is { } parallel) Parallel(parallel);
        return C.Outputs.ToDictionary(o => o.Name, o => _memory[o.Name].Values, StringComparer.Ordinal);
    }

    /// <summary>Fresh scratch for every intermediate living in <paramref name="home"/>: values NaN, no point present.</summary>
    private void Allocate(TensorHome home)
    {
        foreach (var s in P.Storage.Values.Where(x => x.Home == home && !_program.Variants.Aliases.ContainsKey(x.Tensor.Name)))
        {
            var count = Count(s);
            var values = new double[count];
            for (var i = 0; i < values.Length; i++) values[i] = double.NaN;
            _memory[s.Tensor.Name] = new Memory { Values = values, Present = s.HasPresence ? new bool[count] : null };
        }
    }

    private long Count(TensorStorage s)
    {
        long n = 1;
        for (var d = 0; d < s.Dims.Count; d++) n *= Extent(s, d);
        return n;
    }

    private long Extent(TensorStorage s, int d) => s.Dims[d] switch
    {
        DimStorage.Kept => _shapes.RankSize(s.Tensor.Dims[d].Rank) + s.Tensor.Dims[d].Offset,
        DimStorage.Rolling => 2,
        DimStorage.Blocked => _blockRows,
        DimStorage.Chunk => KernelPlanner.StepsPerChunk,
        _ => 1,
    };

    // ------------------------------------------------------------------ the parallel loop

    private void Parallel(CpuParallel par)
    {
        var rows = _shapes.RankSize(par.Rank);
        if (par.RowByRow is { } byRow && _run.RowByRow)
        {
            Allocate(TensorHome.SliceLocal);
            for (long r = 0; r < rows; r++)
            {
                _env[par.Rank] = r;
                Nodes(byRow);
            }
            return;
        }
        var outer = par.OuterSlices.Select(o => _shapes.RankSize(o)).Aggregate(1L, (a, b) => a * b);
        var pairs = outer * rows;
        _blockRows = par.BlockRows ?? _run.BlockRows;
        var threads = Math.Max(1, _run.Threads);
        var per = (pairs + threads - 1) / threads;
        for (long from = 0; from < pairs; from += Math.Max(1, per))
        {
            var to = Math.Min(pairs, from + Math.Max(1, per));
            Allocate(TensorHome.SliceLocal); // each thread's own scratch, holding nothing it wrote for another range
            for (var i = from; i < to;)
            {
                var op = i / rows;
                var start = i - op * rows;
                var end = Math.Min(rows, start + (to - i));
                i += end - start;
                for (var k = par.OuterSlices.Count - 1; k >= 0; k--)
                {
                    var size = _shapes.RankSize(par.OuterSlices[k]);
                    _env[par.OuterSlices[k]] = k == 0 ? op : op % size;
                    op /= size == 0 ? 1 : size;
                }
                if (par.RowBlocks)
                {
                    for (var pb = start; pb < end; pb += _blockRows)
                    {
                        _rows = (pb, Math.Min(pb + _blockRows, end));
                        Nodes(par.Body);
                    }
                    _rows = null;
                }
                else
                {
                    for (var r = start; r < end; r++)
                    {
                        _env[par.Rank] = r;
                        Nodes(par.Body);
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------ nodes

    private void Nodes(IReadOnlyList<CpuNode> nodes)
    {
        foreach (var node in nodes)
        {
            switch (node)
            {
                case CFolded:
                case CMaxFolded:
                    break;
                case CFold fold:
                    Fold(fold);
                    break;
                case CSweep sweep:
                    Sweep(sweep);
                    break;
                case CEinsum e:
                    Einsum(e);
                    if (e.MaxFold is { } maximum) Einsum(maximum); // computed at the contraction's call
                    break;
                default:
                    Steps((CSteps)node);
                    break;
            }
        }
    }

    private void Steps(CSteps node)
    {
        var block = node.Block;
        Nodes(node.Inits);
        var steps = _shapes.Steps(block.Rank);
        if (node.Chunk is { } chunk)
        {
            for (long from = 0; from < steps; from += chunk.Steps)
            {
                var to = Math.Min(from + chunk.Steps, steps);
                _chunks[block.Rank] = (from, to);
                Nodes(node.Before);
                for (var r = from; r < to; r++)
                {
                    _env[block.Rank] = r;
                    Nodes(node.Body);
                }
                Nodes(node.After);
            }
            _chunks.Remove(block.Rank);
            return;
        }
        var live = "_live_" + block.Rank;
        if (node.Skippers.Count > 0)
        {
            _env[live] = 0;
            foreach (var x in block.Einsums.Where(x => x.Output.CarriedDim is not null)) _liveSlots[x.Output.Name] = (block.Rank, live);
        }
        for (long r = 0; r < steps; r++)
        {
            _env[block.Rank] = r;
            if (node.Skippers.Any(NoPoint)) continue;
            Clip(node.Clips);
            Nodes(node.Body);
            _clips.Clear();
            if (node.Skippers.Count > 0) _env[live]++;
        }
    }

    /// <summary>True when some filter of the Einsum holds at no point of its loops (the other ranks as they are now).</summary>
    private bool NoPoint(ExtendedEinsum e)
    {
        SetEdges(e);
        var loops = LoopRanks(P.Einsums[e.Id]);
        foreach (var f in e.Filters)
        {
            var ranks = f.Left.Variables().Concat(f.Right.Variables()).Distinct().Where(loops.Contains).ToList();
            var any = false;
            ForEach(ranks, () =>
            {
                if (!any && f.Holds(Index(f.Left), Index(f.Right))) any = true;
            });
            if (!any) return true;
        }
        return false;
    }

    // The bounds a step's loops over a rank stop at (CSteps.Clips), while the step runs.
    private readonly Dictionary<string, long> _clips = new(StringComparer.Ordinal);

    /// <summary>
    /// The step's bounds: past the last point each clipping Einsum keeps for the rows at hand (the least of its filters'
    /// bounds), not rounded up to whole vectors (a kernel rounds up within the rank's loop; the fill covers the rest), so
    /// a bound that cut a kept point would leave it unwritten.
    /// </summary>
    private void Clip(IReadOnlyList<FilterFills.StepClip> clips)
    {
        foreach (var rank in clips.Select(c => c.Rank).Distinct())
        {
            long? end = null;
            long hi = 0;
            foreach (var clip in clips.Where(c => c.Rank == rank))
            {
                var x = C.Einsums.First(e => e.Id == clip.Einsum);
                SetEdges(x);
                hi = Hi(rank);
                var loops = LoopRanks(P.Einsums[x.Id]);
                long least = long.MaxValue;
                ForEach(clip.Rest.Variables().Distinct().Where(loops.Contains).ToList(), () => least = Math.Min(least, Index(clip.Rest)));
                if (least == long.MaxValue) continue;
                var bound = Math.Max(0, -least + (clip.Strict ? 0 : 1));
                end = end is { } e0 ? Math.Min(e0, bound) : bound;
            }
            if (end is { } b) _clips[rank] = Math.Min(hi, b);
        }
    }

    private static List<string> LoopRanks(EinsumPlan p) =>
        p.LoopOrder.Concat(p.Contraction is { } g ? new[] { g.I, g.J, g.K } : Array.Empty<string>()).Distinct().ToList();

    /// <summary>The inner ranks the Einsums run only up to the edge of a partial last tile, with the tile rank and the
    /// partitioned rank that bound them.</summary>
    private void SetEdges(params ExtendedEinsum[] einsums)
    {
        _edgeOf.Clear();
        _clipped.Clear();
        foreach (var e in einsums)
            if (P.EdgeBounds is { } all && all.TryGetValue(e.Id, out var bounds))
                foreach (var b in bounds) _edgeOf[b.Inner] = (b.Outer, b.Of);
        // In a step cut short, every Einsum over the rank stops at the step's bound (itself within the tile's edge).
        foreach (var clip in _clips)
            if (einsums.Any(e => e.Ranks.Contains(clip.Key))) _clipped[clip.Key] = clip.Value;
    }

    private readonly Dictionary<string, long> _clipped = new(StringComparer.Ordinal);

    private readonly Dictionary<string, (string Outer, string Of)> _edgeOf = new(StringComparer.Ordinal);

    /// <summary>The first point of a rank's loop: a chunk's first step, a block's first row, else 0.</summary>
    private long Lo(string rank) =>
        _chunks.TryGetValue(rank, out var c) ? c.From
        : P.RowBlocks && rank == P.SliceRank && _rows is { } b ? b.Begin
        : 0;

    /// <summary>The end of a rank's loop: a block's end, a chunk's end, the edge of a partial last tile, else the size.</summary>
    private long Hi(string rank)
    {
        if (P.RowBlocks && rank == P.SliceRank && _rows is { } b) return b.End;
        if (_chunks.TryGetValue(rank, out var c)) return c.To;
        if (_clipped.TryGetValue(rank, out var clip)) return clip;
        if (_edgeOf.TryGetValue(rank, out var edge))
        {
            var tile = _shapes.RankSize(rank);
            return Math.Min(tile, _shapes.RankSize(edge.Of) - _env[edge.Outer] * tile);
        }
        return _shapes.RankSize(rank);
    }

    /// <summary>Runs <paramref name="body"/> at every point of the ranks' loops, the first outermost, each over [Lo, Hi)
    /// as it opens.</summary>
    private void ForEach(IReadOnlyList<string> ranks, Action body, int at = 0)
    {
        if (at == ranks.Count)
        {
            body();
            return;
        }
        var rank = ranks[at];
        var saved = _env.TryGetValue(rank, out var v) ? v : (long?)null;
        for (long i = Lo(rank), end = Hi(rank); i < end; i++)
        {
            _env[rank] = i;
            ForEach(ranks, body, at + 1);
        }
        if (saved is { } s) _env[rank] = s;
        else _env.Remove(rank);
    }

    // ------------------------------------------------------------------ one Einsum

    private void Einsum(CEinsum node)
    {
        var (e, p) = (node.Einsum, node.Plan);
        SetEdges(e);
        var all = node.Fill is not null ? e with { Filters = Array.Empty<Comparison>() } : e;
        if (p.Lowering == EinsumLowering.Exact) Exact(all, p);
        else if (p.Lowering == EinsumLowering.Contraction) Contraction(all, p, e.Output, e.OutputIndices, null);
        else Dense(all, p);
        if (node.Fill is { } fill)
        {
            var loops = LoopRanks(p).Where(r => e.OutputRanks.Contains(r)).ToList();
            ForEach(loops, () =>
            {
                if (!Holds(e.Filters)) Store(e.Output, e.OutputIndices, fill, present: true);
            });
        }
    }

    private bool Holds(IReadOnlyList<Comparison> filters)
    {
        for (var i = 0; i < filters.Count; i++)
            if (!filters[i].Holds(Index(filters[i].Left), Index(filters[i].Right))) return false;
        return true;
    }

    private static List<string> Outer(ExtendedEinsum e, EinsumPlan p) => p.LoopOrder.Where(r => !e.ReducedRanks.Contains(r)).ToList();

    private static List<string> Reduced(ExtendedEinsum e, EinsumPlan p) => p.LoopOrder.Where(r => e.ReducedRanks.Contains(r)).ToList();

    /// <summary>Every point present: a map stores its value; a reduction combines the points its filters keep (the
    /// vector lowerings have none).</summary>
    private void Dense(ExtendedEinsum e, EinsumPlan p)
    {
        ForEach(Outer(e, p), () =>
        {
            if (e.Reduction is not { } op)
            {
                Store(e.Output, e.OutputIndices, Value(e.Body), present: true);
                return;
            }
            var reducer = new ReferenceInterpreter.Reducer(op);
            ForEach(Reduced(e, p), () =>
            {
                if (Holds(e.Filters)) reducer.Add(Value(e.Body));
            });
            Store(e.Output, e.OutputIndices, reducer.Result, present: true);
        });
    }

    /// <summary>A contraction (or a running sum's update folded with it): for each point of the batch loops, the rows and
    /// columns of the call, each the sum over its summed rank; with a fold, plus the factor times the previous sum.</summary>
    private void Contraction(ExtendedEinsum c, EinsumPlan p, Tensor output, IReadOnlyList<IndexExpr> indices, RescaleFold? fold)
    {
        var g = p.Contraction!;
        ForEach(p.LoopOrder.Concat(new[] { g.I, g.J }).ToList(), () =>
        {
            var reducer = new ReferenceInterpreter.Reducer(ReduceOperator.Sum);
            ForEach(new[] { g.K }, () => reducer.Add(Value(c.Body)));
            var value = reducer.Result;
            if (fold is not null) value += Value(fold.Factor) * Value(fold.Previous);
            Store(output, indices, value, present: true);
        });
    }

    private void Fold(CFold node)
    {
        var c = node.Fold.Contraction;
        SetEdges(c);
        Contraction(c, node.Contraction, node.Update.Output, node.Update.OutputIndices, node.Fold);
    }

    /// <summary>A map and the reduction after it in one sweep: each point of the map is stored and reduced, the reduction
    /// reading the map's value where it reads the map's output.</summary>
    private void Sweep(CSweep node)
    {
        var (map, reduce, pm) = (node.Map, node.Reduce, node.MapPlan);
        SetEdges(map, reduce);
        var v = pm.VectorRank!;
        var op = reduce.Reduction!.Value;
        ForEach(Outer(map, pm).Where(r => r != v).ToList(), () =>
        {
            var reducer = new ReferenceInterpreter.Reducer(op);
            ForEach(new[] { v }, () =>
            {
                var y = Value(map.Body);
                Store(map.Output, map.OutputIndices, y, present: true);
                _inRegister = (map.Output.Name, y);
                reducer.Add(Value(reduce.Body));
                _inRegister = null;
            });
            Store(reduce.Output, reduce.OutputIndices, reducer.Result, present: true);
        });
    }

    /// <summary>Tracks absent points as the interpreter does: a point outside a tensor or not flagged is absent, an
    /// output point left out by a filter is stored absent where its storage is reused or is the caller's.</summary>
    private void Exact(ExtendedEinsum e, EinsumPlan p)
    {
        var storage = StorageOf(e.Output);
        var outputRanks = e.OutputRanks;
        var outerFilters = e.Filters.Where(f => f.Left.Variables().Concat(f.Right.Variables()).All(v => outputRanks.Contains(v))).ToList();
        var innerFilters = e.Filters.Except(outerFilters).ToList();
        ForEach(Outer(e, p), () =>
        {
            if (!InBounds(e.Output, e.OutputIndices)) return;
            if (!Holds(outerFilters))
            {
                if (storage.IsReused || storage.Home == TensorHome.Argument) Store(e.Output, e.OutputIndices, 0, present: false);
                return;
            }
            double value;
            bool present;
            if (e.Reduction is not { } op)
            {
                present = ExactValue(e.Body, out value);
            }
            else
            {
                var reducer = new ReferenceInterpreter.Reducer(op);
                bool any = false, anyPresent = false;
                ForEach(Reduced(e, p), () =>
                {
                    if (!Holds(innerFilters)) return;
                    any = true;
                    if (!ExactValue(e.Body, out var x)) return;
                    anyPresent = true;
                    reducer.Add(x);
                });
                value = reducer.Result;
                present = !any || anyPresent;
            }
            Store(e.Output, e.OutputIndices, present ? value : 0, present);
        });
    }

    // ------------------------------------------------------------------ storage

    private TensorStorage StorageOf(Tensor t) => AccessOf(t).Storage;

    private string MemoryOf(Tensor t) => AccessOf(t).Memory;

    private bool InBounds(Tensor t, IReadOnlyList<IndexExpr> indices) => Indices(t, indices, out _);

    /// <summary>The point's indices, and whether each lies inside the tensor.</summary>
    private bool Indices(Tensor t, IReadOnlyList<IndexExpr> indices, out long[] values)
    {
        var extents = AccessOf(t).Extents;
        values = new long[indices.Count];
        var inside = true;
        for (var d = 0; d < indices.Count; d++)
        {
            var i = values[d] = Index(indices[d]);
            if (i < 0 || i >= extents[d]) inside = false;
        }
        return inside;
    }

    /// <summary>The element of a point in the tensor's storage (as the kernel's offsets compute it), checked to lie
    /// inside the point's tensor and inside the storage.</summary>
    private long Offset(Tensor t, IReadOnlyList<IndexExpr> indices)
    {
        if (!Indices(t, indices, out var at))
            throw new InvalidOperationException($"{_plan.Name} plan: {t.Name}[{string.Join(", ", at)}] lies outside {t.Name}'s extents ({Where()}).");
        return Offset(t, indices, at);
    }

    private long Offset(Tensor t, IReadOnlyList<IndexExpr> indices, long[] at)
    {
        var s = StorageOf(t);
        long acc = 0;
        foreach (var d in s.StorageOrder)
        {
            var kind = s.Dims[d];
            if (kind == DimStorage.Dropped) continue;
            var index = at[d];
            if (kind == DimStorage.Rolling && _liveSlots.TryGetValue(t.Name, out var live))
                index = indices[d].TryGetOffset(out var r, out var k) && r == live.Rank ? _env[live.Live] + k
                    : indices[d] is IndexSize z && z.Size == C.Rank(live.Rank).Size ? _env[live.Live] : index;
            if (kind == DimStorage.Rolling) index &= 1;
            if (kind == DimStorage.Blocked) index -= _rows?.Begin ?? throw new InvalidOperationException($"{_plan.Name} plan: {t.Name} keeps a block's rows outside a block ({Where()}).");
            if (kind == DimStorage.Chunk)
                index -= _chunks.TryGetValue(t.Dims[d].Rank, out var c) ? c.From : throw new InvalidOperationException($"{_plan.Name} plan: {t.Name} keeps a chunk of steps outside a chunk ({Where()}).");
            var extent = Extent(s, d);
            if (index < 0 || index >= extent)
                throw new InvalidOperationException($"{_plan.Name} plan: {t.Name}'s dimension {t.Dims[d]} ({kind}) is at {index} of its {extent} stored points ({Where()}).");
            acc = acc * extent + index;
        }
        return s.Panels is { } panels ? PanelOffset(acc, at[panels.K], Extent(s, panels.K), at[panels.J], Extent(s, panels.J)) : acc;
    }

    /// <summary>Panels' columns in this interpreter: a width of the runtime's (<c>Gemm.PanelColumns</c> of 256-bit vectors),
    /// so that a kernel whose block of panels is wider than one panel lays some of its points out differently from the plain
    /// layout, as the C# kernel does.</summary>
    internal const int PanelWidth = 16;

    /// <summary>The offset of point (k, j) of a copy stored in panels (<see cref="TensorStorage.Panels"/>), given
    /// <paramref name="plain"/>, its offset in the plain layout (k and j the two innermost dimensions): the block's first
    /// point stays, and inside it panel q of the columns holds its <paramref name="rows"/> rows of min(W, columns - qW)
    /// floats one after the other.</summary>
    private static long PanelOffset(long plain, long k, long rows, long j, long columns)
    {
        var block = plain - (k * columns + j);
        var first = j / PanelWidth * PanelWidth;
        return block + first * rows + k * Math.Min(PanelWidth, columns - first) + (j - first);
    }

    private string Where() => string.Join(", ", _env.Select(p => p.Key + "=" + p.Value.ToString(CultureInfo.InvariantCulture)))
        + (_rows is { } b ? $", rows [{b.Begin}, {b.End})" : "");

    private void Store(Tensor t, IReadOnlyList<IndexExpr> indices, double value, bool present)
    {
        var m = _memory[MemoryOf(t)];
        var at = Offset(t, indices);
        m.Values[at] = value;
        if (m.Present is not null && AccessOf(t).Flags) m.Present[at] = present;
    }

    private long Index(IndexExpr e) => e switch
    {
        IndexConstant c => c.Value,
        IndexVariable v => _env.TryGetValue(v.Rank, out var x) ? x : throw new InvalidOperationException($"{_plan.Name} plan: rank {v.Rank} has no value here ({Where()})."),
        IndexSize s => _shapes.SizeValue(s.Size),
        IndexRead r => IndexArithmetic.FromValue(_memory[MemoryOf(C.Tensor(r.Tensor))].Values[Offset(C.Tensor(r.Tensor), r.Subscripts)]),
        IndexBinary b => IndexArithmetic.Apply(b.Operator, Index(b.Left), Index(b.Right)),
        _ => throw new InvalidOperationException("unknown index expression"),
    };

    // ------------------------------------------------------------------ values

    /// <summary>A value with every point present (the lowerings other than the exact one).</summary>
    private double Value(Expr x)
    {
        switch (x)
        {
            case Constant c: return c.Value;
            case SizeValue s: return _shapes.SizeValue(s.Size);
            case IndexValue i: return Index(i.Index);
            case TensorRead r when _inRegister is { } reg && reg.Tensor == r.Tensor.Name: return reg.Value;
            case TensorRead r: return _memory[MemoryOf(r.Tensor)].Values[Offset(r.Tensor, r.Indices)];
            case Unary u: return ReferenceInterpreter.Apply(u.Function, Value(u.Operand));
            case Binary b: return ReferenceInterpreter.Apply(b.Operator, Value(b.Left), Value(b.Right));
            default: throw new InvalidOperationException("unknown expression " + x.GetType().Name);
        }
    }

    /// <summary>A value at a point that may be absent (false): outside its tensor, or not flagged present.</summary>
    private bool ExactValue(Expr x, out double value)
    {
        switch (x)
        {
            case TensorRead r:
            {
                value = 0;
                if (!Indices(r.Tensor, r.Indices, out var point)) return false;
                var m = _memory[MemoryOf(r.Tensor)];
                var at = Offset(r.Tensor, r.Indices, point);
                if (m.Present is not null && AccessOf(r.Tensor).Flags && !m.Present[at]) return false;
                value = m.Values[at];
                return true;
            }
            case Unary u:
                if (!ExactValue(u.Operand, out var o))
                {
                    value = 0;
                    return false;
                }
                value = ReferenceInterpreter.Apply(u.Function, o);
                return true;
            case Binary b:
            {
                var hl = ExactValue(b.Left, out var l);
                var hr = ExactValue(b.Right, out var r);
                if (!hl || !hr)
                {
                    value = hl ? l : r;
                    return b.Merge == MergeOperator.Union && (hl || hr);
                }
                value = ReferenceInterpreter.Apply(b.Operator, l, r);
                return true;
            }
            default:
                value = Value(x);
                return true;
        }
    }
}
