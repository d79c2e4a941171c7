using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Ir;

namespace Kernels.Einsum.Loops;

/// <summary>
/// Runs a <see cref="LoopProgram"/> in double precision, statement by statement, the grid points of a kernel one after
/// another. It is the second oracle: a lowering is right when this agrees with the <see cref="ReferenceInterpreter"/>,
/// and a printer is right when its code agrees with this.
/// </summary>
public sealed class LoopInterpreter
{
    private readonly LoopProgram _program;
    private readonly Dictionary<string, long> _sizes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Array2> _tensors = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _indices = new(StringComparer.Ordinal);
    private readonly Dictionary<string, double> _floats = new(StringComparer.Ordinal);
    private readonly Dictionary<string, bool> _bools = new(StringComparer.Ordinal);

    private sealed class Array2(LoopBuffer buffer, double[] values, bool[]? flags, long[] extents, long[] storage)
    {
        public readonly LoopBuffer Buffer = buffer;
        public readonly double[] Values = values;
        public readonly bool[]? Flags = flags;
        public readonly long[] Extents = extents;
        public readonly long[] Storage = storage;
    }

    // The staged tiles of the kernel running: their elements (NaN where a copy left them unset), or null when the launch
    // gave a tile no shared memory.
    private readonly Dictionary<string, (StagedTile Tile, double[]? Values)> _tiles = new(StringComparer.Ordinal);
    private readonly long? _sharedFloats;

    // The group buffers of the kernel running that the launch gave shared memory: the group's copy and its extents.
    private readonly Dictionary<string, (GroupBuffer Group, double[] Values, bool[]? Flags, long[] Extents)> _groups = new(StringComparer.Ordinal);

    private LoopInterpreter(LoopProgram program, long? sharedFloats)
    {
        _program = program;
        _sharedFloats = sharedFloats;
    }

    /// <summary>
    /// Runs the program; inputs and results are dense row-major arrays, as for the reference interpreter. A launch gives
    /// its staged tiles shared memory in order while they fit in <paramref name="sharedFloats"/> elements (all of them
    /// when null), as a GPU launch does within the device's limit; the others are read from their tensors.
    /// </summary>
    public static IReadOnlyDictionary<string, double[]> Run(LoopProgram program, IReadOnlyDictionary<string, int> sizes, IReadOnlyDictionary<string, double[]> inputs, long? sharedFloats = null)
    {
        if (program is null) throw new ArgumentNullException(nameof(program));
        if (sizes is null) throw new ArgumentNullException(nameof(sizes));
        if (inputs is null) throw new ArgumentNullException(nameof(inputs));
        var shapes = CascadeShapes.Bind(program.Cascade, sizes); // the same argument checks as the reference interpreter
        var run = new LoopInterpreter(program, sharedFloats);
        foreach (var name in program.Sizes) run._sizes[name] = shapes.SizeValue(name);
        foreach (var (name, value) in program.DerivedSizes) run._sizes[name] = run.Index(value);
        foreach (var b in program.Buffers)
        {
            var extents = b.Extents.Select(run.Index).ToArray();
            var storage = b.StorageExtents.Select(run.Index).ToArray();
            var count = storage.Aggregate(1L, (a, x) => a * x);
            double[] values;
            if (b.Tensor.Role == TensorRole.Input)
            {
                if (!inputs.TryGetValue(b.Name, out var given) || given.LongLength != count)
                    throw new ArgumentException($"Input '{b.Name}' is missing or does not hold {count} elements.", nameof(inputs));
                Interpretation.ReferenceInterpreter.CheckIntegers(b.Tensor, given, nameof(inputs));
                values = given;
            }
            else values = new double[count];
            run._tensors[b.Name] = new Array2(b, values, b.HasFlags ? new bool[count] : null, extents, storage);
        }
        run.Stages(program.Stages);
        return program.Buffers.Where(b => b.Tensor.Role == TensorRole.Output).ToDictionary(b => b.Name, b => (double[])run._tensors[b.Name].Values.Clone());
    }

    private void Stages(IEnumerable<LoopStage> stages)
    {
        foreach (var stage in stages)
        {
            if (stage is SLaunch launch)
            {
                Launch(launch.Kernel);
                continue;
            }
            var steps = (SSteps)stage;
            for (long r = 0; ; r++)
            {
                _indices[steps.Rank] = r;
                if (steps.Stop.Holds(Index(steps.Stop.Left), Index(steps.Stop.Right))) break;
                Stages(steps.Body);
            }
        }
    }

