using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Ir;
using Kernels.Einsum.Loops;

namespace Kernels.Einsum.Emit;

/// <summary>
/// Prints a <see cref="LoopProgram"/> as C# for ILGPU: a static class with one kernel method per loop kernel (one thread
/// per grid point, the grid flattened to <c>Index1D</c>), the sizes and tensors as two structs passed to every kernel,
/// and host methods that check their arguments, allocate the intermediates and launch the kernels in order (an iteration
/// block's steps as a host loop). Kernels call only ILGPU's math (<c>XMath</c>) and static helpers printed beside them.
/// Every decision was made by the lowering; this class only prints.
/// </summary>
public static class IlgpuKernelEmitter
{
    /// <summary>
    /// The printed file: a static class nested in the kernel's declaring types, named after its method with <c>Gpu</c>
    /// appended (<c>MyKernels.AttentionGpu</c>), or <c>Gpu</c> for the canonical signature's <c>Run</c>
    /// (<c>Kernels.Generated.Softmax3pass.Gpu</c>, what <c>kernels emit --target ilgpu</c> prints).
    /// </summary>
    public static string Emit(LoopProgram program, KernelSignature signature)
    {
        if (program is null) throw new ArgumentNullException(nameof(program));
        if (signature is null) throw new ArgumentNullException(nameof(signature));
        return CodeWriter.GeneratedFile(signature, "the ILGPU kernels of " + CodeWriter.CascadeOrigin(program.Cascade, signature) + ", printed from its loop-nest program",
            disableMissingDocs: true, w => new Printer(program, w).Class(ClassName(signature)));
    }

    /// <summary>The name of the class that holds a kernel's GPU code.</summary>
    public static string ClassName(KernelSignature signature) => signature.MethodName == "Run" ? "Gpu" : signature.MethodName + "Gpu";

    private sealed class Printer(LoopProgram program, CodeWriter w)
    {
        private readonly Cascade _cascade = program.Cascade;
        private readonly HashSet<string> _boolLocals = new(StringComparer.Ordinal);

        private static IEnumerable<LoopStmt> Walk(IEnumerable<LoopStmt> statements)
        {
            foreach (var s in statements)
            {
                yield return s;
                var inner = s switch
                {
                    SFor f => f.Body,
                    SGroupFor g => g.Body,
                    SLoop l => l.Body,
                    SGroupChunks c => c.Body,
                    SGroupPrefix p => p.Body,
                    SLet l => l.Body,
                    SIf i => i.Then.Concat(i.Else),
                    _ => Enumerable.Empty<LoopStmt>(),
                };
                foreach (var x in Walk(inner)) yield return x;
            }
        }

        private static string Id(string name) => CSharpKernelEmitter.Id(name);

        private static string F(double v) => CSharpKernelEmitter.Float(v);

        public void Class(string name)
        {
            var inputs = program.Buffers.Where(b => b.Tensor.Role == TensorRole.Input).ToList();
            var outputs = program.Buffers.Where(b => b.Tensor.Role == TensorRole.Output).ToList();
            w.Line("/// <summary>");
            w.Line($"/// The cascade '{_cascade.Name}' as ILGPU kernels: one kernel per Einsum{(program.Kernels.Any(k => k.FusedBlock) ? " or fused iteration block" : "")}, {program.Schedule}; absent points tracked");
            w.Line("/// with a flag per element where the cascade can have them (as the reference interpreter does). Intermediates are");
            w.Line("/// stored in full.");
            w.Line("/// </summary>");
            w.Line($"[global::System.CodeDom.Compiler.GeneratedCode(\"{CSharpKernelEmitter.GeneratorName}\", \"{CSharpKernelEmitter.GeneratorVersion}\")]");
            w.Open($"public static class {name}");
            w.Line("/// <summary>The sizes, as bound and as derived (the number of tiles of a partitioned rank).</summary>");
            w.Open("public struct Sizes");
            foreach (var s in program.Sizes.Concat(program.DerivedSizes.Select(d => d.Name))) w.Line($"public long {Id(s)};");
            if (program.Kernels.Any(k => k.SharedOrder.Count > 0))
            {
                w.Line("/// <summary>Per launch of a fused kernel: bit i set when its i-th tile or group buffer got shared memory.</summary>");
                w.Line("public long _staged;");
            }
            w.Close();
            w.Line();
            w.Line("/// <summary>Every tensor's elements, row-major, and the presence flags (1: the point exists) of those that keep them.</summary>");
            w.Open("public struct Tensors");
            foreach (var b in program.Buffers)
            {
                w.Line($"public global::ILGPU.ArrayView<{ElementOf(b)}> {Id(b.Name)};");
                if (b.HasFlags) w.Line($"public global::ILGPU.ArrayView<byte> {b.Name}_h;");
            }
            w.Close();
            foreach (var k in program.Kernels)
            {
                w.Line();
                Kernel(k);
            }
            w.Line();
            Helpers();
            w.Line();
            Host(inputs, outputs);
            w.Close();
        }

        // The kernel being printed (its tiles).
        private LoopKernel? _kernel;

        private void Kernel(LoopKernel k)
        {
            _boolLocals.Clear();
            _kernel = k;
            var step = k.StepRank is { } sr ? Id(sr) : "_step";
            var at = k.StepRank is { } r ? $", at step {r} of its block" : "";
            if (k.GroupSize == 1 && !k.FusedBlock && !k.LinearScan)
            {
                w.Line($"/// <summary><c>{Escape(k.Text)}</c>: one thread per point of [{string.Join(", ", k.Grid)}]{at}.</summary>");
                w.Open($"public static void {k.Name}(global::ILGPU.Index1D _thread, Tensors _t, Sizes _s, long {step})");
            }
            else
            {
                w.Line(k.LinearScan
                    ? $"/// <summary><c>{Escape(k.Text)}</c> over every step at once: one group of up to {k.GroupSize} threads (a power of two) per point of [{string.Join(", ", k.Grid)}]; each thread composes the affine maps of a chunk of steps, the group scans the chunks' maps ((a1*a0, a1*b0 + b1)), and each thread reruns its chunk from the state before it.</summary>"
                    : k.FusedBlock
                    ? $"/// <summary><c>{Escape(k.Text)}</c>: the whole block, one group of up to {k.GroupSize} threads (a power of two) per point of [{string.Join(", ", k.Grid)}] looping over the steps; each Einsum's points split across the group, a barrier after each.</summary>"
                    : $"/// <summary><c>{Escape(k.Text)}</c>: one group of up to {k.GroupSize} threads (a power of two) per point of [{string.Join(", ", k.Grid)}]{at}; the threads split the reduction and merge it by warp shuffles, then across warps in shared memory.</summary>");
                w.Open($"public static void {k.Name}(Tensors _t, Sizes _s, long {step})");
                w.Line("long _thread = global::ILGPU.Grid.IdxX;");
                w.Line("int _lane = global::ILGPU.Group.IdxX;");
                w.Line("int _threads = global::ILGPU.Group.DimX;");
                foreach (var (array, type) in StaticShared(k)) w.Line($"var {array} = global::ILGPU.SharedMemory.Allocate<{type}>({k.GroupSize});");
                if (k.SharedOrder.Count > 0)
                {
                    // The launch's dynamic shared memory holds the tiles and group buffers it had room for (bit i of
                    // _s._staged for the i-th, first fit), one after another; the others are read from device memory.
                    w.Line("var _stage = global::ILGPU.SharedMemory.GetDynamic<float>();");
                    var offset = "0L";
                    for (var i = 0; i < k.SharedOrder.Count; i++)
                    {
                        var name = k.SharedOrder[i];
                        if (k.Tiles.FirstOrDefault(t => t.Name == name) is { } tile)
                            w.Line($"// tile {tile.Tensor}[{string.Join(",", tile.Indices)}] over {string.Join(", ", tile.Ranks.Select((r, d) => $"{r} < {tile.Extents[d]}"))}");
                        else
                        {
                            var g = k.GroupBuffers.First(x => x.Tensor == name);
                            w.Line($"// {name}'s points of this group ({string.Join(", ", program.LocalExtents(g).Select(e => e.ToString()))}){(program.Buffer(name).HasFlags ? ", then their flags (1 or 0)" : "")}");
                            if (program.Buffer(name).HasFlags || Walk(k.Body).OfType<SGroupCopy>().Any(c => c.Tensor == name))
                                w.Line($"long _nv_{name} = {Index(program.LocalCount(g))};");
                        }
                        // The floats it takes matter only to the items after it.
                        var last = i == k.SharedOrder.Count - 1;
                        w.Line(last ? $"long _at_{name} = {offset};" : $"long _n_{name} = {Index(program.SharedFloats(k, name))}, _at_{name} = {offset};");
                        w.Line($"bool _on_{name} = (_s._staged & {1L << i}L) != 0;");
                        offset = $"_at_{name} + (_on_{name} ? _n_{name} : 0L)";
                    }
                }
            }
            if (k.Grid.Count > 0)
            {
                // The grid is flattened row-major: the last rank varies fastest.
                w.Line("long _rest = _thread;");
                var extents = k.Extents(_cascade);
                for (var i = k.Grid.Count - 1; i >= 0; i--)
                {
                    var size = Index(extents[i]);
                    if (i == 0) w.Line($"long {Id(k.Grid[i])} = _rest;");
                    else w.Line($"long {Id(k.Grid[i])} = _rest % {size}; _rest /= {size};");
                }
            }
            Statements(k.Body);
            w.Close();
        }

        /// <summary>The shared arrays of a group's merges and scans: one element per thread each.</summary>
        private static List<(string Name, string Type)> StaticShared(LoopKernel k)
        {
            var arrays = new List<(string, string)>();
            var combines = Walk(k.Body).OfType<SGroupCombine>().ToList();
            if (combines.Any(c => c.Operator != GroupCombineOperator.Or)) arrays.Add(("_shf", "float"));
            if (combines.Any(c => c.Operator == GroupCombineOperator.LogSumExp)) arrays.Add(("_shg", "float"));
            if (combines.Any(c => c.Operator == GroupCombineOperator.Or)) arrays.Add(("_shb", "int"));
            if (Walk(k.Body).OfType<SGroupScan>().Any())
            {
                arrays.Add(("_sca", "float"));
                arrays.Add(("_scb", "float"));
            }
            return arrays;
        }

        private static string Escape(string text) => text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");