    private void Launch(LoopKernel kernel)
    {
        var extents = kernel.Extents(_program.Cascade).Select(Index).ToArray();
        if (extents.Any(e => e <= 0)) return;
        _tiles.Clear();
        _groups.Clear();
        long used = 0;
        foreach (var name in kernel.SharedOrder)
        {
            // First fit, in the kernel's order: what does not fit stays in device memory.
            var count = Index(_program.SharedFloats(kernel, name));
            var fits = _sharedFloats is not { } limit || used + count <= limit;
            if (fits) used += count;
            if (kernel.Tiles.FirstOrDefault(t => t.Name == name) is { } tile) _tiles[name] = (tile, fits ? new double[count] : null);
            else if (fits)
            {
                var g = kernel.GroupBuffers.First(x => x.Tensor == name);
                var local = _program.LocalExtents(g).Select(Index).ToArray();
                var n = local.Aggregate(1L, (a, x) => a * x);
                _groups[name] = (g, new double[n], _program.Buffer(name).HasFlags ? new bool[n] : null, local);
            }
        }
        foreach (var tile in kernel.Tiles.Where(t => !_tiles.ContainsKey(t.Name))) _tiles[tile.Name] = (tile, null);
        var point = new long[extents.Length];
        while (true)
        {
            for (var d = 0; d < point.Length; d++) _indices[kernel.Grid[d]] = point[d];
            // A group's shared copies start as whatever the last group left: NaN here, so a read before a write shows.
            foreach (var copy in _groups.Values)
                for (var k = 0; k < copy.Values.Length; k++) copy.Values[k] = double.NaN;
            _floats.Clear();
            _bools.Clear();
            Statements(kernel.Body);
            var i = point.Length - 1;
            while (i >= 0 && ++point[i] == extents[i]) point[i--] = 0;
            if (i < 0) return;
        }
    }

    private void Statements(IReadOnlyList<LoopStmt> statements)
    {
        foreach (var s in statements)
        {
            switch (s)
            {
                case SComment: break;
                case SDeclare { IsBool: true } d: _bools[d.Name] = Bool(d.Value); break;
                case SDeclare d: _floats[d.Name] = Float(d.Value); break;
                case SAssign a when _bools.ContainsKey(a.Name): _bools[a.Name] = Bool(a.Value); break;
                case SAssign a: _floats[a.Name] = Float(a.Value); break;
                case SIf f: Statements(Bool(f.Condition) ? f.Then : f.Else); break;
                case SFor f:
                    Serial(f.Variable, f.Extent, f.Body);
                    break;
                case SGroupFor g:
                    // One thread runs the whole group's share: the same points, in row-major order.
                    Nest(g.Ranks, g.Extents, 0, g.Body);
                    break;
                case SGroupCombine:
                case SBarrier:
                    break;
                case SGroupChunks c:
                    // One thread runs every chunk, in order.
                    Serial(c.Rank, c.Extent, c.Body);
                    break;
                case SGroupPrefix:
                    // The only thread's chunk starts at the first step.
                    break;
                case SGroupScan scan:
                    // The only thread has no predecessor: the identity map.
                    _floats[scan.A] = 1;
                    _floats[scan.B] = 0;
                    break;
                case SLoop loop:
                    for (long r = 0; ; r++)
                    {
                        _indices[loop.Rank] = r;
                        if (loop.Stop.Holds(Index(loop.Stop.Left), Index(loop.Stop.Right))) break;
                        Statements(loop.Body);
                    }
                    break;
                case SLet let:
                {
                    var value = Index(let.Value);
                    _indices[let.Rank] = value;
                    if (value < Index(let.Limit)) Statements(let.Body);
                    break;
                }
                case SStage stage:
                    Stage(stage.Tile);
                    break;
                case SStore st:
                {
                    var value = Float(st.Value);
                    var (values, _, at) = Place(st.Tensor, st.Indices);
                    values[at] = value;
                    break;
                }
                case SSetFlag sf:
                {
                    var present = Bool(sf.Present);
                    var (_, flags, at) = Place(sf.Tensor, sf.Indices);
                    flags![at] = present;
                    break;
                }
                case SGroupCopy copy:
                    Copy(copy);
                    break;
                default: throw new InvalidOperationException("unknown statement " + s.GetType().Name);
            }
        }
    }