        private void Statements(IEnumerable<LoopStmt> statements)
        {
            foreach (var s in statements)
            {
                switch (s)
                {
                    case SComment c:
                        w.Line("// " + c.Text);
                        break;
                    case SDeclare d:
                        if (d.IsBool) _boolLocals.Add(d.Name);
                        w.Line($"{(d.IsBool ? "bool" : "float")} {d.Name} = {Value(d.Value)};");
                        break;
                    case SAssign a:
                        w.Line($"{a.Name} = {Value(a.Value)};");
                        break;
                    case SFor f:
                        Nested($"for (long {Id(f.Variable)} = 0; {Id(f.Variable)} < {Index(f.Extent)}; {Id(f.Variable)}++)", f.Body);
                        break;
                    case SIf i:
                        Nested($"if ({Value(i.Condition)})", i.Then);
                        if (i.Else.Count > 0) Nested("else", i.Else);
                        break;
                    case SGroupFor g:
                        GroupFor(g);
                        break;
                    case SGroupCombine c:
                        Combine(c);
                        break;
                    case SGroupChunks c:
                    {
                        var r = Id(c.Rank);
                        var n = Index(c.Extent);
                        w.Open("");
                        w.Line($"long _per = ({n} + _threads - 1) / _threads;");
                        w.Line($"long _end = (_lane + 1) * _per < {n} ? (_lane + 1) * _per : {n};");
                        Nested($"for (long {r} = _lane * _per; {r} < _end; {r}++)", c.Body);
                        w.Close();
                        break;
                    }
                    case SGroupScan scan:
                        Scan(scan);
                        break;
                    case SGroupPrefix p:
                    {
                        var r = Id(p.Rank);
                        var n = Index(p.Extent);
                        w.Open("");
                        w.Line($"long _begin = _lane * (({n} + _threads - 1) / _threads);");
                        Nested($"for (long {r} = 0; {r} < _begin && {r} < {n}; {r}++)", p.Body);
                        w.Close();
                        break;
                    }
                    case SBarrier:
                        w.Line("global::ILGPU.Group.Barrier();");
                        break;
                    case SStage stage:
                    {
                        var tile = _kernel!.Tiles.First(t => t.Name == stage.Tile);
                        w.Open($"if (_on_{tile.Name}) // the group copies the tile; the points outside {tile.Tensor} are never read");
                        GroupPoints(tile.Ranks, tile.Extents, () => w.Line($"_stage[_at_{tile.Name} + _i] = {InBounds(tile.Tensor, tile.Indices)} ? {(IsInteger(tile.Tensor) ? "(float)" : "")}{Element(tile.Tensor, tile.Indices, false)} : 0f;"));
                        w.Close();
                        break;
                    }
                    case SLoop l:
                        Nested($"for (long {Id(l.Rank)} = 0; !({Index(l.Stop.Left)} {Comparison.Text(l.Stop.Operator)} {Index(l.Stop.Right)}); {Id(l.Rank)}++)", l.Body);
                        break;
                    case SLet l:
                        w.Line($"long {Id(l.Rank)} = {Index(l.Value)};");
                        Nested($"if ({Id(l.Rank)} < {Index(l.Limit)})", l.Body);
                        break;
                    case SStore st:
                        Store(st.Tensor, st.Indices, false, Value(st.Value));
                        break;
                    case SSetFlag sf:
                        Store(sf.Tensor, sf.Indices, true, sf.Present is LBool b ? (b.Value ? "1" : "0") : $"({Value(sf.Present)}) ? (byte)1 : (byte)0");
                        break;
                    case SGroupCopy copy:
                        GroupCopy(copy);
                        break;
                    default:
                        throw new InvalidOperationException("unknown statement " + s.GetType().Name);
                }
            }
        }

        private void Nested(string header, IReadOnlyList<LoopStmt> body)
        {
            w.Open(header);
            Statements(body);
            w.Close();
        }

        /// <summary>The group's threads take every G-th point of the flattened reduced ranks.</summary>
        private void GroupFor(SGroupFor g) => GroupPoints(g.Ranks, g.Extents, () => Statements(g.Body));

        /// <summary>The points of <paramref name="ranks"/> flattened row-major (<c>_i</c>), every G-th to each thread.</summary>
        private void GroupPoints(IReadOnlyList<string> ranks, IReadOnlyList<IndexExpr> extentsOf, Action body)
        {
            var extents = extentsOf.Select(Index).ToList();
            var total = extents.Count == 0 ? "1L" : string.Join(" * ", extents);
            w.Open($"for (long _i = _lane; _i < {total}; _i += _threads)");
            w.Line("long _r = _i;");
            for (var d = ranks.Count - 1; d >= 0; d--)
                w.Line(d == 0 ? $"long {Id(ranks[d])} = _r;" : $"long {Id(ranks[d])} = _r % {extents[d]}; _r /= {extents[d]};");
            body();
            w.Close();
        }

        /// <summary>
        /// An exclusive scan of the threads' affine maps in shared memory (Hillis and Steele: log2(G) rounds, each
        /// composing a thread's map after the one <c>w</c> threads before it), then each thread takes its predecessor's
        /// inclusive map, the identity for the first.
        /// </summary>
        private void Scan(SGroupScan s)
        {
            const string Barrier = "global::ILGPU.Group.Barrier();";
            w.Line($"_sca[_lane] = {s.A};");
            w.Line($"_scb[_lane] = {s.B};");
            w.Line(Barrier);
            w.Open("for (int _w = 1; _w < _threads; _w <<= 1)");
            w.Line("float _pa = 1f, _pb = 0f;");
            w.Line("if (_lane >= _w) { _pa = _sca[_lane - _w]; _pb = _scb[_lane - _w]; }");
            w.Line(Barrier);
            w.Line($"{s.B} = {s.A} * _pb + {s.B};");
            w.Line($"{s.A} = {s.A} * _pa;");
            w.Line($"_sca[_lane] = {s.A};");
            w.Line($"_scb[_lane] = {s.B};");
            w.Line(Barrier);
            w.Close();
            w.Line($"{s.A} = _lane == 0 ? 1f : _sca[_lane - 1];");
            w.Line($"{s.B} = _lane == 0 ? 0f : _scb[_lane - 1];");
            w.Line(Barrier);
        }

        /// <summary>
        /// A merge in two levels: within each warp by shuffles (log2 of the warp size steps, no barrier), then the warps'
        /// results through shared memory, merged by the group's first thread; every thread reads the result. The group has
        /// whole warps (GpuKernels.LaunchGroups makes it at least one warp).
        /// </summary>
        private void Combine(SGroupCombine c)
        {
            const string Barrier = "global::ILGPU.Group.Barrier();";
            const string Shuffle = "global::ILGPU.Warp.ShuffleDown";
            const string Warps = "_threads / global::ILGPU.Warp.WarpSize";
            var x = c.Local;
            w.Open("");
            if (c.Operator == GroupCombineOperator.Or)
            {
                w.Line($"int _bits = {x} ? 1 : 0;");
                w.Line($"for (int _o = global::ILGPU.Warp.WarpSize / 2; _o > 0; _o >>= 1) _bits |= {Shuffle}(_bits, _o);");
                w.Line("if (global::ILGPU.Warp.IsFirstLane) _shb[global::ILGPU.Warp.WarpIdx] = _bits;");
                w.Line(Barrier);
                w.Line($"if (_lane == 0) {{ for (int _k = 1; _k < {Warps}; _k++) _bits |= _shb[_k]; _shb[0] = _bits; }}");
                w.Line(Barrier);
                w.Line($"{x} = _shb[0] != 0;");
            }
            else if (c.Operator == GroupCombineOperator.LogSumExp)
            {
                // (maximum, scaled sum) pairs: NaN wins, then +inf, then an empty side gives way, else rescale to the larger maximum.
                var m = c.Scale;
                w.Open($"for (int _o = global::ILGPU.Warp.WarpSize / 2; _o > 0; _o >>= 1)");
                w.Line($"float _m2 = {Shuffle}({m}, _o), _s2 = {Shuffle}({x}, _o);");
                w.Line($"LseMerge(ref {m}, ref {x}, _m2, _s2);");
                w.Close();
                w.Line($"if (global::ILGPU.Warp.IsFirstLane) {{ _shf[global::ILGPU.Warp.WarpIdx] = {x}; _shg[global::ILGPU.Warp.WarpIdx] = {m}; }}");
                w.Line(Barrier);
                w.Line($"if (_lane == 0) {{ for (int _k = 1; _k < {Warps}; _k++) LseMerge(ref {m}, ref {x}, _shg[_k], _shf[_k]); _shf[0] = {x}; _shg[0] = {m}; }}");
                w.Line(Barrier);
                w.Line($"{x} = _shf[0];");
                w.Line($"{m} = _shg[0];");
            }
            else
            {
                string Merge(string a, string b) => c.Operator switch
                {
                    GroupCombineOperator.Sum => $"{a} + {b}",
                    GroupCombineOperator.Prod => $"{a} * {b}",
                    GroupCombineOperator.Max => $"Max({a}, {b})",
                    _ => $"Min({a}, {b})",
                };
                w.Line($"for (int _o = global::ILGPU.Warp.WarpSize / 2; _o > 0; _o >>= 1) {x} = {Merge(x, $"{Shuffle}({x}, _o)")};");
                w.Line($"if (global::ILGPU.Warp.IsFirstLane) _shf[global::ILGPU.Warp.WarpIdx] = {x};");
                w.Line(Barrier);
                w.Line($"if (_lane == 0) {{ for (int _k = 1; _k < {Warps}; _k++) {x} = {Merge(x, "_shf[_k]")}; _shf[0] = {x}; }}");
                w.Line(Barrier);
                w.Line($"{x} = _shf[0];");
            }
            w.Line(Barrier);
            w.Close();
        }

        /// <summary>The group buffer of the kernel being printed that holds <paramref name="tensor"/>, if any.</summary>
        private GroupBuffer? Own(string tensor) => _kernel?.GroupBuffers.FirstOrDefault(g => g.Tensor == tensor);

        /// <summary>A group buffer's element (or flag) in its shared copy: the group's point of a common rank, the row within
        /// the group's block, the storage index of a whole dimension.</summary>
        private string Shared(GroupBuffer g, IReadOnlyList<IndexExpr> indices, bool flag)
        {
            var buffer = program.Buffer(g.Tensor);
            var local = program.LocalExtents(g);
            string? offset = null;
            for (var d = 0; d < indices.Count; d++)
            {
                if (g.Ranks[d] is not null && g.Ranks[d] != g.Blocked) continue; // one point: the group's
                var at = g.Ranks[d] is null ? Index(buffer.StorageIndex(d, indices[d])) : $"({Index(indices[d])} - {Index(g.RowBase)})";
                offset = offset is null ? at : $"({offset}) * {Index(local[d])} + {at}";
            }
            offset ??= "0L";
            return flag ? $"_stage[_at_{g.Tensor} + _nv_{g.Tensor} + {offset}]" : $"_stage[_at_{g.Tensor} + {offset}]";
        }

        // A flag in shared memory is a float (1 or 0), in device memory a byte: a flag read compares either with 0.
        private string Load(string tensor, IReadOnlyList<IndexExpr> indices, bool flag)
        {
            // An i32 input is read as the nearest float, so that no arithmetic of the expression is done on integers.
            var element = (!flag && IsInteger(tensor) ? "(float)" : "") + Element(tensor, indices, flag);
            return Own(tensor) is { } g ? $"(_on_{tensor} ? {Shared(g, indices, flag)} : {(flag ? "(float)" : "")}{element})" : element;
        }

        private bool IsInteger(string tensor) => program.Buffer(tensor).Tensor.ElementType == ElementType.Int32;

        /// <summary>The C# type of a buffer's elements: int for an i32 input, else float.</summary>
        private static string ElementOf(LoopBuffer b) => b.Tensor.ElementType == ElementType.Int32 ? "int" : "float";

        private void Store(string tensor, IReadOnlyList<IndexExpr> indices, bool flag, string value)
        {
            if (Own(tensor) is not { } g)
            {
                w.Line($"{Element(tensor, indices, flag)} = {value};");
                return;
            }
            w.Line($"if (_on_{tensor}) {Shared(g, indices, flag)} = {value};");
            w.Line($"else {Element(tensor, indices, flag)} = {value};");
        }