    /// <summary>Copies a tile's points that lie inside its tensor; the others hold NaN, so a read of one shows.</summary>
    private void Stage(string name)
    {
        var (tile, values) = _tiles[name];
        if (values is null) return;
        var i = 0;
        foreach (var _ in Points(tile.Ranks, tile.Extents, 0))
        {
            values[i++] = InBounds(tile.Tensor, tile.Indices) ? _tensors[tile.Tensor].Values[Offset(tile.Tensor, tile.Indices)] : double.NaN;
        }
    }

    /// <summary>Binds the ranks to every point of their extents in row-major order (the last fastest).</summary>
    private IEnumerable<int> Points(IReadOnlyList<string> ranks, IReadOnlyList<IndexExpr> extents, int depth)
    {
        if (depth == ranks.Count)
        {
            yield return 0;
            yield break;
        }
        var n = Index(extents[depth]);
        for (long i = 0; i < n; i++)
        {
            _indices[ranks[depth]] = i;
            foreach (var p in Points(ranks, extents, depth + 1)) yield return p;
        }
    }

    /// <summary>A tile's element at the current values of its ranks.</summary>
    private double TileElement(LTileLoad load)
    {
        var (tile, values) = _tiles[load.Tile];
        if (values is null) return Float(load.Load);
        long offset = 0;
        for (var d = 0; d < tile.Ranks.Count; d++)
        {
            var i = _indices[tile.Ranks[d]];
            var n = Index(tile.Extents[d]);
            if (i < 0 || i >= n) throw new InvalidOperationException($"Tile {tile.Name} read at {tile.Ranks[d]} = {i}, outside 0..{n - 1}.");
            offset = offset * n + i;
        }
        return values[offset];
    }

    private void Serial(string rank, IndexExpr extent, IReadOnlyList<LoopStmt> body)
    {
        var n = Index(extent);
        for (long i = 0; i < n; i++)
        {
            _indices[rank] = i;
            Statements(body);
        }
    }

    private void Nest(IReadOnlyList<string> ranks, IReadOnlyList<IndexExpr> extents, int depth, IReadOnlyList<LoopStmt> body)
    {
        if (depth == ranks.Count)
        {
            Statements(body);
            return;
        }
        var n = Index(extents[depth]);
        for (long i = 0; i < n; i++)
        {
            _indices[ranks[depth]] = i;
            Nest(ranks, extents, depth + 1, body);
        }
    }

    /// <summary>Where a point of a tensor lives: its group's shared copy when it has one, else device memory.</summary>
    private (double[] Values, bool[]? Flags, long Offset) Place(string tensor, IReadOnlyList<IndexExpr> indices)
    {
        if (!_groups.TryGetValue(tensor, out var copy))
        {
            var t = _tensors[tensor];
            return (t.Values, t.Flags, Offset(tensor, indices));
        }
        var (g, values, flags, local) = copy;
        var buffer = _tensors[tensor];
        long offset = 0;
        for (var d = 0; d < indices.Count; d++)
        {
            var i = Index(indices[d]);
            if (i < 0 || i >= buffer.Extents[d])
                throw new InvalidOperationException($"The lowering let {tensor}[{string.Join(",", indices)}] be touched outside its extents (dimension {d}: {i} of {buffer.Extents[d]}).");
            long at;
            if (g.Ranks[d] is null) at = Index(buffer.Buffer.StorageIndex(d, indices[d]));
            else if (g.Ranks[d] == g.Blocked) at = i - Index(g.RowBase);
            else at = i == _indices[g.Ranks[d]!] ? 0 : -1;
            if (at < 0 || at >= local[d])
                throw new InvalidOperationException($"{tensor}[{string.Join(",", indices)}] lies outside its group's copy (dimension {d}).");
            offset = offset * local[d] + at;
        }
        return (values, flags, offset);
    }