        /// <summary>The group's points of a group buffer copied between device memory and its shared copy (rows of a
        /// partial last block outside the tensor left alone).</summary>
        private void GroupCopy(SGroupCopy copy)
        {
            var g = Own(copy.Tensor)!;
            var buffer = program.Buffer(copy.Tensor);
            var local = program.LocalExtents(g).Select(Index).ToList();
            var storage = buffer.StorageExtents.Select(Index).ToList();
            w.Open($"if (_on_{g.Tensor}) // {(copy.Out ? "back to device memory, where the cascade reads it after the block" : "from device memory: the state its inits set")}");
            w.Open($"for (long _i = _lane; _i < _nv_{g.Tensor}; _i += _threads)");
            w.Line("long _r = _i;");
            var global = new string[local.Count];
            var inside = new List<string>();
            for (var d = local.Count - 1; d >= 0; d--)
            {
                var c = $"_c{d}";
                w.Line(d == 0 ? $"long {c} = _r;" : $"long {c} = _r % {local[d]}; _r /= {local[d]};");
                if (g.Ranks[d] is null) global[d] = c;
                else if (g.Ranks[d] == g.Blocked)
                {
                    global[d] = $"({Index(g.RowBase)} + {c})";
                    inside.Add($"{global[d]} < {Index(buffer.Extents[d])}");
                }
                else global[d] = Id(g.Ranks[d]!);
            }
            var offset = global[0];
            for (var d = 1; d < global.Length; d++) offset = $"({offset}) * {storage[d]} + {global[d]}";
            var sharedAt = $"_at_{g.Tensor} + _i";
            var lines = new List<string>();
            lines.Add(copy.Out ? $"_t.{Id(g.Tensor)}[{offset}] = _stage[{sharedAt}];" : $"_stage[{sharedAt}] = _t.{Id(g.Tensor)}[{offset}];");
            if (buffer.HasFlags)
            {
                var flagAt = $"_at_{g.Tensor} + _nv_{g.Tensor} + _i";
                lines.Add(copy.Out ? $"_t.{g.Tensor}_h[{offset}] = (byte)_stage[{flagAt}];" : $"_stage[{flagAt}] = _t.{g.Tensor}_h[{offset}];");
            }
            if (inside.Count > 0) w.Open($"if ({string.Join(" && ", inside)})");
            foreach (var line in lines) w.Line(line);
            if (inside.Count > 0) w.Close();
            w.Close();
            w.Close();
        }

        private string Element(string tensor, IReadOnlyList<IndexExpr> indices, bool flag) =>
            $"_t.{(flag ? tensor + "_h" : Id(tensor))}[{Offset(tensor, indices)}]";

        private string Offset(string tensor, IReadOnlyList<IndexExpr> indices)
        {
            var buffer = program.Buffer(tensor);
            var extents = buffer.StorageExtents;
            if (indices.Count == 0) return "0";
            var offset = Index(buffer.StorageIndex(0, indices[0]));
            for (var d = 1; d < indices.Count; d++) offset = $"{(offset.Contains(' ') ? "(" + offset + ")" : offset)} * {Index(extents[d])} + {Index(buffer.StorageIndex(d, indices[d]))}";
            return offset;
        }

        private string Index(IndexExpr e) => e switch
        {
            IndexConstant c => c.Value.ToString(CultureInfo.InvariantCulture) + "L",
            IndexVariable v => Id(v.Rank),
            IndexSize s => "_s." + Id(s.Size),
            // A value a filter reads: an i32 input's exactly, a float's rounded down.
            IndexRead r => IsInteger(r.Tensor) ? $"(long){Element(r.Tensor, r.Subscripts, false)}" : $"IndexOf({Load(r.Tensor, r.Subscripts, false)})",
            IndexBinary { Operator: IndexOperator.Divide } b => $"FloorDiv({Index(b.Left)}, {Index(b.Right)})",
            IndexBinary { Operator: IndexOperator.Modulo } b => $"FloorMod({Index(b.Left)}, {Index(b.Right)})",
            IndexBinary b => "(" + Index(b.Left) + (b.Operator switch { IndexOperator.Add => " + ", IndexOperator.Subtract => " - ", _ => " * " }) + Index(b.Right) + ")",
            _ => throw new InvalidOperationException("unknown index expression"),
        };

        private string Value(LoopValue v) => v switch
        {
            LNumber n => F(n.Value),
            LBool b => b.Value ? "true" : "false",
            LLeader => "_lane == 0",
            LLocal l => l.Name,
            LLoad l => Load(l.Tensor, l.Indices, false),
            LTileLoad t => TileElement(t),
            LInBounds b => InBounds(b.Tensor, b.Indices),
            LFlag f => $"({Load(f.Tensor, f.Indices, true)} != 0)",
            LIndex i => $"(float){Index(i.Index)}",
            LUnary u => Unary(u.Function, Value(u.Operand)),
            LBinary b => b.Operator switch
            {
                BinaryOperator.Add => $"({Value(b.Left)} + {Value(b.Right)})",
                BinaryOperator.Subtract => $"({Value(b.Left)} - {Value(b.Right)})",
                BinaryOperator.Multiply => $"({Value(b.Left)} * {Value(b.Right)})",
                BinaryOperator.Divide => $"Div({Value(b.Left)}, {Value(b.Right)})",
                BinaryOperator.Max => $"Max({Value(b.Left)}, {Value(b.Right)})",
                BinaryOperator.Min => $"Min({Value(b.Left)}, {Value(b.Right)})",
                _ => $"global::ILGPU.Algorithms.XMath.Pow({Value(b.Left)}, {Value(b.Right)})",
            },
            LFilter f => $"{Index(f.Comparison.Left)} {Comparison.Text(f.Comparison.Operator)} {Index(f.Comparison.Right)}",
            LCompare { Operator: FloatComparison.Greater } c => $"({Value(c.Left)} > {Value(c.Right)})",
            LCompare c => $"({Value(c.Left)} == {Value(c.Right)})",
            LIsNaN n => $"global::ILGPU.Algorithms.XMath.IsNaN({Value(n.Operand)})",
            LLogic l => $"({Value(l.Left)} {(l.Or ? "||" : "&&")} {Value(l.Right)})",
            LNot n => $"!({Value(n.Operand)})",
            LSelect s => $"({Value(s.Condition)} ? {Value(s.IfTrue)} : {Value(s.IfFalse)})",
            _ => throw new InvalidOperationException("unknown value " + v.GetType().Name),
        };

        /// <summary>A tile's element at its ranks' current values, or the tensor's when the tile got no shared memory.</summary>
        private string TileElement(LTileLoad load)
        {
            var tile = _kernel!.Tiles.First(t => t.Name == load.Tile);
            var offset = Id(tile.Ranks[0]);
            for (var d = 1; d < tile.Ranks.Count; d++) offset = $"{(d > 1 ? "(" + offset + ")" : offset)} * {Index(tile.Extents[d])} + {Id(tile.Ranks[d])}";
            return $"(_on_{tile.Name} ? _stage[_at_{tile.Name} + {(tile.Ranks.Count > 1 ? "(" + offset + ")" : offset)}] : {(IsInteger(load.Load.Tensor) ? "(float)" : "")}{Element(load.Load.Tensor, load.Load.Indices, false)})";
        }

        private string InBounds(string tensor, IReadOnlyList<IndexExpr> indices)
        {
            var extents = program.Buffer(tensor).Extents;
            return "(" + string.Join(" && ", indices.Select((x, d) => $"InRange({Index(x)}, {Index(extents[d])})")) + ")";
        }

        private static string Unary(UnaryFunction f, string x) => f switch
        {
            UnaryFunction.Negate => $"(-{x})",
            UnaryFunction.Exp => $"global::ILGPU.Algorithms.XMath.Exp({x})",
            UnaryFunction.Exp2 => $"global::ILGPU.Algorithms.XMath.Exp2({x})",
            UnaryFunction.Log => $"global::ILGPU.Algorithms.XMath.Log({x})",
            UnaryFunction.Sqrt => $"global::ILGPU.Algorithms.XMath.Sqrt({x})",
            UnaryFunction.Rsqrt => $"(1f / global::ILGPU.Algorithms.XMath.Sqrt({x}))",
            UnaryFunction.Abs => $"global::ILGPU.Algorithms.XMath.Abs({x})",
            UnaryFunction.Tanh => $"global::ILGPU.Algorithms.XMath.Tanh({x})",
            _ => $"{f}({x})",
        };

        private void Helpers()
        {
            w.Line("// The language's scalar semantics (docs/language.md), in ILGPU's math only.");
            w.Line("private static bool InRange(long i, long extent) => i >= 0 && i < extent;");
            w.Line("/// <summary>Floor division of subscripts; a divisor of 0 or less gives -1 (a point outside every tensor).</summary>");
            w.Line("private static long FloorDiv(long a, long b) => b <= 0 ? -1 : a / b - (a % b != 0 && a < 0 ? 1 : 0);");
            w.Line("private static long FloorMod(long a, long b) => b <= 0 ? -1 : a - b * FloorDiv(a, b);");
            if (_cascade.Einsums.Any(e => e.Filters.Any(f => f.Left.ReadsValues() || f.Right.ReadsValues())))
            {
                w.Line("/// <summary>A value a filter reads as an integer: rounded down, clamped to +-2^40; NaN reads as 0.</summary>");
                w.Line("private static long IndexOf(float v) => global::ILGPU.Algorithms.XMath.IsNaN(v) ? 0L : v >= 1099511627776f ? 1099511627776L : v <= -1099511627776f ? -1099511627776L : (long)global::ILGPU.Algorithms.XMath.Floor(v);");
            }
            w.Line("private static float Div(float a, float b) => b == 0f ? 0f : a / b;");
            w.Line("private static float Max(float a, float b) => global::ILGPU.Algorithms.XMath.IsNaN(a) || a > b ? a : b;");
            w.Line("private static float Min(float a, float b) => global::ILGPU.Algorithms.XMath.IsNaN(a) || a < b ? a : b;");
            w.Line("private static float Sigmoid(float x) => x >= 0f ? 1f / (1f + global::ILGPU.Algorithms.XMath.Exp(-x)) : global::ILGPU.Algorithms.XMath.Exp(x) / (1f + global::ILGPU.Algorithms.XMath.Exp(x));");
            w.Line("private static float Silu(float x) => x * Sigmoid(x);");
            w.Line("private static float Relu(float x) => x > 0f || global::ILGPU.Algorithms.XMath.IsNaN(x) ? x : 0f;");
            w.Line("private static float Softplus(float x) => x > 20f || global::ILGPU.Algorithms.XMath.IsNaN(x) ? x : Log1P(global::ILGPU.Algorithms.XMath.Exp(x));");
            w.Line("private static float Log1P(float x) { float u = 1f + x; return u == 1f ? x : global::ILGPU.Algorithms.XMath.Log(u) * x / (u - 1f); }");
            w.Line("/// <summary>Merges two log-sum-exp partials (maximum, sum scaled to it): NaN wins, then +inf; an empty side (maximum -inf) gives way.</summary>");
            w.Open("private static void LseMerge(ref float m1, ref float s1, float m2, float s2)");
            w.Line("if (global::ILGPU.Algorithms.XMath.IsNaN(s1) || global::ILGPU.Algorithms.XMath.IsNaN(s2)) s1 = float.NaN;");
            w.Line("else if (m1 == float.PositiveInfinity || m2 == float.PositiveInfinity) { m1 = float.PositiveInfinity; s1 = 1f; }");
            w.Line("else if (m1 == float.NegativeInfinity) { m1 = m2; s1 = s2; }");
            w.Line("else if (m2 != float.NegativeInfinity) { float m = m1 > m2 ? m1 : m2; s1 = s1 * global::ILGPU.Algorithms.XMath.Exp(m1 - m) + s2 * global::ILGPU.Algorithms.XMath.Exp(m2 - m); m1 = m; }");
            w.Close();
            w.Line("private static float GeluTanh(float x) => x * Sigmoid(1.5957691216057308f * (x + 0.044715f * x * x * x));");
            w.Line("private static float Gelu(float x) => 0.5f * x * (1f + Erf(x * 0.70710678118654752f));");
            w.Line("/// <summary>erf by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7).</summary>");
            w.Open("private static float Erf(float x)");
            w.Line("if (global::ILGPU.Algorithms.XMath.IsNaN(x)) return x;");
            w.Line("float a = global::ILGPU.Algorithms.XMath.Abs(x);");
            w.Line("float t = 1f / (1f + 0.3275911f * a);");
            w.Line("float y = 1f - ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t * global::ILGPU.Algorithms.XMath.Exp(-a * a);");
            w.Line("return x < 0f ? -y : y;");
            w.Close();
        }