    /// <summary>Copies the group's points of a group buffer between device memory and its shared copy (the rows of a
    /// partial last block that lie outside the tensor are left alone).</summary>
    private void Copy(SGroupCopy copy)
    {
        if (!_groups.TryGetValue(copy.Tensor, out var shared)) return;
        var (g, values, flags, local) = shared;
        var t = _tensors[copy.Tensor];
        var point = new long[local.Length];
        for (long n = 0; n < values.LongLength; n++)
        {
            var rest = n;
            for (var d = local.Length - 1; d >= 0; d--)
            {
                point[d] = rest % local[d];
                rest /= local[d];
            }
            long offset = 0;
            var inside = true;
            for (var d = 0; d < local.Length; d++)
            {
                var at = g.Ranks[d] is null ? point[d] : g.Ranks[d] == g.Blocked ? Index(g.RowBase) + point[d] : _indices[g.Ranks[d]!];
                if (g.Ranks[d] is not null && at >= t.Extents[d]) inside = false;
                offset = offset * t.Storage[d] + at;
            }
            if (!inside) continue;
            if (copy.Out)
            {
                t.Values[offset] = values[n];
                if (flags is not null) t.Flags![offset] = flags[n];
            }
            else
            {
                values[n] = t.Values[offset];
                if (flags is not null) flags[n] = t.Flags![offset];
            }
        }
    }

    private long Offset(string tensor, IReadOnlyList<IndexExpr> indices)
    {
        var t = _tensors[tensor];
        long offset = 0;
        for (var d = 0; d < indices.Count; d++)
        {
            var i = Index(indices[d]);
            if (i < 0 || i >= t.Extents[d])
                throw new InvalidOperationException($"The lowering let {tensor}[{string.Join(",", indices)}] be touched outside its extents (dimension {d}: {i} of {t.Extents[d]}).");
            offset = offset * t.Storage[d] + Index(t.Buffer.StorageIndex(d, indices[d]));
        }
        return offset;
    }

    private bool InBounds(string tensor, IReadOnlyList<IndexExpr> indices)
    {
        var t = _tensors[tensor];
        for (var d = 0; d < indices.Count; d++)
        {
            var i = Index(indices[d]);
            if (i < 0 || i >= t.Extents[d]) return false;
        }
        return true;
    }

    private long Index(IndexExpr e) => e switch
    {
        IndexConstant c => c.Value,
        IndexVariable v => _indices[v.Rank],
        IndexSize s => _sizes[s.Size],
        IndexRead r => IndexArithmetic.FromValue(_tensors[r.Tensor].Values[Offset(r.Tensor, r.Subscripts)]),
        IndexBinary b => IndexArithmetic.Apply(b.Operator, Index(b.Left), Index(b.Right)),
        _ => throw new InvalidOperationException("unknown index expression"),
    };

    private bool Bool(LoopValue v) => v switch
    {
        LBool b => b.Value,
        LLeader => true,
        LLocal l => _bools[l.Name],
        LInBounds b => InBounds(b.Tensor, b.Indices),
        LFlag f => Place(f.Tensor, f.Indices) is var (_, flags, at) ? flags![at] : false,
        LFilter f => f.Comparison.Holds(Index(f.Comparison.Left), Index(f.Comparison.Right)),
        LCompare { Operator: FloatComparison.Greater } c => Float(c.Left) > Float(c.Right),
        LCompare c => Float(c.Left) == Float(c.Right),
        LIsNaN n => double.IsNaN(Float(n.Operand)),
        LLogic { Or: true } l => Bool(l.Left) || Bool(l.Right),
        LLogic l => Bool(l.Left) && Bool(l.Right),
        LNot n => !Bool(n.Operand),
        LSelect s => Bool(s.Condition) ? Bool(s.IfTrue) : Bool(s.IfFalse),
        _ => throw new InvalidOperationException("not a boolean: " + v.GetType().Name),
    };

    private double Float(LoopValue v)
    {
        switch (v)
        {
            case LNumber n: return n.Value;
            case LLocal l: return _floats[l.Name];
            case LLoad l:
            {
                var (values, _, at) = Place(l.Tensor, l.Indices);
                return values[at];
            }
            case LTileLoad t: return TileElement(t);
            case LIndex i: return Index(i.Index);
            case LUnary u: return ReferenceInterpreter.Apply(u.Function, Float(u.Operand));
            case LSelect s: return Bool(s.Condition) ? Float(s.IfTrue) : Float(s.IfFalse);
            case LBinary b:
            {
                var l = Float(b.Left);
                return ReferenceInterpreter.Apply(b.Operator, l, Float(b.Right));
            }
            default: throw new InvalidOperationException("not a float: " + v.GetType().Name);
        }
    }
}