        private void Host(List<LoopBuffer> inputs, List<LoopBuffer> outputs)
        {
            var required = CascadeShapes.RequiredSizes(_cascade).ToList();
            var sizeParams = required.Where(s => s.Default is null).Select(s => $"int {Id(s.Size)}")
                .Concat(required.Where(s => s.Default is not null).Select(s => $"int {Id(s.Size)} = {s.Default!.Value.ToString(CultureInfo.InvariantCulture)}")).ToList();
            var sizeArgs = required.Where(s => s.Default is null).Concat(required.Where(s => s.Default is not null)).Select(s => Id(s.Size)).ToList();
            var tensors = inputs.Concat(outputs).ToList();
            var viewParams = inputs.Select(b => $"global::ILGPU.ArrayView<{ElementOf(b)}> {Id(b.Name)}").Concat(outputs.Select(b => $"global::ILGPU.ArrayView<float> {Id(b.Name)}"));

            w.Line("/// <summary>The sizes checked (each zero or more, a tile size one or more) and derived; every tensor's element count.</summary>");
            w.Open($"public static Sizes Bind({string.Join(", ", sizeParams)})");
            foreach (var s in required)
            {
                var tile = _cascade.Ranks.Any(r => r.Kind == RankKind.PartitionInner && r.AliasOf is null && r.Size == s.Size);
                w.Line($"if ({Id(s.Size)} < {(tile ? 1 : 0)}) throw new global::System.ArgumentOutOfRangeException(nameof({Id(s.Size)}), {Id(s.Size)}, \"{(tile ? "A tile size must be 1 or more." : "A size must be 0 or more.")}\");");
            }
            w.Line($"var _s = new Sizes {{ {string.Join(", ", program.Sizes.Select(s => $"{Id(s)} = {Id(s)}"))} }};");
            foreach (var (name, value) in program.DerivedSizes) w.Line($"_s.{Id(name)} = {Index(value)};");
            w.Line("return _s;");
            w.Close();
            w.Line();
            w.Line("/// <summary>The number of elements of a tensor at these sizes.</summary>");
            w.Open("public static long ElementCount(string tensor, Sizes _s) => tensor switch");
            foreach (var b in program.Buffers) w.Line($"\"{b.Name}\" => {Count(b)},");
            w.Line("_ => throw new global::System.ArgumentException($\"'{tensor}' is not a tensor of this cascade.\", nameof(tensor)),");
            w.Close(";");
            w.Line();

            w.Line($"/// <summary>Runs the cascade on <paramref name=\"accelerator\"/> over views of its memory: checks every argument before touching");
            w.Line("/// memory, allocates the intermediates, launches the kernels in order and waits for them. Outputs' absent points are 0.</summary>");
            w.Open($"public static void Run(global::ILGPU.Runtime.Accelerator accelerator, {string.Join(", ", viewParams.Concat(sizeParams))})");
            w.Line("if (accelerator is null) throw new global::System.ArgumentNullException(nameof(accelerator));");
            w.Line($"var _s = Bind({string.Join(", ", sizeArgs)});");
            foreach (var b in tensors)
                w.Line($"if ({Id(b.Name)}.Length != {Count(b)}) throw new global::System.ArgumentException($\"{b.Name} has {{{Id(b.Name)}.Length}} elements; at these sizes it needs {{{Count(b)}}}.\", nameof({Id(b.Name)}));");
            Steps(program.Stages);
            w.Line("var _t = new Tensors();");
            w.Line("var _owned = new global::System.Collections.Generic.List<global::System.IDisposable>();");
            w.Open("try");
            foreach (var b in program.Buffers)
            {
                if (b.Tensor.Role == TensorRole.Intermediate) w.Line($"_t.{Id(b.Name)} = global::Kernels.Gpu.GpuKernels.Scratch<float>(accelerator, {Count(b)}, _owned);");
                else w.Line($"_t.{Id(b.Name)} = {Id(b.Name)};");
                if (b.Tensor.Role == TensorRole.Output) w.Line($"global::Kernels.Gpu.GpuKernels.Zero({Id(b.Name)});");
                if (b.HasFlags) w.Line($"_t.{b.Name}_h = global::Kernels.Gpu.GpuKernels.Scratch<byte>(accelerator, {Count(b)}, _owned);");
            }
            Launches(program.Stages);
            w.Line("accelerator.Synchronize();");
            w.Close();
            w.Open("finally");
            w.Line("global::Kernels.Gpu.GpuKernels.Release(_owned);");
            w.Close();
            w.Close();
            w.Line();

            // The host-span overload: explicit copies to and from the accelerator.
            w.Line("/// <summary>Runs the cascade on <paramref name=\"accelerator\"/> over host memory: copies the inputs there, runs, and copies the outputs back.");
            w.Line($"/// A scalar input is a float{(inputs.Any(b => b.Extents.Count == 0 && b.Tensor.ElementType == ElementType.Int32) ? " (an int where it is i32)" : "")}, as in the CPU kernel.</summary>");
            static bool Scalar(LoopBuffer b) => b.Tensor.Role == TensorRole.Input && b.Extents.Count == 0;
            var spanParams = inputs.Select(b => Scalar(b) ? $"{ElementOf(b)} {Id(b.Name)}" : $"global::System.ReadOnlySpan<{ElementOf(b)}> {Id(b.Name)}").Concat(outputs.Select(b => $"global::System.Span<float> {Id(b.Name)}"));
            w.Open($"public static void Run(global::ILGPU.Runtime.Accelerator accelerator, {string.Join(", ", spanParams.Concat(sizeParams))})");
            w.Line("if (accelerator is null) throw new global::System.ArgumentNullException(nameof(accelerator));");
            w.Line($"var _s = Bind({string.Join(", ", sizeArgs)});");
            foreach (var b in tensors.Where(b => !Scalar(b)))
                w.Line($"if ({Id(b.Name)}.Length != {Count(b)}) throw new global::System.ArgumentException($\"{b.Name} has {{{Id(b.Name)}.Length}} elements; at these sizes it needs {{{Count(b)}}}.\", nameof({Id(b.Name)}));");
            w.Line("var _owned = new global::System.Collections.Generic.List<global::System.IDisposable>();");
            w.Open("try");
            foreach (var b in tensors)
                w.Line(Scalar(b)
                    ? $"var _d_{b.Name} = global::Kernels.Gpu.GpuKernels.Upload(accelerator, new global::System.ReadOnlySpan<{ElementOf(b)}>(ref {Id(b.Name)}), _owned);"
                    : b.Tensor.Role == TensorRole.Input
                    ? $"var _d_{b.Name} = global::Kernels.Gpu.GpuKernels.Upload(accelerator, {Id(b.Name)}, _owned);"
                    : $"var _d_{b.Name} = global::Kernels.Gpu.GpuKernels.Scratch<float>(accelerator, {Id(b.Name)}.Length, _owned);");
            w.Line($"Run(accelerator, {string.Join(", ", tensors.Select(b => $"_d_{b.Name}").Concat(sizeArgs))});");
            foreach (var b in outputs)
                w.Line($"global::Kernels.Gpu.GpuKernels.Download(_d_{b.Name}, {Id(b.Name)});");
            w.Close();
            w.Open("finally");
            w.Line("global::Kernels.Gpu.GpuKernels.Release(_owned);");
            w.Close();
            w.Close();
        }

        private string Count(LoopBuffer b) => b.StorageExtents.Count == 0 ? "1L" : string.Join(" * ", b.StorageExtents.Select(e => Index(e)));

        /// <summary>Checks, before any memory is touched, that every iteration block's stop condition holds within its rank.</summary>
        private void Steps(IEnumerable<LoopStage> stages)
        {
            foreach (var stage in stages)
            {
                if (stage is SSteps s)
                {
                    StopCheck(s.Rank, s.Stop);
                    Steps(s.Body);
                }
                else
                    foreach (var l in Walk(((SLaunch)stage).Kernel.Body).OfType<SLoop>()) StopCheck(l.Rank, l.Stop);
            }
        }

        private void StopCheck(string rank, Comparison stop)
        {
            var size = "_s." + Id(_cascade.Rank(rank).Size);
            var r = Id(rank);
            w.Open("");
            w.Line($"long {r} = 0;");
            w.Line($"while (!({Index(stop.Left)} {Comparison.Text(stop.Operator)} {Index(stop.Right)}) && {r} <= {size}) {r}++;");
            w.Line($"if ({r} > {size}) throw new global::System.ArgumentException(\"The stop condition 'until {stop}' of 'iterate {rank}' does not hold for any {rank} in 0..{rank.ToUpperInvariant()} with these sizes.\");");
            w.Close();
        }

        private void Launches(IEnumerable<LoopStage> stages)
        {
            foreach (var stage in stages)
            {
                if (stage is SSteps s)
                {
                    var r = Id(s.Rank);
                    w.Open($"for (long {r} = 0; !({Index(s.Stop.Left)} {Comparison.Text(s.Stop.Operator)} {Index(s.Stop.Right)}); {r}++)");
                    Launches(s.Body);
                    w.Close();
                    continue;
                }
                var k = ((SLaunch)stage).Kernel;
                var points = k.Grid.Count == 0 ? "1L" : string.Join(" * ", k.Extents(_cascade).Select(Index));
                var step = k.StepRank is { } sr ? Id(sr) : "0L";
                w.Line(k.GroupSize == 1 && !k.FusedBlock && !k.LinearScan
                    ? $"global::Kernels.Gpu.GpuKernels.Launch(accelerator, {k.Name}, {points}, _t, _s, {step});"
                    : k.SharedOrder.Count > 0
                    ? $"{{ var _fit = global::Kernels.Gpu.GpuKernels.Stage(accelerator, {StaticShared(k).Count * 4 * k.GroupSize}, {string.Join(", ", k.SharedOrder.Select(n => Index(program.SharedFloats(k, n))))}); var _sk = _s; _sk._staged = _fit.Mask; global::Kernels.Gpu.GpuKernels.LaunchGroups(accelerator, {k.Name}, {points}, {k.GroupSize}, _t, _sk, {step}, _fit.Floats); }}"
                    : $"global::Kernels.Gpu.GpuKernels.LaunchGroups(accelerator, {k.Name}, {points}, {k.GroupSize}, _t, _s, {step});");
            }
        }
    }
}
