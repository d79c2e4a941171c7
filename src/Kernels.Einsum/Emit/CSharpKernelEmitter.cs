using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Ir;
using Kernels.Einsum.Loops;
using Kernels.Einsum.Planning;

namespace Kernels.Einsum.Emit;

/// <summary>
/// Emits the C# body of a kernel method for a cascade: argument checks, then the loop nests that
/// <see cref="KernelPlanner"/> chose, generic over the SIMD width (<c>Kernels.Runtime.ISimdFloat</c>)
/// and dispatched at run time to 512, 256 or 128-bit registers or scalars.
/// </summary>
/// <remarks>
/// Names in the emitted code are the spec's own: tensors are pointers named like the tensor, loop
/// variables are the rank indices, sizes are the upper-case size names. Everything the emitter adds
/// starts with an underscore, which the cascade language does not allow, so nothing collides.
/// </remarks>
public static class CSharpKernelEmitter
{
    public const string GeneratorName = "Kernels.Generators";
    public const string GeneratorVersion = "0.1.0";

    private const string Rt = "global::Kernels.Runtime";
    private const string Math = "global::Kernels.Runtime.KernelMath";

    public static string Emit(Cascade cascade, KernelSignature signature)
    {
        if (cascade is null) throw new ArgumentNullException(nameof(cascade));
        if (signature is null) throw new ArgumentNullException(nameof(signature));
        if (signature.Schedule is { } schedule) cascade = schedule.ApplyTiles(cascade); // the sizes' prologue and the plan agree
        return CodeWriter.GeneratedFile(signature, "the kernel of " + CodeWriter.CascadeOrigin(cascade, signature), disableMissingDocs: true,
            w => new Body(cascade, signature, w).Emit());
    }

    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const", "continue",
        "decimal", "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern", "false", "finally",
        "fixed", "float", "for", "foreach", "goto", "if", "implicit", "in", "int", "interface", "internal", "is", "lock",
        "long", "namespace", "new", "null", "object", "operator", "out", "override", "params", "private", "protected",
        "public", "readonly", "ref", "return", "sbyte", "sealed", "short", "sizeof", "stackalloc", "static", "string",
        "struct", "switch", "this", "throw", "true", "try", "typeof", "uint", "ulong", "unchecked", "unsafe", "ushort",
        "using", "virtual", "void", "volatile", "while",
    };

    /// <summary>A spec name as a C# identifier.</summary>
    public static string Id(string name) => Keywords.Contains(name) ? "@" + name : name;

    public static string ParameterType(KernelParameterKind kind) => kind switch
    {
        KernelParameterKind.InputTensor => "global::System.ReadOnlySpan<float>",
        KernelParameterKind.OutputTensor => "global::System.Span<float>",
        KernelParameterKind.ScalarInput => "float",
        KernelParameterKind.IntegerInputTensor => "global::System.ReadOnlySpan<int>",
        _ => "int",
    };

    internal static string Float(double value)
    {
        if (double.IsNaN(value)) return "float.NaN";
        if (double.IsPositiveInfinity(value)) return "float.PositiveInfinity";
        if (double.IsNegativeInfinity(value)) return "float.NegativeInfinity";
        var f = (float)value;
        if (float.IsPositiveInfinity(f)) return "float.PositiveInfinity";
        if (float.IsNegativeInfinity(f)) return "float.NegativeInfinity";
        var text = f.ToString("R", CultureInfo.InvariantCulture);
        return (text.StartsWith("-", StringComparison.Ordinal) ? "(" + text + "f)" : text + "f");
    }

    private sealed class Body
    {
        // The plans the kernel runs and the choices they share, all decided before anything is printed.
        private readonly KernelVariants _variants;

        // The loop nests this class prints (CpuLowering decides them from _variants).
        private readonly CpuProgram _program;

        // The cascade of the plan being emitted (tile copies as views), and the one the spec wrote.
        private Cascade _c;
        private readonly Cascade _source;

        // A plan for few rows per call (a decode step), with every tile copy read in place, or null.
        private readonly KernelPlan? _fewRows;
        private readonly KernelSignature _sig;
        private CodeWriter _w;
        private readonly KernelPlan _dense;
        private readonly string _kernelClass;
        private readonly List<string> _sizes;
        private KernelPlan _plan;
        private int _temp;

        public Body(Cascade cascade, KernelSignature signature, CodeWriter writer)
        {
            _variants = KernelVariants.Choose(cascade, signature.Schedule);
            _program = CpuLowering.Lower(_variants);
            (_source, _c, _dense, _fewRows) = (cascade, _variants.Planned, _variants.Dense, _variants.FewRows);
            _sig = signature;
            _w = writer;
            _plan = _dense;
            foreach (var planned in new[] { _variants.Planned, _variants.FewRowsCascade })
                foreach (var e in planned?.Einsums ?? Array.Empty<ExtendedEinsum>())
                    foreach (var exp in Exps(e.Body))
                        if (_variants.NonPositiveExps.Contains((e.Id, exp.ToString()))) _nonPositive.Add(exp);
            _kernelClass = "__" + signature.MethodName + "Kernel";
            _sizes = cascade.Ranks.Select(r => r.Size).Distinct().ToList();
        }

        /// <summary>Every plan the kernel may run.</summary>
        private IEnumerable<KernelPlan> Plans => _variants.Plans;

        /// <summary>The exps whose argument is at most 0 (<see cref="KernelVariants.NonPositiveExps"/>), as the cascades
        /// printed hold them: their vectors call ExpNonPositive, clamped only below.</summary>
        private readonly HashSet<Expr> _nonPositive = new(ReferenceEqualityComparer.Instance);

        private static IEnumerable<Unary> Exps(Expr x) => x switch
        {
            Unary { Function: UnaryFunction.Exp or UnaryFunction.Exp2 } u => Exps(u.Operand).Prepend(u),
            Unary u => Exps(u.Operand),
            Binary b => Exps(b.Left).Concat(Exps(b.Right)),
            _ => Array.Empty<Unary>(),
        };

        /// <summary>Says which exps of an Einsum's body are clamped only below, and why.</summary>
        private void BoundComments(params ExtendedEinsum[] einsums)
        {
            foreach (var u in einsums.SelectMany(e => Exps(e.Body)).Where(_nonPositive.Contains).Distinct())
                if (u.Operand is Binary { Left: var value, Right: var bound })
                    _w.Line($"//   {(u.Function == UnaryFunction.Exp2 ? "exp2" : "exp")}({value} - {bound}): {bound} is at least {value} (a maximum over it), so the argument is at most 0 and the exp is clamped only below");
        }

        /// <summary>
        /// Log-sum-exp results kept as two floats, the maximum and log(sum exp(x - max)) (<see cref="KernelVariants.Pairs"/>).
        /// </summary>
        private bool IsPair(Tensor t) => _variants.Pairs.Contains(t.Name);

        /// <summary>Intermediates that live in an output's memory instead of scratch (<see cref="KernelVariants.Aliases"/>).</summary>
        private IReadOnlyDictionary<string, Tensor> _aliases => _variants.Aliases;

        private bool IsAlias(Tensor t) => _aliases.ContainsKey(t.Name);

        /// <summary>The pointer a tensor is read and written through: its own, or the output's it lives in.</summary>
        private string Ptr(Tensor t) => Id(_aliases.TryGetValue(t.Name, out var y) ? y.Name : t.Name);

        private TensorStorage StorageOf(Tensor t) => _plan.Storage[_aliases.TryGetValue(t.Name, out var y) ? y.Name : t.Name];

        private static string LowName(Tensor t) => "_lo" + t.Name;

        private Rank RankOf(string index) => _c.Rank(index);

        public void Emit()
        {
            EmitPublicMethod();
            _w.Line();
            _w.Line($"/// <summary>The loop nests of <see cref=\"{_sig.MethodName}\"/>, planned from the cascade '{_c.Name}'.</summary>");
            _w.Line($"[global::System.CodeDom.Compiler.GeneratedCode(\"{GeneratorName}\", \"{GeneratorVersion}\")]");
            _w.Open($"private static unsafe class {_kernelClass}");
            EmitArgs();
            _w.Line();
            EmitRun();
            foreach (var plan in _program.Plans)
            {
                var main = _c;
                _c = plan.Cascade;
                EmitPlan(plan, plan.Name switch
                {
                    "Dense" => _dense.EdgeBounds is null
                        ? "the sizes divide their tiles, so every point of every tensor exists"
                        : $"the sizes divide their tiles, or the last tile is run only up to the edge (no sum over an empty {string.Join(", ", _dense.EdgeBoundsNeedNonEmpty)})",
                    "General" => "a partial last tile: points past a tensor's edge are absent, as in the interpreter",
                    "FewRows" => $"fewer than KernelRuntime.FewRows rows of {plan.Plan.SliceRank} (a decode step): every tile copy is read in place, where the plans above copy and transpose K's tiles once for many rows",
                    _ => null,
                });
                _c = main;
            }
            _w.Close();
        }

        // ------------------------------------------------------------ the user's method

        private void EmitPublicMethod()
        {
            _w.Line("// The cascade this method computes:");
            foreach (var line in _c.Source.Replace("\r\n", "\n").Split('\n'))
                _w.Line(("//   " + line).TrimEnd());
            _w.Line("// The schedule it runs (set parts of it with [Einsum(Schedule = \"...\")] or a .schedule file beside the spec):");
            foreach (var line in _variants.Chosen.ToString().TrimEnd('\n').Split('\n'))
                _w.Line("//   " + line);
            if (_fewRows is not null)
                _w.Line($"// and, for fewer than KernelRuntime.FewRows rows of {_fewRows.SliceRank}: {string.Join("; ", _variants.FewRowsViews.Select(t => $"place {t} view"))}");
            _w.Line($"[global::System.CodeDom.Compiler.GeneratedCode(\"{GeneratorName}\", \"{GeneratorVersion}\")]");
            var parameters = string.Join(", ", _sig.Parameters.Select(p => $"{ParameterType(p.Kind)} {Id(p.Name)}"));
            _w.Open($"{_sig.Accessibility} static partial void {Id(_sig.MethodName)}({parameters})");
            _w.Line($"{_kernelClass}.Run({string.Join(", ", _sig.Parameters.Select(p => Id(p.Name)))});");
            _w.Close();
        }

        private IEnumerable<Tensor> ArgumentTensors => _c.Tensors.Where(t => t.Role != TensorRole.Intermediate);

        private IEnumerable<(Tensor Tensor, bool Presence)> ScratchFields =>
            Plans.SelectMany(p => p.Storage.Values)
                .Where(s => (s.Home == TensorHome.Shared && !IsAlias(s.Tensor)) || (s.Home == TensorHome.Argument && s.HasPresence))
                .SelectMany(s => s.Home == TensorHome.Shared
                    ? new[] { (s.Tensor, false), (s.Tensor, s.HasPresence) }.Where(x => !x.Item2 || s.HasPresence).Distinct()
                    : new[] { (s.Tensor, true) })
                .Distinct();

        private void EmitArgs()
        {
            _w.Line("/// <summary>Everything a loop nest needs, passed by value to each thread.</summary>");
            _w.Open("private struct _Args");
            foreach (var t in ArgumentTensors)
                _w.Line($"public {ArgumentType(t)} {Id(t.Name)};");
            foreach (var (t, presence) in ScratchFields)
            {
                _w.Line(presence ? $"public byte* {PresenceName(t)};" : $"public float* {Id(t.Name)};");
                if (!presence && IsPair(t)) _w.Line($"public float* {LowName(t)};");
            }
            foreach (var size in _sizes) _w.Line($"public int {size};");
            foreach (var block in _c.Blocks) _w.Line($"public int {StepsName(block)};");
            _w.Close();
        }

        private static string PresenceName(Tensor t) => "_h" + t.Name;

        private static bool IsInteger(Tensor t) => t.ElementType == ElementType.Int32;

        /// <summary>The type an argument's field and local have: a pointer to its elements, or a scalar input's value.</summary>
        private static string ArgumentType(Tensor t) => (IsInteger(t) ? "int" : "float") + (IsScalarInput(t) ? "" : "*");

        /// <summary>An element of a tensor as a float: an i32 input's integer is converted (to the nearest float) here, so
        /// that no arithmetic of the expression it is in is done on integers.</summary>
        private string Element(Tensor t, string offset) => IsInteger(t) ? $"(float){Ptr(t)}[{offset}]" : $"{Ptr(t)}[{offset}]";

        /// <summary>A scalar input as a float.</summary>
        private static string ScalarInput(Tensor t) => IsInteger(t) ? $"(float){Id(t.Name)}" : Id(t.Name);

        private static string StepsName(IterationBlock block) => "_steps_" + block.Rank;

        // ------------------------------------------------------------ Run: sizes, checks, dispatch

        private void EmitRun()
        {
            var parameters = string.Join(", ", _sig.Parameters.Select(p => $"{ParameterType(p.Kind)} {Id(p.Name)}"));
            _w.Open($"public static void Run({parameters})");
            var bound = new HashSet<string>(_sig.Parameters.Where(p => p.Kind == KernelParameterKind.Size).Select(p => p.Name), StringComparer.Ordinal);

            foreach (var p in _sig.Parameters.Where(p => p.Kind == KernelParameterKind.Size))
            {
                var rank = _c.Ranks.First(r => r.Size == p.Name && r.AliasOf is null);
                if (rank.Kind == RankKind.PartitionInner)
                    _w.Line($"if ({p.Name} <= 0) throw new global::System.ArgumentOutOfRangeException(\"{p.Name}\", {p.Name}, \"The tile size {p.Name} must be at least 1.\");");
                else
                    _w.Line($"if ({p.Name} < 0) throw new global::System.ArgumentOutOfRangeException(\"{p.Name}\", {p.Name}, \"The size {p.Name} must be zero or more.\");");
            }
            foreach (var rank in _c.Ranks.Where(r => r.AliasOf is null && !bound.Contains(r.Size)).OrderBy(r => r.Kind == RankKind.PartitionOuter ? 1 : 0))
            {
                if (rank.Kind == RankKind.PartitionOuter)
                {
                    var inner = _c.Ranks.First(r => r.Kind == RankKind.PartitionInner && r.AliasOf is null && r.PartitionOf == rank.PartitionOf);
                    var of = RankOf(rank.PartitionOf!).Size;
                    _w.Line($"int {rank.Size} = {of} / {inner.Size} + ({of} % {inner.Size} == 0 ? 0 : 1); // tiles of {inner.Size} over {of}");
                }
                else if (rank.DefaultSize is { } d)
                {
                    _w.Line($"int {rank.Size} = {d}; // {(_sig.Schedule?.TileOf(rank.Size) == d ? "the schedule's tile" : "the spec's default")}");
                }
            }
            foreach (var alias in _c.Ranks.Where(r => r.AliasOf is not null))
                if (alias.Size != RankOf(alias.AliasOf!).Size && !bound.Contains(alias.Size))
                    _w.Line($"int {alias.Size} = {RankOf(alias.AliasOf!).Size};");

            // Shapes: every span must hold its tensor.
            foreach (var t in ArgumentTensors.Where(t => !IsScalarInput(t)))
            {
                var need = "_need" + t.Name;
                _w.Line($"long {need} = {Elements(t.Dims.Select(Extent))};");
                var shape = string.Join(", ", t.Dims.Select(d => "{" + Extent(d) + "}"));
                var names = string.Join(", ", t.Dims.Select(Extent));
                _w.Line($"if ({Id(t.Name)}.Length < {need}) throw new global::System.ArgumentException($\"{t.Name} holds {{{Id(t.Name)}.Length}} elements but its shape [{names}] = [{shape}] needs {{({Rt}.KernelRuntime.Describe({need}))}}.\", \"{t.Name}\");");
            }
            foreach (var o in _c.Outputs)
                foreach (var i in _c.Inputs.Where(i => i.Rank > 0))
                    _w.Line($"if (global::System.MemoryExtensions.Overlaps({(IsInteger(i) ? $"{Marshal}.AsBytes((global::System.ReadOnlySpan<float>){Id(o.Name)}), {Marshal}.AsBytes({Id(i.Name)})" : $"{Id(o.Name)}, {Id(i.Name)}")})) throw new global::System.ArgumentException(\"The output {o.Name} overlaps the input {i.Name}; the kernel does not run in place.\", \"{o.Name}\");");

            // No output point: nothing to compute, and no scratch or steps sized by the other ranks.
            var outputNeeds = _c.Outputs.Select(o => $"_need{o.Name} == 0").ToList();
            if (outputNeeds.Count > 0) _w.Line($"if ({string.Join(" && ", outputNeeds)}) return;");
            foreach (var block in _c.Blocks) EmitStepCount(block);
            EmitScratchChecks();

            foreach (var o in _c.Outputs.Where(o => _program.ClearedOutputs.Contains(o.Name)))
                _w.Line($"{Id(o.Name)}.Slice(0, (int)_need{o.Name}).Clear(); // points no Einsum writes are 0");

            var pinned = ArgumentTensors.Where(t => !IsScalarInput(t)).ToList();
            // One fixed statement per element type (a fixed statement declares pointers of one type); nested, they open one block.
            var pinnedTypes = pinned.GroupBy(IsInteger).OrderBy(g => g.Key).ToList();
            foreach (var group in pinnedTypes.Take(pinnedTypes.Count - 1))
                _w.Line($"fixed ({(group.Key ? "int" : "float")}* {string.Join(", ", group.Select(t => $"_p{t.Name} = {Id(t.Name)}"))})");
            if (pinnedTypes.Count > 0)
                _w.Open($"fixed ({(pinnedTypes[pinnedTypes.Count - 1].Key ? "int" : "float")}* {string.Join(", ", pinnedTypes[pinnedTypes.Count - 1].Select(t => $"_p{t.Name} = {Id(t.Name)}"))})");
            else
                _w.Open("");
            var fields = pinned.Select(t => $"{Id(t.Name)} = _p{t.Name}")
                .Concat(_c.Inputs.Where(t => t.Rank == 0).Select(t => $"{Id(t.Name)} = {Id(t.Name)}"))
                .Concat(_sizes.Select(s => $"{s} = {s}"))
                .Concat(_c.Blocks.Select(b => $"{StepsName(b)} = {StepsName(b)}"));
            _w.Line($"var _args = new _Args {{ {string.Join(", ", fields)} }};");
            var otherwise = "";
            if (_program.FewRowsPlan is { } few)
            {
                var exact = DenseCondition(few.Plan);
                _w.Line($"if ({RankOf(few.Plan.SliceRank!).Size} < {Rt}.KernelRuntime.FewRows{(exact is null ? "" : $" && ({exact})")}) _Dispatch{few.Name}(_args); // {Listed(_variants.FewRowsViews)} read in place, not copied");
                otherwise = "else ";
            }
            if (_program.General is { } general)
            {
                _w.Line($"{otherwise}if ({DenseCondition(_program.Main.Plan)}) _Dispatch{_program.Main.Name}(_args);");
                _w.Line($"else _Dispatch{general.Name}(_args);");
            }
            else
            {
                _w.Line($"{otherwise}_Dispatch{_program.Main.Name}(_args);");
            }
            _w.Close();
            _w.Close();
        }

        // Spans of floats and of integers are compared for overlap as bytes (Overlaps compares spans of one type).
        private const string Marshal = "global::System.Runtime.InteropServices.MemoryMarshal";

        /// <summary>The sizes for which a plan made assuming divisible sizes is exact, or null when it is for all.</summary>
        private string? DenseCondition(KernelPlan plan)
        {
            if (!plan.AssumesDivisible || (plan.EdgeBounds is not null && plan.EdgeBoundsNeedNonEmpty.Count == 0)) return null;
            var cond = string.Join(" && ", plan.DivisibilityAssumed.Select(d => $"{RankOf(d.Of).Size} % {RankOf(d.Inner).Size} == 0").Distinct());
            if (plan.EdgeBounds is not null)
                cond = $"({cond}) || ({string.Join(" && ", plan.EdgeBoundsNeedNonEmpty.Select(r => RankOf(r).Size + " != 0").Distinct())})";
            return cond;
        }

        private static bool IsScalarInput(Tensor t) => t.Role == TensorRole.Input && t.Rank == 0;

        private void EmitStepCount(IterationBlock block)
        {
            var name = StepsName(block);
            var rank = RankOf(block.Rank);
            if (KernelPlanner.IsStandardStop(_c, block))
            {
                _w.Line($"int {name} = {rank.Size}; // iterate {block.Rank} until {block.Stop}");
                return;
            }
            var env = new Dictionary<string, string> { [block.Rank] = name };
            var param = rank.Kind == RankKind.PartitionOuter ? RankOf(rank.PartitionOf!).Size : rank.Size;
            var paramExpr = _sig.Parameters.Any(p => p.Name == param) ? $"\"{param}\"" : $"\"{param}\"";
            _w.Line($"int {name} = 0; // iterate {block.Rank} until {block.Stop}");
            _w.Open($"while (!({Ix(block.Stop.Left, env)} {Cmp(block.Stop.Operator)} {Ix(block.Stop.Right, env)}))");
            _w.Line($"if ({name} >= {rank.Size}) throw new global::System.ArgumentException($\"The stop condition 'until {block.Stop}' of 'iterate {block.Rank}' does not hold for any {block.Rank} in 0..{{{rank.Size}}} with these sizes.\", {paramExpr});");
            _w.Line($"{name}++;");
            _w.Close();
        }

        /// <summary>A dimension's extent; one with an offset is a long, so that it cannot wrap around.</summary>
        private string Extent(TensorDim d)
        {
            var size = RankOf(d.Rank).Size;
            return d.Offset == 0 ? size : $"({size} + {d.Offset}L)";
        }

        /// <summary>The element count of a shape, saturating at long.MaxValue instead of wrapping around.</summary>
        private static string Elements(IEnumerable<string> extents)
        {
            var list = extents.ToList();
            return list.Count switch
            {
                0 => "1L",
                1 => $"(long){list[0]}",
                _ => $"{Rt}.KernelRuntime.Elements(stackalloc long[] {{ {string.Join(", ", list)} }})",
            };
        }

        /// <summary>
        /// Every scratch tensor of either plan is sized before any memory is touched: a count that overflows is an
        /// ArgumentException naming the sizes, one larger than the process can hold an InsufficientMemoryException.
        /// </summary>
        private void EmitScratchChecks()
        {
            var plans = Plans.ToList();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var s in plans.SelectMany(p => p.Storage.Values).Where(s => s.Home != TensorHome.Argument && !IsAlias(s.Tensor)))
            {
                var count = StorageCount(s, $"{Rt}.KernelRuntime.MaxRowBlock");
                if (count == "1L" || !seen.Add(count + " " + s.Tensor.Name)) continue;
                var kept = Enumerable.Range(0, s.Dims.Count).Where(d => s.Dims[d] == DimStorage.Kept).Select(d => RankOf(s.Tensor.Dims[d].Rank)).ToList();
                var parameters = kept.Select(r => r.Kind == RankKind.PartitionOuter ? RankOf(r.PartitionOf!).Size : r.Size)
                    .Where(z => _sig.Parameters.Any(p => p.Kind == KernelParameterKind.Size && p.Name == z)).Distinct();
                _w.Line($"{Rt}.KernelRuntime.CheckScratch({count}, \"{s.Tensor.Name}[{string.Join(", ", kept.Select(r => r.Size))}]\", \"{string.Join(", ", parameters)}\");");
            }
        }

        // ------------------------------------------------------------ one plan

        private const string Optimized = "[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]";

        private void EmitPlan(CpuPlan program, string? when)
        {
            var (plan, name) = (program.Plan, program.Name);
            _plan = plan;
            _liveSlots.Clear();
            _w.Line();
            _w.Line($"private static void _Dispatch{name}(_Args _a)");
            _w.Line("{");
            _w.Line($"    switch ({Rt}.KernelRuntime.Width)");
            _w.Line("    {");
            _w.Line($"        case 512: _{name}<{Rt}.V512>(_a); break;");
            _w.Line($"        case 256: _{name}<{Rt}.V256>(_a); break;");
            _w.Line($"        case 128: _{name}<{Rt}.V128>(_a); break;");
            _w.Line($"        default: _{name}<{Rt}.F32>(_a); break;");
            _w.Line("    }");
            _w.Line("}");
            _w.Line();
            _w.Line($"/// <summary>");
            if (when is not null) _w.Line($"/// When {when}.");
            _w.Line(plan.SliceRank is { } s
                ? plan.OuterSlices.Count > 0
                    ? $"/// Parallel over {string.Join(", ", plan.OuterSlices.Append(s))}: each thread runs the Einsums that keep them for one point of {string.Join(", ", plan.OuterSlices)} and a slice of {s} at a time."
                    : $"/// Parallel over {s}: each thread runs the Einsums that keep {s} for its slice of it."
                : "/// Runs on the calling thread: no rank is independent across the whole cascade.");
            _w.Line("/// </summary>");
            var sharedScratch = plan.Storage.Values.Where(x => x.Home == TensorHome.Shared && !IsAlias(x.Tensor)).ToList();
            var argPresence = plan.Storage.Values.Where(x => x.Home == TensorHome.Argument && x.HasPresence).ToList();
            // Fully optimised from the first call: a kernel's loops are hot at once, and unoptimised code would call each
            // width's operators instead of inlining them (100 times slower until tiering caught up).
            _w.Line(Optimized);
            _w.Open($"private static void _{name}<_TV>(_Args _a) where _TV : unmanaged, {Rt}.ISimdFloat<_TV>");
            Unpack(plan, includeSliceLocal: false);
            foreach (var alias in _aliases)
                _w.Line($"// {alias.Key} lives in {alias.Value.Name}'s memory: each point of {alias.Value.Name} is written from {alias.Key} at the same point, and nothing reads {alias.Key} after that.");
            foreach (var view in _source.Einsums.Where(e => !_c.Tensors.Any(t => t.Name == e.Output.Name)))
                _w.Line($"// {view.Output.Name} is a view: '{CodeWriter.OneLine(view.Text)}' is not computed, and each read of {view.Output.Name} reads {((TensorRead)view.Body).Tensor.Name} in place.");
            foreach (var x in sharedScratch) Allocate(x, "_a.");
            foreach (var x in argPresence) AllocatePresence(x, "_a.");
            _w.Open("try");
            EmitNodes(program.Hoisted);
            if (program.Parallel is { } parallel)
            {
                var slice = parallel.Rank;
                var work = string.Join(" + ", plan.Sliced.SelectMany(StepEinsums).Select(e => "(double)" + string.Join(" * ", e.Ranks.Select(r => RankOf(r).Size).DefaultIfEmpty("1"))));
                _w.Line($"long _work = (long)global::System.Math.Min(9e18, {work});");
                // A kernel that runs its rows in blocks hands the threads whole blocks (KernelRuntime.For with the block).
                var blocks = "";
                if (plan.RowBlocks)
                {
                    _w.Line($"int _PB = {BlockRows(plan)}; // rows of {slice} per block, as each slice cuts them");
                    blocks = $"{RankOf(slice).Size}, _PB, ";
                }
                var any = AnyOutputPoint(plan.Sliced.SelectMany(StepEinsums), slice);
                if (any is not null && plan.OuterSlices.Count == 0) _w.Line($"if ({any}) // else no slice writes a point");
                var forAll = $"{Rt}.KernelRuntime.For({RankOf(slice).Size}, _work, {_sig.MaxDegreeOfParallelism}, {blocks}(_start, _end) => _{name}Slice<_TV>(_a, _start, _end));";
                if (plan.OuterSlices.Count > 0)
                {
                    // The threads take ranges of the (outer point, row) pairs, in one pass over all of them when they fit an int.
                    var outerCount = string.Join(" * ", plan.OuterSlices.Select(o => $"(long){RankOf(o).Size}"));
                    var rows = RankOf(slice).Size;
                    if (any is not null) _w.Open($"if ({any}) // else no slice writes a point");
                    _w.Line($"long _outer = {outerCount}, _pairs = _outer * {rows};");
                    var outerBlocks = plan.RowBlocks ? $"{rows}, _PB, " : "";
                    _w.Line($"if (_pairs <= int.MaxValue) {Rt}.KernelRuntime.For((int)_pairs, _work, {_sig.MaxDegreeOfParallelism}, {outerBlocks}(_start, _end) => _{name}Slice<_TV>(_a, _start, _end));");
                    _w.Line($"else for (long _ob = 0; _ob < _outer; _ob++) {{ long _base = _ob * {rows}; {Rt}.KernelRuntime.For({rows}, _work / _outer, {_sig.MaxDegreeOfParallelism}, {outerBlocks}(_start, _end) => _{name}Slice<_TV>(_a, _base + _start, _base + _end)); }}");
                    if (any is not null) _w.Close();
                }
                else if (parallel.RowByRow is not null)
                {
                    if (any is not null) _w.Open($"if ({any}) // else no slice writes a point");
                    _w.Line($"if ({Rt}.KernelRuntime.SplitRows({RankOf(slice).Size}, _work, {_sig.MaxDegreeOfParallelism})) _{name}Rows<_TV>(_a); // few long rows: each split across threads");
                    _w.Line($"else {forAll}");
                    if (any is not null) _w.Close();
                }
                else _w.Line($"{(any is null ? "" : "    ")}{forAll}");
            }
            _w.Close();
            _w.Open("finally");
            foreach (var x in sharedScratch) Free(x);
            foreach (var x in argPresence) _w.Line($"{Rt}.KernelRuntime.Free({PresenceName(x.Tensor)});");
            _w.Close();
            _w.Close();

            if (program.Parallel is { } par)
            {
                var sr = par.Rank;
                var local = plan.Storage.Values.Where(x => x.Home == TensorHome.SliceLocal && !IsAlias(x.Tensor)).ToList();
                _w.Line();
                var outer = plan.OuterSlices;
                _w.Line(outer.Count > 0
                    ? $"/// <summary>The Einsums that keep {sr}, for the pairs ({string.Join(", ", outer)}; {sr}) numbered [_from, _to) in row-major order.</summary>"
                    : $"/// <summary>The Einsums that keep {sr}, for {sr} in [_start, _end).</summary>");
                _w.Line(Optimized);
                _w.Open(outer.Count > 0
                    ? $"private static void _{name}Slice<_TV>(_Args _a, long _from, long _to) where _TV : unmanaged, {Rt}.ISimdFloat<_TV>"
                    : $"private static void _{name}Slice<_TV>(_Args _a, int _start, int _end) where _TV : unmanaged, {Rt}.ISimdFloat<_TV>");
                var scope = Unpack(plan, includeSliceLocal: true);
                if (plan.RowBlocks)
                {
                    _w.Line($"int _PB = {BlockRows(plan)}; // rows of {sr} per block, {(plan.BlockRows is null ? "sized to the cache" : "as the schedule asks")}");
                    scope.Add(("int", "_PB"));
                    foreach (var x in local)
                    {
                        scope.Add(("float*", Id(x.Tensor.Name)));
                        if (IsPair(x.Tensor)) scope.Add(("float*", LowName(x.Tensor)));
                        if (x.HasPresence) scope.Add(("byte*", PresenceName(x.Tensor)));
                    }
                    scope.AddRange(outer.Select(o => ("int", Id(o))));
                    scope.AddRange(new[] { ("int", "_pb"), ("int", "_pe") });
                    _sliceScope = scope;
                    _sliceName = name;
                    _sliceIndent = _w.Indent - 1;
                }
                WithScratch(local, () =>
                {
                    if (outer.Count > 0)
                    {
                        // One outer point at a time: its rows in the range, then the next point's.
                        var rows = RankOf(sr).Size;
                        _w.Open($"for (long _i = _from; _i < _to;)");
                        _w.Line($"long _op = _i / {rows}; // the outer point");
                        _w.Line($"int _start = (int)(_i - _op * {rows}), _end = (int)global::System.Math.Min({rows}, _start + (_to - _i));");
                        _w.Line("_i += _end - _start;");
                        for (var k = outer.Count - 1; k >= 0; k--)
                        {
                            var size = RankOf(outer[k]).Size;
                            _w.Line(k == 0 ? $"int {Id(outer[k])} = (int)_op;" : $"int {Id(outer[k])} = (int)(_op % {size}); _op /= {size};");
                        }
                    }
                    if (plan.RowBlocks)
                    {
                        _w.Open($"for (int _pb = _start; _pb < _end; _pb += _PB)");
                        _w.Line($"int _pe = global::System.Math.Min(_pb + _PB, _end); // this block is {sr} in [_pb, _pe)");
                    }
                    else _w.Open($"for (int {Id(sr)} = _start; {Id(sr)} < _end; {Id(sr)}++)");
                    EmitNodes(par.Body);
                    _w.Close();
                    if (outer.Count > 0) _w.Close();
                });
                _w.Close();
                _sliceScope = null;
                foreach (var m in _stepMethods) _w.Append(m);
                _stepMethods.Clear();
                if (par.RowByRow is { } byRow) EmitRows(plan, name, local, byRow);
            }
        }

        /// <summary>The Einsums of a row, for each row in turn, each split across threads where it can be.</summary>
        private void EmitRows(KernelPlan plan, string name, List<TensorStorage> local, IReadOnlyList<CpuNode> rows)
        {
            var sr = plan.SliceRank!;
            _w.Line();
            _w.Line($"/// <summary>The Einsums that keep {sr}, one {sr} at a time, each spread over the threads.</summary>");
            _w.Line(Optimized);
            _w.Open($"private static void _{name}Rows<_TV>(_Args _a) where _TV : unmanaged, {Rt}.ISimdFloat<_TV>");
            Unpack(plan, includeSliceLocal: true);
            WithScratch(local, () =>
            {
                _w.Open($"for (int {Id(sr)} = 0; {Id(sr)} < {RankOf(sr).Size}; {Id(sr)}++)");
                EmitNodes(rows);
                _w.Close();
            });
            _w.Close();
        }

        /// <summary>Scratch of a slice allocated, the body in a try, and the scratch freed in its finally.</summary>
        private void WithScratch(List<TensorStorage> local, Action body)
        {
            foreach (var x in local) Allocate(x, null);
            _w.Open("try");
            body();
            _w.Close();
            _w.Open("finally");
            foreach (var x in local) Free(x);
            _w.Close();
        }

        private static IEnumerable<ExtendedEinsum> StepEinsums(CascadeStep step) =>
            step.Einsum is { } e ? new[] { e } : step.Block!.Inits.Concat(step.Block.Einsums);

        /// <summary>Declares the arguments' fields as locals; returns them (type and name).</summary>
        private List<(string Type, string Name)> Unpack(KernelPlan plan, bool includeSliceLocal)
        {
            var declared = new List<(string Type, string Name)>();
            void Field(string type, string name)
            {
                _w.Line($"{type} {name} = _a.{name};");
                declared.Add((type, name));
            }
            foreach (var t in ArgumentTensors) Field(ArgumentType(t), Id(t.Name));
            if (includeSliceLocal)
            {
                foreach (var s in plan.Storage.Values.Where(x => x.Home == TensorHome.Shared && !IsAlias(x.Tensor)))
                {
                    Field("float*", Id(s.Tensor.Name));
                    if (IsPair(s.Tensor)) Field("float*", LowName(s.Tensor));
                    if (s.HasPresence) Field("byte*", PresenceName(s.Tensor));
                }
                foreach (var s in plan.Storage.Values.Where(x => x.Home == TensorHome.Argument && x.HasPresence)) Field("byte*", PresenceName(s.Tensor));
            }
            _w.Line(string.Join(" ", _sizes.Select(s => $"int {s} = _a.{s};")));
            declared.AddRange(_sizes.Select(s => ("int", s)));
            if (_c.Blocks.Any())
            {
                _w.Line(string.Join(" ", _c.Blocks.Select(b => $"int {StepsName(b)} = _a.{StepsName(b)};")));
                declared.AddRange(_c.Blocks.Select(b => ("int", StepsName(b))));
            }
            return declared;
        }

        /// <summary>The locals of the blocked slice method being written (type and name), while it is written; its
        /// name; its indentation; and the step methods written beside it (<see cref="EmitStepCall"/>).</summary>
        private List<(string Type, string Name)>? _sliceScope;
        private string _sliceName = "";
        private int _sliceIndent;
        private readonly List<CodeWriter> _stepMethods = new();

        /// <summary>
        /// A step of an iteration block in a blocked slice as a call of a method of its own, written beside the slice:
        /// the slice (scratch, row blocks, steps) is the largest method the generator writes, and the JIT stops inlining
        /// the vector operators of its later loops once a method's inlining budget is spent; a step on its own fits.
        /// </summary>
        private void EmitStepCall(CSteps steps, string? live)
        {
            var block = steps.Block;
            var scope = new List<(string Type, string Name)>(_sliceScope!) { ("int", Id(block.Rank)) };
            if (live is not null) scope.Add(("int", live));
            var method = $"_{_sliceName}Step_{Id(block.Rank)}";
            _w.Line($"{method}<_TV>({string.Join(", ", scope.Select(x => x.Name))});");
            var caller = _w;
            _w = new CodeWriter { Indent = _sliceIndent };
            _w.Line();
            _w.Line($"/// <summary>One step of 'iterate {block.Rank}' for a block of rows of _{_sliceName}Slice (a method of its own, so that the JIT inlines its vector operators).</summary>");
            _w.Line(Optimized);
            _w.Open($"private static void {method}<_TV>({string.Join(", ", scope.Select(x => $"{x.Type} {x.Name}"))}) where _TV : unmanaged, {Rt}.ISimdFloat<_TV>");
            ClipStep(steps);
            EmitNodes(steps.Body);
            _clips.Clear();
            _w.Close();
            _stepMethods.Add(_w);
            _w = caller;
        }

        /// <summary>The rows of the parallel rank a block holds: the schedule's number, or KernelRuntime.RowBlock of the
        /// floats each row takes in the slice-local scratch. The parallel method and each slice evaluate it alike.</summary>
        private string BlockRows(KernelPlan plan)
        {
            if (plan.BlockRows is { } rows) return rows.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var perRow = plan.Storage.Values.Where(x => x.Home == TensorHome.SliceLocal && !IsAlias(x.Tensor)).Select(x => StorageCount(x, "1")).DefaultIfEmpty("0L");
            return $"{Rt}.KernelRuntime.RowBlock(stackalloc long[] {{ {string.Join(", ", perRow)} }})";
        }

        /// <param name="s">The tensor's storage.</param>
        /// <param name="block">The extent of a blocked dimension: the block's rows (<c>_PB</c>), or the most a block holds.</param>
        private string StorageCount(TensorStorage s, string block = "_PB")
        {
            var parts = new List<string>();
            for (var d = 0; d < s.Dims.Count; d++)
            {
                if (s.Dims[d] == DimStorage.Kept) parts.Add(Extent(s.Tensor.Dims[d]));
                else if (s.Dims[d] == DimStorage.Rolling) parts.Add("2");
                else if (s.Dims[d] == DimStorage.Blocked && block != "1") parts.Add(block);
                else if (s.Dims[d] == DimStorage.Chunk) parts.Add(ChunkSteps);
            }
            return Elements(parts);
        }

        private void Allocate(TensorStorage s, string? publish)
        {
            var count = StorageCount(s);
            var note = string.Join(", ", s.Tensor.Dims.Select((d, i) => s.Dims[i] switch
            {
                DimStorage.Dropped => $"{d}: not stored",
                DimStorage.Rolling => $"{d}: two slots",
                DimStorage.Blocked => $"{d}: the block's rows",
                DimStorage.Chunk => $"{d}: a chunk of steps",
                _ => d.ToString(),
            }));
            _w.Line($"float* {Id(s.Tensor.Name)} = {Rt}.KernelRuntime.Allocate({count}); // {s.Tensor.Name}[{note}]");
            if (publish is not null) _w.Line($"{publish}{Id(s.Tensor.Name)} = {Id(s.Tensor.Name)};");
            if (IsPair(s.Tensor))
            {
                _w.Line($"float* {LowName(s.Tensor)} = {Rt}.KernelRuntime.Allocate({count}); // {s.Tensor.Name} = {s.Tensor.Name}[max] + {LowName(s.Tensor)}[log of the sum]");
                if (publish is not null) _w.Line($"{publish}{LowName(s.Tensor)} = {LowName(s.Tensor)};");
            }
            if (s.HasPresence)
            {
                _w.Line($"byte* {PresenceName(s.Tensor)} = {Rt}.KernelRuntime.AllocatePresence({count}); // which points of {s.Tensor.Name} exist");
                if (publish is not null) _w.Line($"{publish}{PresenceName(s.Tensor)} = {PresenceName(s.Tensor)};");
            }
        }

        private void AllocatePresence(TensorStorage s, string publish)
        {
            _w.Line($"byte* {PresenceName(s.Tensor)} = {Rt}.KernelRuntime.AllocatePresence({StorageCount(s)}); // which points of {s.Tensor.Name} exist");
            _w.Line($"{publish}{PresenceName(s.Tensor)} = {PresenceName(s.Tensor)};");
        }

        private void Free(TensorStorage s)
        {
            _w.Line($"{Rt}.KernelRuntime.Free({Id(s.Tensor.Name)});");
            if (IsPair(s.Tensor)) _w.Line($"{Rt}.KernelRuntime.Free({LowName(s.Tensor)});");
            if (s.HasPresence) _w.Line($"{Rt}.KernelRuntime.Free({PresenceName(s.Tensor)});");
        }

        /// <summary>Prints nodes in order, each as its lowering.</summary>
        private void EmitNodes(IReadOnlyList<CpuNode> nodes)
        {
            foreach (var node in nodes)
            {
                switch (node)
                {
                    case CFolded folded:
                        _w.Line();
                        _w.Line($"// {CodeWriter.OneLine(folded.Einsum.Text)}");
                        _w.Line("//   computed in the micro-kernel call of the running sum's update below");
                        break;
                    case CMaxFolded maximum:
                        _w.Line();
                        _w.Line($"// {CodeWriter.OneLine(maximum.Einsum.Text)}");
                        _w.Line($"//   computed in the micro-kernel call of {maximum.Contraction.Output.Name} above, as it stored each row (not swept again)");
                        break;
                    case CFold fold:
                        EmitFold(fold.Update, fold.Fold);
                        break;
                    case CSweep sweep:
                        EmitMapThenReduce(sweep);
                        break;
                    case CEinsum einsum:
                        EmitEinsum(einsum);
                        break;
                    default:
                        EmitBlock((CSteps)node);
                        break;
                }
            }
        }

        private static IEnumerable<TensorRead> Reads(Expr x) => x switch
        {
            TensorRead r => new[] { r },
            Unary u => Reads(u.Operand),
            Binary b => Reads(b.Left).Concat(Reads(b.Right)),
            _ => Enumerable.Empty<TensorRead>(),
        };

        // A tensor whose current point is held in a register (the fused map's value), read by name instead of loaded.
        private (string Tensor, string Register)? _inRegister;

        private void EmitMapThenReduce(CSweep sweep)
        {
            var (map, reduce, pm) = (sweep.Map, sweep.Reduce, sweep.MapPlan);
            var op = reduce.Reduction!.Value;
            var v = pm.VectorRank!;
            SetEdges(map, reduce);
            var V = Hi(v);
            _w.Line();
            _w.Line($"// {CodeWriter.OneLine(map.Text)}");
            _w.Line($"// {CodeWriter.OneLine(reduce.Text)}");
            _w.Line($"//   one sweep over {v}: {map.Output.Name} vectorised and stored, and reduced into {reduce.Output.Name} as it is written");
            if (sweep.Kernel is not null) _w.Line($"//   the exp of a row less a value invariant along it, with its sum: one call of the row micro-kernel Sweep.ExpSum");
            BoundComments(map, reduce);
            _w.Open("");
            var split = sweep.Split;
            if (split is not null) OpenSplit(reduce, split);
            V = Hi(v);
            var outerRanks = OuterLoops(map, pm).Where(r => r != v).ToList();
            var row = $"{Ptr(map.Output)} + {Offset(map.Output, map.OutputIndices, null)}";
            if (split is null && sweep.Kernel is { } rowsCall
                && RowsRank(outerRanks, v, $"{V} - {Lo(v)}", (rowsCall.Source.Tensor, rowsCall.Source.Indices), (map.Output, map.OutputIndices), (reduce.Output, reduce.OutputIndices)) is { } rows
                && ShiftsOf(rowsCall.Operand!, rows) is (var shifts, var shiftStride))
            {
                var around = OpenLoops(outerRanks.Take(outerRanks.Count - 1), rows);
                _w.Line($"//   all the rows of {rows} in one call");
                _w.Line($"int {Id(rows)} = {Lo(rows)};");
                _w.Line($"int {Id(v)} = {Lo(v)};");
                if (shifts is null)
                {
                    // One shift for every row: a local that the call reads through a pointer, with a stride of 0.
                    var shift = "_s" + _temp++;
                    _w.Line($"float {shift} = {Scalar(rowsCall.Operand!)};");
                    shifts = "&" + shift;
                }
                var source = $"{Ptr(rowsCall.Source.Tensor)} + {Offset(rowsCall.Source.Tensor, rowsCall.Source.Indices, null)}";
                _w.Line($"{Rt}.Sweep.ExpSum<_TV>({source}, sourcePitch: {Stride(rowsCall.Source.Tensor, rowsCall.Source.Indices, rows)}, "
                    + $"{row}, destinationPitch: {Stride(map.Output, map.OutputIndices, rows)}, rows: {Hi(rows)} - {Id(rows)}, count: {V} - {Id(v)},");
                _w.Line($"    {shifts}, shiftStride: {shiftStride}, "
                    + $"{Ptr(reduce.Output)} + {Offset(reduce.Output, reduce.OutputIndices, null)}, sumStride: {Stride(reduce.Output, reduce.OutputIndices, rows)}, nonPositive: {(rowsCall.NonPositive ? "true" : "false")}{(rowsCall.Base2 ? ", base2: true" : "")});");
                CloseLoops(around);
                _w.Close();
                return;
            }
            var outer = OpenLoops(outerRanks);
            if (sweep.Kernel is { } call)
            {
                _w.Line($"int {Id(v)} = {Lo(v)};");
                var shift = "_s" + _temp++;
                _w.Line($"float {shift} = {Scalar(call.Operand!)};");
                var source = $"{Ptr(call.Source.Tensor)} + {Offset(call.Source.Tensor, call.Source.Indices, null)}";
                _w.Line($"float _acc = {Rt}.Sweep.ExpSum<_TV>({source}, {row}, {V} - {Id(v)}, {shift}, nonPositive: {(call.NonPositive ? "true" : "false")}{(call.Base2 ? ", base2: true" : "")});");
                StoreAccumulator(reduce);
                CloseLoops(outer);
                if (split is not null) CloseSplit(reduce);
                _w.Close();
                return;
            }
            var hoistedMap = Hoist(map.Body, v);
            var hoistedReduce = Hoist(reduce.Body, v);
            _w.Line($"_TV _a0 = _TV.Create({Identity(op)}), _a1 = _a0, _a2 = _a0, _a3 = _a0;");
            _w.Line($"float _acc = {Identity(op)};");
            _w.Line($"int {Id(v)} = {Lo(v)};");
            // Four vectors per step, each with its own accumulator, so that their maps (an exp each, say) overlap.
            _w.Open($"for (; {Id(v)} <= {V} - 4 * _TV.Count; {Id(v)} += 4 * _TV.Count)");
            for (var k = 0; k < 4; k++)
            {
                var at = k == 0 ? Id(v) : $"({Id(v)} + {k} * _TV.Count)";
                var env = new Dictionary<string, string> { [v] = at };
                _w.Line($"var _y{k} = {Vector(map.Body, "_TV", v, at, hoistedMap)};");
                _w.Line($"_TV.Store({Ptr(map.Output)} + {Offset(map.Output, map.OutputIndices, env)}, _y{k});");
            }
            for (var k = 0; k < 4; k++)
            {
                _inRegister = (map.Output.Name, $"_y{k}");
                var value = Vector(reduce.Body, "_TV", v, k == 0 ? Id(v) : $"({Id(v)} + {k} * _TV.Count)", hoistedReduce);
                _inRegister = null;
                _w.Line($"_a{k} = {VectorCombine("_TV", op, $"_a{k}", value)};");
            }
            _w.Close();
            _w.Line($"_a0 = {VectorCombine("_TV", op, VectorCombine("_TV", op, "_a0", "_a1"), VectorCombine("_TV", op, "_a2", "_a3"))};");
            foreach (var (t, loop, register) in new[] { ("_TV", $"for (; {Id(v)} <= {V} - _TV.Count; {Id(v)} += _TV.Count)", "_y"), ($"{Rt}.F32", $"for (; {Id(v)} < {V}; {Id(v)}++)", "_yt") })
            {
                _w.Open(loop);
                _w.Line($"var {register} = {Vector(map.Body, t, v, Id(v), hoistedMap)};");
                _w.Line($"{t}.Store({row}, {register});");
                _inRegister = (map.Output.Name, register);
                var value = Vector(reduce.Body, t, v, Id(v), hoistedReduce);
                _inRegister = null;
                _w.Line(t == "_TV" ? $"_a0 = {VectorCombine("_TV", op, "_a0", value)};" : $"_acc = {ScalarCombine(op, "_acc", "(" + value + ").Value")};");
                _w.Close();
                if (t == "_TV") _w.Line($"_acc = {ScalarCombine(op, "_acc", $"_TV.{Across(op)}(_a0)")};");
            }
            StoreAccumulator(reduce);
            CloseLoops(outer);
            if (split is not null) CloseSplit(reduce);
            _w.Close();
        }

        private void EmitBlock(CSteps steps)
        {
            var block = steps.Block;
            _w.Line();
            _w.Line($"// iterate {block.Rank} until {block.Stop}");
            var skippers = steps.Skippers.Count > 0 ? steps.Skippers : null;
            var live = "_live_" + block.Rank;
            if (skippers is not null)
            {
                // Steps in which a filtered Einsum has no point change no carried tensor: they are skipped, and the carried
                // tensors' two slots follow the steps run instead of the steps passed.
                _w.Line($"int {live} = 0; // the steps run so far: the slot of each carried tensor");
                foreach (var x in block.Einsums.Where(x => x.Output.CarriedDim is not null)) _liveSlots[x.Output.Name] = (block.Rank, live);
            }
            EmitNodes(steps.Inits);
            var any = AnyOutputPoint(block.Einsums, block.Rank);
            if (any is not null) _w.Open($"if ({any}) // else no step writes a point");
            if (steps.Chunk is not null)
            {
                EmitChunkedSteps(steps);
                if (any is not null) _w.Close();
                return;
            }
            _w.Open($"for (int {Id(block.Rank)} = 0; {Id(block.Rank)} < {StepsName(block)}; {Id(block.Rank)}++)");
            if (skippers is not null)
            {
                var dead = skippers.Select(x => { SetEdges(x); return NoPoint(x); }).Where(c => c is not null).ToList();
                if (dead.Count > 0)
                {
                    _w.Line($"// {string.Join(", ", skippers.Select(x => x.Output.Name))} has no point in this step for these rows ('where' leaves every one out): the step changes nothing");
                    _w.Line($"if ({string.Join(" || ", dead)}) continue;");
                }
            }
            if (steps.OwnMethod) EmitStepCall(steps, skippers is not null ? live : null);
            else
            {
                ClipStep(steps);
                EmitNodes(steps.Body);
                _clips.Clear();
            }
            if (skippers is not null) _w.Line($"{live}++;");
            _w.Close();
            if (any is not null) _w.Close();
        }

        // Ranks the Einsums of the step being emitted stop at (StepClips), with the variable that holds the bound.
        private readonly Dictionary<string, string> _clips = new(StringComparer.Ordinal);

        /// <summary>
        /// Declares the bounds a step's loops stop at (<see cref="FilterFills.ClippableBy"/>): past the last point the
        /// filtered Einsum keeps for any row of the block, so a causal block's diagonal tile of keys is cut at its last
        /// row's key instead of computed whole and then filled.
        /// </summary>
        private void ClipStep(CSteps steps)
        {
            var clips = steps.Clips;
            if (clips.Count == 0) return;
            var bounds = new List<(string Rank, string Name)>();
            foreach (var rank in clips.Select(c => c.Rank).Distinct())
            {
                // Several filters may bound the rank (a causal mask and a sequence's length): the step stops at the least.
                var ends = new List<string>();
                ExtendedEinsum? x = null;
                foreach (var clip in clips.Where(c => c.Rank == rank))
                {
                    x = _c.Einsums.First(e => e.Id == clip.Einsum);
                    SetEdges(x);
                    if (AffineRange(x, clip.Rest) is { } rest) ends.Add($"global::System.Math.Max(0L, -{rest.Min}{(clip.Strict ? "" : " + 1")})");
                }
                if (ends.Count == 0) continue;
                var name = "_clip_" + Id(rank);
                var end = ends.Aggregate((a, b) => $"global::System.Math.Min({a}, {b})");
                _w.Line($"// 'where {string.Join(" and ", x!.Filters)}': {x.Output.Name} has no point at {rank} >= {name} for these rows, so the step's loops over {rank} stop there");
                _w.Line($"//   (rounded up to whole vectors, so that the micro-kernel's columns stay whole; the fill covers the rest)");
                _w.Line($"int {name} = (int)global::System.Math.Min((long){Hi(rank)}, ({end} + _TV.Count - 1) / _TV.Count * _TV.Count);");
                bounds.Add((rank, name));
            }
            foreach (var (rank, name) in bounds) _clips[rank] = name;
        }

        /// <summary>
        /// An iteration block a chunk of steps at a time (<see cref="StepChunk"/>): the Einsums that do not depend on the
        /// carried state for every step of the chunk (the block's rank one of their loops, so they vectorise along it),
        /// then the serial chain step by step, then the Einsums that only read its results for the whole chunk.
        /// </summary>
        private void EmitChunkedSteps(CSteps steps)
        {
            var block = steps.Block;
            var r = Id(block.Rank);
            var (from, to) = (ChunkFrom(block.Rank), ChunkTo(block.Rank));
            _w.Line($"// {ChunkSteps} steps at a time: what does not depend on the carried state runs for the whole chunk, vectorised along {block.Rank}");
            _w.Open($"for (int {from} = 0; {from} < {StepsName(block)}; {from} += {ChunkSteps})");
            _w.Line($"int {to} = global::System.Math.Min({from} + {ChunkSteps}, {StepsName(block)});");
            void Moved(IReadOnlyList<CpuNode> nodes)
            {
                _chunkRank = block.Rank;
                EmitNodes(nodes);
                _chunkRank = null;
            }
            Moved(steps.Before);
            _w.Line();
            _w.Line($"// the serial chain, one step at a time");
            _w.Open($"for (int {r} = {from}; {r} < {to}; {r}++)");
            EmitNodes(steps.Body);
            _w.Close();
            Moved(steps.After);
            _w.Close();
        }

        // ------------------------------------------------------------ one Einsum

        private void EmitEinsum(CEinsum node)
        {
            var (e, p) = (node.Einsum, node.Plan);
            SetEdges(e);
            _w.Line();
            var text = CodeWriter.OneLine(e.Text);
            _w.Line($"// {(e.IsInit && !text.StartsWith("init", StringComparison.Ordinal) ? "init " : "")}{text}");
            _w.Line($"//   {p.Describe()}{(p.Contraction is { } g && StorageOf(g.B.Tensor).Panels is not null ? $", {g.B.Tensor.Name} read from its panels" : "")}");
            if (node.Kernel is { } call) _w.Line($"//   the row in one call of the row micro-kernel Sweep.{call.Kernel}");
            if (node.MaxFold is { } folded && p.Contraction is { } product)
                _w.Line($"//   and {CodeWriter.OneLine(folded.Einsum.Text)}: each row's maximum over {product.J}, taken as the micro-kernel stores the row");
            if (p.Lowering != EinsumLowering.Exact && p.Lowering != EinsumLowering.Dense) BoundComments(e);
            _w.Open("");
            var split = node.Split;
            if (split is not null) OpenSplit(e, split, split.BeforeParallel ? WorkOf(e) : null);
            var filled = node.Fill is not null;
            var fill = node.Fill.GetValueOrDefault();
            var all = filled ? e with { Filters = Array.Empty<Comparison>() } : e; // every point; the fill pass applies the filters
            switch (p.Lowering)
            {
                case var _ when node.Kernel is { } kernel: EmitRowKernel(all, p, kernel); break;
                case EinsumLowering.Exact: EmitExact(all, p); break;
                case EinsumLowering.VectorReduce: EmitVectorReduce(all, p); break;
                case EinsumLowering.VectorRow: EmitVectorRow(all, p); break;
                case EinsumLowering.Contraction: EmitGemm(p, all.Output, all.OutputIndices, null, node.MaxFold?.Einsum); break;
                default: EmitDense(all, p, node.Transpose); break;
            }
            if (split is not null) CloseSplit(e);
            _w.Close();
            if (filled)
            {
                // In a scope of its own: the Einsum's code declares its vector rank's index in its scope.
                _w.Open("");
                EmitFillPass(e, p, fill, node.MaxFold);
                _w.Close();
            }
        }

        // ---- filters on output ranks as a fill (FilterFills)

        /// <summary>
        /// After a filled Einsum: stores its fill at the points its filters leave out, so that its readers skip them as
        /// the interpreter skips absent points. Only where the filters do not hold over the whole tile (the diagonal tile
        /// of a causal mask); the test is on the range of each filter's sides over the loop ranks.
        /// </summary>
        private void EmitFillPass(ExtendedEinsum e, EinsumPlan p, double fill, CEinsum? maximum = null)
        {
            var loops = LoopRanks(p).Where(r => e.OutputRanks.Contains(r)).ToList();
            var order = StorageOf(e.Output).StorageOrder.SelectMany(d => e.OutputIndices[d].Variables()).Where(loops.Contains).Distinct().ToList();
            order.AddRange(loops.Except(order));
            var all = AllPoints(e);
            _w.Line($"// 'where {string.Join(" and ", e.Filters)}': {e.Output.Name} holds {CSharpFloatName(fill)} at the points it leaves out, which its readers skip as absent points");
            if (all is not null) _w.Open($"if (!({all}))");
            var inner = order.Count > 0 ? order[order.Count - 1] : null;
            var ranges = inner is null ? null : e.Filters.Select(f => LeftOut(f, inner)).ToList();
            // A logsumexp held as a pair (max and log of the sum) is read as their sum: its low part is cleared with it.
            var pair = IsPair(e.Output);
            if (pair) _w.Line($"//   and {LowName(e.Output)} holds 0 there, so that the pair reads as {CSharpFloatName(fill)}");
            if (ranges is null || ranges.Any(r => r is null))
            {
                var n = OpenLoops(order);
                var at = Offset(e.Output, e.OutputIndices, null);
                _w.Line(pair
                    ? $"if (!({Filters(e.Filters, null)})) {{ {Ptr(e.Output)}[{at}] = {Float(fill)}; {LowName(e.Output)}[{at}] = 0f; }}"
                    : $"if (!({Filters(e.Filters, null)})) {Ptr(e.Output)}[{at}] = {Float(fill)};");
                CloseLoops(n);
            }
            else
            {
                _w.Line($"//   each filter leaves out one run of {inner} at each point of the other ranks: filled between its bounds");
                var n = OpenLoops(order.Take(order.Count - 1), inner!);
                var contiguous = Stride(e.Output, e.OutputIndices, inner!) == "1";
                foreach (var (from, to) in ranges!.Select(r => r!.Value))
                {
                    // Each bound is clamped to the loop's range as a long before it is an int: a bound far past it (a
                    // size near 2^31, a value read as up to 2^40) would otherwise wrap and send the fill outside the tile.
                    var first = from is null ? Lo(inner!) : $"(int)global::System.Math.Min(global::System.Math.Max({from}, (long){Lo(inner!)}), (long){Hi(inner!)})";
                    var end = to is null ? Hi(inner!) : $"(int)global::System.Math.Max(global::System.Math.Min({to}, (long){Hi(inner!)}), (long){Lo(inner!)})";
                    _w.Open("");
                    _w.Line($"int _fillFrom = {first}, _fillTo = {end};");
                    var at = Offset(e.Output, e.OutputIndices, new Dictionary<string, string> { [inner!] = contiguous ? "_fillFrom" : Id(inner!) });
                    if (contiguous)
                    {
                        _w.Line($"if (_fillFrom < _fillTo) new global::System.Span<float>({Ptr(e.Output)} + {at}, _fillTo - _fillFrom).Fill({Float(fill)});");
                        if (pair) _w.Line($"if (_fillFrom < _fillTo) new global::System.Span<float>({LowName(e.Output)} + {at}, _fillTo - _fillFrom).Clear();");
                    }
                    else if (pair) _w.Line($"for (int {Id(inner!)} = _fillFrom; {Id(inner!)} < _fillTo; {Id(inner!)}++) {{ {Ptr(e.Output)}[{at}] = {Float(fill)}; {LowName(e.Output)}[{at}] = 0f; }}");
                    else _w.Line($"for (int {Id(inner!)} = _fillFrom; {Id(inner!)} < _fillTo; {Id(inner!)}++) {Ptr(e.Output)}[{at}] = {Float(fill)};");
                    _w.Close();
                }
                CloseLoops(n);
            }
            if (maximum is not null)
            {
                // The maxima taken as the micro-kernel stored the rows saw the values the fill has just replaced.
                _w.Line($"//   the fill changed rows whose maxima {maximum.Einsum.Output.Name} the micro-kernel took: taken again over the filled rows");
                EmitEinsum(maximum with { MaxFold = null });
            }
            if (all is not null) _w.Close();
        }

        /// <summary>
        /// The run of <paramref name="rank"/> a filter leaves out at a point of the other ranks, as the first and the end
        /// value (null: the loop's own), when the filter is affine with coefficient 1 or -1 in the rank and compares
        /// with an order; null otherwise.
        /// </summary>
        private (string? From, string? To)? LeftOut(Comparison f, string rank)
        {
            var form = f.Operator switch
            {
                ComparisonOperator.LessEqual or ComparisonOperator.Less => new IndexBinary(IndexOperator.Subtract, f.Left, f.Right),
                ComparisonOperator.GreaterEqual or ComparisonOperator.Greater => new IndexBinary(IndexOperator.Subtract, f.Right, f.Left),
                _ => null,
            };
            // The bound is computed at each point of the other ranks, so a value read at those (LEN[b]) is one number.
            if (form is null || !IndexAffine.TryLinear(form, out var terms, out var constant, form.Variables().Where(v => v != rank).ToList())) return null;
            var strict = f.Operator is ComparisonOperator.Less or ComparisonOperator.Greater;
            var own = terms.FirstOrDefault(t => t.Rank == rank).Coefficient;
            if (own is not IndexConstant { Value: 1 or -1 } c) return null;
            // The filter keeps the points where rank * c + rest <= 0 (or < 0).
            var rest = "(" + string.Join(" + ", terms.Where(t => t.Rank != rank).Select(t => t.Coefficient switch
            {
                IndexConstant { Value: 1 } => $"(long){Id(t.Rank)}",
                IndexConstant { Value: -1 } => $"-(long){Id(t.Rank)}",
                var k => $"(long){Ix(k, null)} * {Id(t.Rank)}",
            }).Prepend($"(long){Ix(constant, null)}")) + ")";
            return c.Value == 1
                ? ($"-{rest}{(strict ? "" : " + 1")}", null) // kept up to -rest: left out from there on
                : (null, $"{rest}{(strict ? " + 1" : "")}"); // kept from rest on: left out before
        }

        private static string CSharpFloatName(double v) => double.IsNegativeInfinity(v) ? "-inf" : double.IsPositiveInfinity(v) ? "+inf" : v.ToString("R", CultureInfo.InvariantCulture);

        /// <summary>The ranks an Einsum's code loops over (the others are fixed where it runs: the step, the row, the batch point).</summary>
        private static List<string> LoopRanks(EinsumPlan p) =>
            p.LoopOrder.Concat(p.Contraction is { } g ? new[] { g.I, g.J, g.K } : Array.Empty<string>()).Distinct().ToList();

        /// <summary>The least and greatest value of a filter's <c>Left - Right</c> over the points the Einsum's loops cover
        /// (the others fixed), as C# expressions; null when a side is not affine in the ranks.</summary>
        private (string Min, string Max)? FilterRange(ExtendedEinsum e, Comparison f) => AffineRange(e, new IndexBinary(IndexOperator.Subtract, f.Left, f.Right));

        /// <summary>The least and greatest value of an index expression over the points the Einsum's loops cover (the
        /// others fixed), as C# expressions of type long; null when it is not affine in the ranks.</summary>
        private (string Min, string Max)? AffineRange(ExtendedEinsum e, IndexExpr form)
        {
            var loops = LoopRanks(_plan.Einsums[e.Id]);
            // A value read at ranks the loops leave fixed (LEN[b] in a step of one sequence's block) is one number here.
            if (!IndexAffine.TryLinear(form, out var terms, out var constant, form.Variables().Except(loops).ToList())) return null;
            var min = new List<string> { $"(long){Ix(constant, null)}" };
            var max = new List<string> { $"(long){Ix(constant, null)}" };
            foreach (var (rank, coefficient) in terms)
            {
                var c = $"(long){Ix(coefficient, null)}";
                string Times(string x) => coefficient is IndexConstant { Value: 1 } ? $"(long){x}" : coefficient is IndexConstant { Value: -1 } ? $"-(long){x}" : $"{c} * {x}";
                if (loops.Contains(rank))
                {
                    // A partial tile's edge depends on its outer rank's point: where that rank is one of these loops too, the
                    // test stands outside them, so the range is taken over the whole tile (wider, so the tests stay sound).
                    var end = _edgeOuters.TryGetValue(rank, out var outer) && loops.Contains(outer) ? RankOf(rank).Size : Hi(rank);
                    var lo = Times(Lo(rank));
                    var hi = Times($"({end} - 1)");
                    min.Add($"global::System.Math.Min({lo}, {hi})");
                    max.Add($"global::System.Math.Max({lo}, {hi})");
                }
                else
                {
                    min.Add(Times(Id(rank)));
                    max.Add(Times(Id(rank)));
                }
            }
            return ("(" + string.Join(" + ", min) + ")", "(" + string.Join(" + ", max) + ")");
        }

        /// <summary>A test that every filter holds at every point of the Einsum's loops, or null when it cannot be told.</summary>
        private string? AllPoints(ExtendedEinsum e)
        {
            var tests = e.Filters.Select(f => Everywhere(e, f)).ToList();
            return tests.Count == 0 || tests.Any(t => t is null) ? null : string.Join(" && ", tests);
        }

        /// <summary>A test that some filter holds at no point of the Einsum's loops (its negation holds at all), or null.</summary>
        private string? NoPoint(ExtendedEinsum e)
        {
            var tests = e.Filters.Select(f => Everywhere(e, f with { Operator = Negation(f.Operator) })).Where(t => t is not null).ToList();
            return tests.Count == 0 ? null : string.Join(" || ", tests);
        }

        private static ComparisonOperator Negation(ComparisonOperator op) => op switch
        {
            ComparisonOperator.LessEqual => ComparisonOperator.Greater,
            ComparisonOperator.Less => ComparisonOperator.GreaterEqual,
            ComparisonOperator.GreaterEqual => ComparisonOperator.Less,
            ComparisonOperator.Greater => ComparisonOperator.LessEqual,
            ComparisonOperator.Equal => ComparisonOperator.NotEqual,
            _ => ComparisonOperator.Equal,
        };

        /// <summary>A test that the comparison holds at every point of the Einsum's loops, from the range of Left - Right.</summary>
        private string? Everywhere(ExtendedEinsum e, Comparison f) => FilterRange(e, f) is not { } r ? null : f.Operator switch
        {
            ComparisonOperator.LessEqual => $"{r.Max} <= 0",
            ComparisonOperator.Less => $"{r.Max} < 0",
            ComparisonOperator.GreaterEqual => $"{r.Min} >= 0",
            ComparisonOperator.Greater => $"{r.Min} > 0",
            ComparisonOperator.Equal => $"({r.Min} == 0 && {r.Max} == 0)",
            _ => $"({r.Min} > 0 || {r.Max} < 0)",
        };

        // Carried tensors of a block whose steps can be skipped: their slot is the parity of the steps run (the variable).
        private readonly Dictionary<string, (string Rank, string Live)> _liveSlots = new(StringComparer.Ordinal);

        // ---- one row split across threads (fewer rows than threads)

        private string WorkOf(ExtendedEinsum e) => Elements(e.Ranks.Select(r => RankOf(r).Size));

        // The part of a rank this code runs: [_rs, _re) inside a split.
        private (string Rank, string Lo, string Hi)? _range;

        private void OpenSplit(ExtendedEinsum reduce, ThreadSplit split, string? work = null)
        {
            var rank = split.Rank;
            _range = (rank, "_rs", "_re");
            _splitWork = work;
            var size = RankOf(rank).Size;
            // Parts of a reduction over the split rank are merged; split over an output rank, each part writes its own points.
            _splitMerges = reduce.ReducedRanks.Contains(rank);
            if (!_splitMerges)
            {
                OpenSplitMap(rank, size, split.BeforeParallel);
            }
            else if (reduce.Reduction is ReduceOperator.LogSumExp)
            {
                _w.Line($"// {rank} in parts, one per thread, each an online (max, sum of exp) pair; the pairs are merged in order");
                _w.Open($"var _whole = {Rt}.KernelRuntime.SplitReduce({size}, {_sig.MaxDegreeOfParallelism}, (float.NegativeInfinity, 0f), (_rs, _re) =>");
            }
            else
            {
                _w.Line($"// {rank} in parts, one per thread, each reduced alone; the parts are merged in order");
                _w.Open($"float _whole = {Rt}.KernelRuntime.SplitReduce({size}, {_sig.MaxDegreeOfParallelism}, {Identity(reduce.Reduction!.Value)}, (_rs, _re) =>");
            }
        }

        private void OpenSplitMap(string rank, string size, bool beforeParallel)
        {
            _w.Line(beforeParallel ? $"// {rank} split across the threads (this runs before the parallel loop)" : $"// {rank} in parts, one per thread");
            _w.Open($"{Rt}.KernelRuntime.Split({size}, {_sig.MaxDegreeOfParallelism}, (_rs, _re) =>");
        }

        // Whether the split being emitted merges the parts of a reduction.
        private bool _splitMerges;

        // The work of a split Einsum, for the runtime to keep small work on one thread (null: split regardless).
        private string? _splitWork;

        private void CloseSplit(ExtendedEinsum reduce)
        {
            _range = null;
            if (!_splitMerges)
            {
                _w.Close(_splitWork is null ? ");" : $", {_splitWork});");
            }
            else if (reduce.Reduction is ReduceOperator.LogSumExp)
            {
                _w.Close($", {Math}.LogSumExpPair);");
                _w.Line("float _scale = _whole.Item1, _acc = _whole.Item2;");
                WriteResult(reduce, ReduceOperator.LogSumExp, null);
            }
            else
            {
                _w.Close($", (_x, _y) => {ScalarCombine(reduce.Reduction!.Value, "_x", "_y")});");
                _w.Line($"{Ptr(reduce.Output)}[{Offset(reduce.Output, reduce.OutputIndices, null)}] = _whole;");
            }
            _splitWork = null;
            _splitMerges = false;
        }

        /// <summary>Stores a reduction's result, or, in a part of a split row, returns it to be merged.</summary>
        private void StoreAccumulator(ExtendedEinsum e)
        {
            _w.Line(_range is not null && _splitMerges ? "return _acc;" : $"{Ptr(e.Output)}[{Offset(e.Output, e.OutputIndices, null)}] = _acc;");
        }

        /// <summary>The first point of a rank's loop: the block's first row for the parallel rank in blocks, else 0.</summary>
        private string Lo(string rank) =>
            _range is { } part && part.Rank == rank ? "_rs"
            : _chunkRank == rank ? ChunkFrom(rank)
            : _plan.RowBlocks && rank == _plan.SliceRank ? "_pb" : "0";

        /// <summary>The end of a rank's loop: the block's end for the parallel rank in blocks, the edge of the last tile for
        /// an inner rank the Einsum bounds, else the size.</summary>
        private string Hi(string rank) =>
            _range is { } part && part.Rank == rank ? "_re"
            : _plan.RowBlocks && rank == _plan.SliceRank ? "_pe"
            : _chunkRank == rank ? ChunkTo(rank)
            : _edges.TryGetValue(rank, out var edge) ? edge
            : RankOf(rank).Size;

        // The iteration rank whose chunk of steps the Einsum being emitted runs over (StepChunk), else null.
        private string? _chunkRank;

        private static readonly string ChunkSteps = KernelPlanner.StepsPerChunk.ToString(CultureInfo.InvariantCulture);

        private static string ChunkFrom(string rank) => "_from_" + rank;

        private static string ChunkTo(string rank) => "_to_" + rank;

        // The inner ranks the Einsum being emitted runs only up to the edge of a partial last tile, with that bound.
        private readonly Dictionary<string, string> _edges = new(StringComparer.Ordinal);

        // The outer rank each edge in _edges depends on.
        private readonly Dictionary<string, string> _edgeOuters = new(StringComparer.Ordinal);

        private void SetEdges(params ExtendedEinsum[] einsums)
        {
            _edges.Clear();
            _edgeOuters.Clear();
            foreach (var e in einsums)
                if (_plan.EdgeBounds is { } all && all.TryGetValue(e.Id, out var bounds))
                    foreach (var (inner, outer, of) in bounds)
                    {
                        var tile = RankOf(inner).Size;
                        _edges[inner] = $"global::System.Math.Min({tile}, {RankOf(of).Size} - {Id(outer)} * {tile})";
                        _edgeOuters[inner] = outer;
                    }
            // In a step cut short, every Einsum over the rank stops at the step's bound (itself within the tile's edge).
            foreach (var clip in _clips)
                if (einsums.Any(e => e.Ranks.Contains(clip.Key)))
                {
                    _edges[clip.Key] = clip.Value;
                    _edgeOuters.Remove(clip.Key);
                }
        }

        // ---- contraction: a call of the micro-kernel per point of the batch ranks

        /// <summary>A micro-kernel call per point of the batch ranks, writing <paramref name="output"/> at
        /// <paramref name="indices"/>; with a fold, the running sum's rescaled previous value is added as it is stored;
        /// with <paramref name="maximum"/>, each row's maximum is taken as it is stored (<see cref="KernelPlan.MaxFolds"/>).</summary>
        private void EmitGemm(EinsumPlan p, Tensor output, IReadOnlyList<IndexExpr> indices, RescaleFold? fold, ExtendedEinsum? maximum = null)
        {
            var g = p.Contraction!;
            var loops = OpenLoops(p.LoopOrder, g.I, g.J);
            // The parallel rank, as the row or the column rank, ranges over the block.
            bool Blocked(string rank) => rank == _plan.SliceRank && _plan.RowBlocks;
            var env = new Dictionary<string, string> { [g.I] = Blocked(g.I) ? "_pb" : "0", [g.J] = Blocked(g.J) ? "_pb" : "0", [g.K] = "0" };
            string alpha;
            if (g.Factors.Count == 0) alpha = "1f";
            else
            {
                alpha = "_s" + _temp++;
                _w.Line($"float {alpha} = {string.Join(" * ", g.Factors.Select(Scalar))};");
                // The factors were applied to B's panels as they were packed (TensorStorage.PanelFactors), where they could be.
                if (StorageOf(g.B.Tensor).PanelFactors is not null) alpha = $"({Rt}.Gemm.FactorFoldsIntoPanels({alpha}) ? 1f : {alpha})";
            }
            string Points(string rank) => Blocked(rank) ? "_pe - _pb" : Hi(rank);
            var panels = StorageOf(g.B.Tensor) is { Panels: { } kj } b ? $"{DimExtent(b, kj.K)}, {DimExtent(b, kj.J)}" : null;
            _w.Line($"{Rt}.Gemm.{(fold is null ? "Run" : "RunScaled")}{(panels is null ? "" : "Panels")}{(maximum is null ? "" : "Max")}<_TV>({Points(g.I)}, {Points(g.J)}, {Hi(g.K)}, {alpha},");
            _w.Line($"    {Ptr(g.A.Tensor)} + {Offset(g.A.Tensor, g.A.Indices, env)}, {Stride(g.A.Tensor, g.A.Indices, g.I)}, {Stride(g.A.Tensor, g.A.Indices, g.K)},");
            var bPointer = $"{Ptr(g.B.Tensor)} + {Offset(g.B.Tensor, g.B.Indices, env)}";
            if (panels is not null && InPlacePanels(g.B, env) is { } inPlace) bPointer = $"({inPlace.Test} ? {inPlace.Pointer} : {bPointer})";
            _w.Line(panels is null
                ? $"    {bPointer}, {Stride(g.B.Tensor, g.B.Indices, g.K)}, {Stride(g.B.Tensor, g.B.Indices, g.J)},"
                : $"    {bPointer}, {panels},");
            if (maximum is not null)
            {
                _w.Line($"    {Ptr(output)} + {Offset(output, indices, env)}, {Stride(output, indices, g.I)},");
                _w.Line($"    {Ptr(maximum.Output)} + {Offset(maximum.Output, maximum.OutputIndices, env)}, {Stride(maximum.Output, maximum.OutputIndices, g.I)});");
            }
            else if (fold is null)
                _w.Line($"    {Ptr(output)} + {Offset(output, indices, env)}, {Stride(output, indices, g.I)});");
            else
            {
                _w.Line($"    {Ptr(output)} + {Offset(output, indices, env)}, {Stride(output, indices, g.I)},");
                _w.Line($"    {Ptr(fold.Previous.Tensor)} + {Offset(fold.Previous.Tensor, fold.Previous.Indices, env)}, {Stride(fold.Previous.Tensor, fold.Previous.Indices, g.I)},");
                _w.Line($"    {Ptr(fold.Factor.Tensor)} + {Offset(fold.Factor.Tensor, fold.Factor.Indices, env)}, {Stride(fold.Factor.Tensor, fold.Factor.Indices, g.I)});");
            }
            CloseLoops(loops);
        }

        /// <summary>A copy moved as a blocked transpose (<see cref="CEinsum.Transpose"/>) as a call of the runtime's blocked transpose per point of the other ranks.</summary>
        private void EmitTransposedCopy(ExtendedEinsum e, EinsumPlan p, string row, string column)
        {
            var r = (TensorRead)e.Body;
            _w.Line($"//   a transposed copy ({row} innermost in {e.Output.Name}, {column} in {r.Tensor.Name}), moved in 8 x 8 blocks");
            var loops = OpenLoops(OuterLoops(e, p).Where(x => x != row && x != column), row, column);
            var env = new Dictionary<string, string> { [row] = Lo(row), [column] = Lo(column) };
            _w.Line($"{Rt}.Transpose.Copy({Ptr(r.Tensor)} + {Offset(r.Tensor, r.Indices, env)}, {Stride(r.Tensor, r.Indices, row)},");
            _w.Line($"    {Ptr(e.Output)} + {Offset(e.Output, e.OutputIndices, env)}, {Stride(e.Output, e.OutputIndices, column)}, {Extent(row)}, {Extent(column)});");
            string Extent(string rank) => Lo(rank) == "0" ? Hi(rank) : $"{Hi(rank)} - {Lo(rank)}";
            CloseLoops(loops);
        }

        /// <summary>A copy stored in the micro-kernel's panels (<see cref="TensorStorage.Panels"/>): a call of the runtime's
        /// packing per point of the other ranks, each a whole block of the summed and column ranks.</summary>
        private void EmitPack(ExtendedEinsum e, EinsumPlan p, (int K, int J) panels)
        {
            var r = (TensorRead)e.Body;
            var (k, j) = (((IndexVariable)e.OutputIndices[panels.K]).Rank, ((IndexVariable)e.OutputIndices[panels.J]).Rank);
            var storage = StorageOf(e.Output);
            _w.Line($"//   packed for the micro-kernel: {j} in panels of Gemm.PanelColumns<_TV>() columns, each panel's {k} rows one after the other");
            var test = PanelsInPlaceTest(e, panels);
            if (test is not null)
            {
                _w.Line($"//   unless {r.Tensor.Name}'s blocks already have that layout (one panel, its rows contiguous): then the products read {r.Tensor.Name} in place");
                _w.Open($"if (!{test})");
            }
            string? factor = null;
            if (storage.PanelFactors is { } factors)
            {
                factor = "_s" + _temp++;
                _w.Line($"//   times the factors of the contraction that reads it, where Gemm.FactorFoldsIntoPanels allows (the contraction then runs with 1)");
                _w.Line($"float {factor} = {string.Join(" * ", factors.Select(Scalar))};");
            }
            var loops = OpenLoops(OuterLoops(e, p).Where(x => x != k && x != j), k, j);
            var env = new Dictionary<string, string> { [k] = "0", [j] = "0" };
            _w.Line($"{Rt}.Gemm.Pack<_TV>({Hi(k)}, {Hi(j)}, {Ptr(r.Tensor)} + {Offset(r.Tensor, r.Indices, env)}, {Stride(r.Tensor, r.Indices, k)}, {Stride(r.Tensor, r.Indices, j)},");
            _w.Line($"    {Ptr(e.Output)} + {Offset(e.Output, e.OutputIndices, env)}, {DimExtent(storage, panels.K)}, {DimExtent(storage, panels.J)}{(factor is null ? "" : $", {factor}")});");
            CloseLoops(loops);
            if (test is not null) _w.Close();
        }

        /// <summary>
        /// The runtime test under which a copy into panels (<see cref="EmitPack"/>) would write its source's own layout
        /// (<see cref="TensorStorage.PanelsMayBeTheSource"/>), so that the copy is skipped and the products read the
        /// source; null where the plan keeps the copy.
        /// </summary>
        private string? PanelsInPlaceTest(ExtendedEinsum copy, (int K, int J) panels)
        {
            if (!StorageOf(copy.Output).PanelsMayBeTheSource) return null;
            var r = (TensorRead)copy.Body;
            var (k, j) = (((IndexVariable)copy.OutputIndices[panels.K]).Rank, ((IndexVariable)copy.OutputIndices[panels.J]).Rank);
            return $"{Rt}.Gemm.PanelsInPlace<_TV>({DimExtent(StorageOf(copy.Output), panels.J)}, {Stride(r.Tensor, r.Indices, k)}, {Stride(r.Tensor, r.Indices, j)})";
        }

        /// <summary>For a contraction's right operand stored in panels, the test under which its copy was skipped
        /// (<see cref="PanelsInPlaceTest"/>) and the pointer into the copy's source that the read then names.</summary>
        private (string Test, string Pointer)? InPlacePanels(TensorRead read, Dictionary<string, string> env)
        {
            if (StorageOf(read.Tensor).Panels is not { } panels) return null;
            var copy = _c.Einsums.FirstOrDefault(x => !x.IsInit && x.Output.Name == read.Tensor.Name);
            if (copy?.Body is not TensorRead source || PanelsInPlaceTest(copy, panels) is not { } test) return null;
            // The source's subscripts with the copy's ranks replaced by what the read names at them.
            var at = new Dictionary<string, string>();
            for (var d = 0; d < copy.OutputIndices.Count; d++)
            {
                var index = Ix(read.Indices[d], env);
                at[((IndexVariable)copy.OutputIndices[d]).Rank] = index.All(ch => char.IsLetterOrDigit(ch) || ch == '_') ? index : $"({index})";
            }
            return (test, $"{Ptr(source.Tensor)} + {Offset(source.Tensor, source.Indices, at)}");
        }

        /// <summary>A running sum's update with its rescale and the contraction that feeds it, as one micro-kernel call.</summary>
        private void EmitFold(ExtendedEinsum update, RescaleFold fold)
        {
            var c = fold.Contraction;
            var g = _plan.Einsums[c.Id].Contraction!;
            SetEdges(c);
            _w.Line();
            foreach (var x in new[] { c, fold.Rescale, update }.Where(x => x is not null)) _w.Line($"// {CodeWriter.OneLine(x!.Text)}");
            var r = update.IterativeRank;
            _w.Line($"//   contraction over {g.K} with the running sum: {update.Output.Name}[{r}+1] = {g.A.Tensor.Name} * {g.B.Tensor.Name} + {fold.Factor.Tensor.Name} * {update.Output.Name}[{r}], added as the micro-kernel stores");
            _w.Open("");
            EmitGemm(_plan.Einsums[c.Id], update.Output, update.OutputIndices, fold);
            _w.Close();
        }

        /// <summary>
        /// Opens a loop per rank, outermost first. When a rank inside (or one of <paramref name="alsoNonEmpty"/>, looped
        /// further in) has size 0 the nest has no point, so it is skipped whole instead of spinning over the outer ranks.
        /// </summary>
        private int OpenLoops(IEnumerable<string> ranks, params string[] alsoNonEmpty)
        {
            var list = ranks.ToList();
            var n = 0;
            var guard = list.Skip(1).Concat(alsoNonEmpty).Select(r => RankOf(r).Size).Distinct().ToList();
            if (list.Count > 0 && guard.Count > 0)
            {
                _w.Open($"if ({string.Join(" && ", guard.Select(z => z + " != 0"))})");
                n++;
            }
            foreach (var r in list)
            {
                _w.Open($"for (int {Id(r)} = {Lo(r)}; {Id(r)} < {Hi(r)}; {Id(r)}++)");
                n++;
            }
            return n;
        }

        /// <summary>The condition that at least one of the Einsums has an output point for each value of <paramref name="outer"/>, or null when that is always so.</summary>
        private string? AnyOutputPoint(IEnumerable<ExtendedEinsum> einsums, string outer)
        {
            var alternatives = new List<string>();
            foreach (var e in einsums)
            {
                var sizes = e.OutputRanks.Where(r => r != outer).Select(r => RankOf(r).Size).Distinct().ToList();
                if (sizes.Count == 0) return null;
                alternatives.Add(string.Join(" && ", sizes.Select(z => z + " != 0")));
            }
            return alternatives.Count == 0 ? null : string.Join(" || ", alternatives.Distinct().Select(a => alternatives.Count > 1 && a.Contains("&&") ? "(" + a + ")" : a));
        }

        private void CloseLoops(int n)
        {
            for (var i = 0; i < n; i++) _w.Close();
        }

        /// <summary>"A", "A and B", "A, B and C".</summary>
        private static string Listed(IReadOnlyList<string> names) =>
            names.Count <= 1 ? string.Join("", names) : string.Join(", ", names.Take(names.Count - 1)) + " and " + names[names.Count - 1];

        private List<string> OuterLoops(ExtendedEinsum e, EinsumPlan p) => p.LoopOrder.Where(r => !e.ReducedRanks.Contains(r)).ToList();

        private List<string> ReducedLoops(ExtendedEinsum e, EinsumPlan p) => p.LoopOrder.Where(r => e.ReducedRanks.Contains(r)).ToList();

        // ---- scalar over dense points

        private void EmitDense(ExtendedEinsum e, EinsumPlan p, (string Row, string Column)? transpose = null)
        {
            if (StorageOf(e.Output).Panels is { } panels)
            {
                EmitPack(e, p, panels);
                return;
            }
            if (transpose is { } swap)
            {
                EmitTransposedCopy(e, p, swap.Row, swap.Column);
                return;
            }
            var loops = OpenLoops(OuterLoops(e, p));
            var target = $"{Ptr(e.Output)}[{Offset(e.Output, e.OutputIndices, null)}]";
            if (e.Reduction is not { } op)
            {
                _w.Line($"{target} = {Scalar(e.Body)};");
            }
            else
            {
                OpenAccumulator(op);
                var inner = OpenLoops(ReducedLoops(e, p));
                var filter = Filters(e.Filters, null);
                if (filter is not null) _w.Open($"if ({filter})");
                Accumulate(op, Scalar(e.Body));
                if (filter is not null) _w.Close();
                CloseLoops(inner);
                WriteResult(e, op, null);
            }
            CloseLoops(loops);
        }

        /// <summary>Stores a reduction's accumulator; a log-sum-exp pair as its maximum and the log of its sum.</summary>
        private void WriteResult(ExtendedEinsum e, ReduceOperator op, Dictionary<string, string>? env)
        {
            var offset = Offset(e.Output, e.OutputIndices, env);
            if (IsPair(e.Output))
            {
                _w.Line($"{Ptr(e.Output)}[{offset}] = {Math}.LogSumExpHigh(_scale, _acc);");
                _w.Line($"{LowName(e.Output)}[{offset}] = {Math}.LogSumExpLow(_scale, _acc);");
            }
            else
            {
                _w.Line($"{Ptr(e.Output)}[{offset}] = {AccumulatorResult(op)};");
            }
        }

        private void OpenAccumulator(ReduceOperator op)
        {
            if (op == ReduceOperator.LogSumExp) _w.Line("float _scale = float.NegativeInfinity, _acc = 0f;");
            else _w.Line($"float _acc = {Identity(op)};");
        }

        private void Accumulate(ReduceOperator op, string value)
        {
            if (op == ReduceOperator.LogSumExp) _w.Line($"{Math}.LogSumExpAdd(ref _scale, ref _acc, {value});");
            else _w.Line($"_acc = {ScalarCombine(op, "_acc", value)};");
        }

        private static string AccumulatorResult(ReduceOperator op) => op == ReduceOperator.LogSumExp ? $"{Math}.LogSumExpResult(_scale, _acc)" : "_acc";

        private static string Identity(ReduceOperator op) => op switch
        {
            ReduceOperator.Sum => "0f",
            ReduceOperator.Prod => "1f",
            ReduceOperator.Max => "float.NegativeInfinity",
            ReduceOperator.Min => "float.PositiveInfinity",
            _ => "float.NegativeInfinity",
        };

        private static string ScalarCombine(ReduceOperator op, string acc, string value) => op switch
        {
            ReduceOperator.Sum => $"{acc} + {value}",
            ReduceOperator.Prod => $"{acc} * {value}",
            ReduceOperator.Max => $"{Math}.Max({acc}, {value})",
            _ => $"{Math}.Min({acc}, {value})",
        };

        private static string VectorCombine(string t, ReduceOperator op, string acc, string value) => op switch
        {
            ReduceOperator.Sum => $"{acc} + {value}",
            ReduceOperator.Prod => $"{acc} * {value}",
            ReduceOperator.Max => $"{t}.Max({acc}, {value})",
            _ => $"{t}.Min({acc}, {value})",
        };

        private static string Across(ReduceOperator op) => op switch
        {
            ReduceOperator.Sum => "SumAcross",
            ReduceOperator.Prod => "ProductAcross",
            ReduceOperator.Max => "MaxAcross",
            _ => "MinAcross",
        };

        // ---- a row idiom as one call of a row micro-kernel (CpuLowering.RowKernelOf)

        private void EmitRowKernel(ExtendedEinsum e, EinsumPlan p, RowKernelCall call)
        {
            var v = p.VectorRank!;
            var V = Hi(v);
            var source = $"{Ptr(call.Source.Tensor)} + {Offset(call.Source.Tensor, call.Source.Indices, null)}";
            if (call.Kernel == RowKernel.Max)
            {
                var all = OuterLoops(e, p);
                if (RowsRank(all, v, $"{V} - {Lo(v)}", (call.Source.Tensor, call.Source.Indices), (e.Output, e.OutputIndices)) is { } rows)
                {
                    var around = OpenLoops(all.Take(all.Count - 1), rows);
                    _w.Line($"//   all the rows of {rows} in one call");
                    _w.Line($"int {Id(rows)} = {Lo(rows)};");
                    _w.Line($"int {Id(v)} = {Lo(v)};");
                    _w.Line($"{Rt}.Sweep.Max<_TV>({source}, sourcePitch: {Stride(call.Source.Tensor, call.Source.Indices, rows)}, rows: {Hi(rows)} - {Id(rows)}, count: {V} - {Id(v)}, "
                        + $"{Ptr(e.Output)} + {Offset(e.Output, e.OutputIndices, null)}, maximaStride: {Stride(e.Output, e.OutputIndices, rows)});");
                    CloseLoops(around);
                    return;
                }
                var loops = OpenLoops(all);
                _w.Line($"int {Id(v)} = {Lo(v)};");
                _w.Line($"float _acc = {Rt}.Sweep.Max<_TV>({source}, {V} - {Id(v)});");
                StoreAccumulator(e);
                CloseLoops(loops);
                return;
            }
            var outer = OpenLoops(OuterLoops(e, p).Where(r => r != v), v);
            _w.Line($"int {Id(v)} = {Lo(v)};");
            var divisor = "_s" + _temp++;
            _w.Line($"float {divisor} = {Scalar(call.Operand!)};");
            _w.Line($"{Rt}.Sweep.Divide<_TV>({source}, {Ptr(e.Output)} + {Offset(e.Output, e.OutputIndices, null)}, {V} - {Id(v)}, {divisor});");
            CloseLoops(outer);
        }

        /// <summary>
        /// The rank of a row micro-kernel's innermost outer loop when one call can take all of its rows (the runtime's
        /// <c>Rows</c> forms): every tensor the call touches is a float tensor addressed affinely in it (so a pitch), the
        /// row's extent <paramref name="count"/> does not vary with it, and no thread merges a part of the row's
        /// reduction. Null otherwise: the loop stays and each row is a call.
        /// </summary>
        private string? RowsRank(List<string> outer, string v, string count, params (Tensor Tensor, IReadOnlyList<IndexExpr> Indices)[] accesses)
        {
            if (outer.Count == 0 || (_range is not null && _splitMerges)) return null;
            var rank = outer[outer.Count - 1];
            if (rank == v || System.Text.RegularExpressions.Regex.IsMatch(count, $@"\b{System.Text.RegularExpressions.Regex.Escape(Id(rank))}\b")) return null;
            foreach (var (tensor, indices) in accesses)
            {
                if (tensor.ElementType != ElementType.Float32) return null;
                var storage = StorageOf(tensor);
                for (var d = 0; d < indices.Count; d++)
                {
                    var coefficient = KernelPlanner.AffineCoefficient(indices[d], rank);
                    if (coefficient is null || (coefficient != 0 && storage.Dims[d] == DimStorage.Rolling)) return null;
                }
            }
            return rank;
        }

        /// <summary>
        /// The exp's shifts for a call over the rows of <paramref name="rows"/>: a pointer to the first row's and the
        /// stride between rows when the shift is a read of a float tensor (not a scalar input, which is a value) affine in
        /// the rank; (null, "0") when it does not vary with the rank (the caller keeps it in a local); null otherwise.
        /// </summary>
        private (string? Pointer, string Stride)? ShiftsOf(Expr shift, string rows)
        {
            if (!KernelPlanner.Mentions(shift, rows)) return (null, "0");
            if (shift is not TensorRead read || read.Tensor.ElementType != ElementType.Float32 || read.Tensor.Rank == 0) return null;
            if (RowsRank(new List<string> { rows }, "", "", (read.Tensor, read.Indices)) is null) return null;
            return ($"{Ptr(read.Tensor)} + {Offset(read.Tensor, read.Indices, null)}", Stride(read.Tensor, read.Indices, rows));
        }

        // ---- vectorised reduction over the innermost reduced rank

        private void EmitVectorReduce(ExtendedEinsum e, EinsumPlan p)
        {
            var op = e.Reduction!.Value;
            var v = p.VectorRank!;
            var V = Hi(v);
            var loops = OpenLoops(OuterLoops(e, p));
            if (op == ReduceOperator.LogSumExp)
            {
                EmitVectorLogSumExp(e, p, v, V);
                CloseLoops(loops);
                return;
            }
            _w.Line($"float _acc = {Identity(op)};");
            var inner = OpenLoops(ReducedLoops(e, p).Where(r => r != v), v);
            var hoisted = Hoist(e.Body, v);
            _w.Line($"_TV _a0 = _TV.Create({Identity(op)}), _a1 = _a0, _a2 = _a0, _a3 = _a0;");
            // max and min: one instruction per vector that may drop a NaN (vrangeps), and the NaNs kept apart in two
            // flags (vfixupimmps), where the IEEE operation takes three.
            var extremum = op is ReduceOperator.Max or ReduceOperator.Min;
            string Step(string acc, string value) => op == ReduceOperator.Max ? $"_TV.MaxUnlessNaN({acc}, {value})" : $"_TV.MinUnlessNaN({acc}, {value})";
            if (extremum) _w.Line("_TV _n0 = _TV.Create(0f), _n1 = _n0; // NaN where a NaN was seen");
            _w.Line($"int {Id(v)} = {Lo(v)};");
            _w.Open($"for (; {Id(v)} <= {V} - 4 * _TV.Count; {Id(v)} += 4 * _TV.Count)");
            for (var k = 0; k < 4; k++)
            {
                var at = k == 0 ? Id(v) : $"({Id(v)} + {k} * _TV.Count)";
                var value = Vector(e.Body, "_TV", v, at, hoisted);
                if (!extremum)
                {
                    _w.Line($"_a{k} = {VectorCombine("_TV", op, $"_a{k}", value)};");
                    continue;
                }
                _w.Line($"var _x{k} = {value};");
                _w.Line($"_a{k} = {Step($"_a{k}", $"_x{k}")}; _n{k % 2} = _TV.TakeNaN(_n{k % 2}, _x{k});");
            }
            _w.Close();
            if (extremum)
            {
                _w.Open($"for (; {Id(v)} <= {V} - _TV.Count; {Id(v)} += _TV.Count)");
                _w.Line($"var _x = {Vector(e.Body, "_TV", v, Id(v), hoisted)};");
                _w.Line($"_a0 = {Step("_a0", "_x")}; _n0 = _TV.TakeNaN(_n0, _x);");
                _w.Close();
                var whole = $"_TV.TakeNaN({Step(Step("_a0", "_a1"), Step("_a2", "_a3"))}, _n0 + _n1)";
                _w.Line($"_acc = {ScalarCombine(op, "_acc", $"_TV.{Across(op)}({whole})")};");
            }
            else
            {
                _w.Line($"for (; {Id(v)} <= {V} - _TV.Count; {Id(v)} += _TV.Count) _a0 = {VectorCombine("_TV", op, "_a0", Vector(e.Body, "_TV", v, Id(v), hoisted))};");
                _w.Line($"_acc = {ScalarCombine(op, "_acc", $"_TV.{Across(op)}({VectorCombine("_TV", op, VectorCombine("_TV", op, "_a0", "_a1"), VectorCombine("_TV", op, "_a2", "_a3"))})")};");
            }
            _w.Line($"for (; {Id(v)} < {V}; {Id(v)}++) _acc = {ScalarCombine(op, "_acc", "(" + Vector(e.Body, $"{Rt}.F32", v, Id(v), hoisted) + ").Value")};");
            CloseLoops(inner);
            StoreAccumulator(e);
            CloseLoops(loops);
        }

        /// <summary>log-sum-exp: a per-lane online (max, sum), four vectors per rescale, merged across lanes, then the scalar tail.</summary>
        private void EmitVectorLogSumExp(ExtendedEinsum e, EinsumPlan p, string v, string V)
        {
            _w.Line("float _scale = float.NegativeInfinity, _acc = 0f;");
            var inner = OpenLoops(ReducedLoops(e, p).Where(r => r != v), v);
            var hoisted = Hoist(e.Body, v);
            _w.Line("_TV _m = _TV.Create(float.NegativeInfinity), _t = _TV.Create(0f);");
            _w.Line($"int {Id(v)} = {Lo(v)};");
            _w.Open($"for (; {Id(v)} <= {V} - 4 * _TV.Count; {Id(v)} += 4 * _TV.Count)");
            var block = Enumerable.Range(0, 4).Select(k => Vector(e.Body, "_TV", v, k == 0 ? Id(v) : $"({Id(v)} + {k} * _TV.Count)", hoisted));
            _w.Line($"_TV.LogSumExpStep4(ref _m, ref _t, {string.Join(", ", block)});");
            _w.Close();
            _w.Line($"for (; {Id(v)} <= {V} - _TV.Count; {Id(v)} += _TV.Count) _TV.LogSumExpStep(ref _m, ref _t, {Vector(e.Body, "_TV", v, Id(v), hoisted)});");
            _w.Line($"{Math}.LogSumExpMergeLanes(ref _scale, ref _acc, _m, _t);");
            _w.Line($"for (; {Id(v)} < {V}; {Id(v)}++) {Math}.LogSumExpAdd(ref _scale, ref _acc, ({Vector(e.Body, $"{Rt}.F32", v, Id(v), hoisted)}).Value);");
            CloseLoops(inner);
            if (_range is not null && _splitMerges) _w.Line("return (_scale, _acc);");
            else WriteResult(e, ReduceOperator.LogSumExp, null);
        }

        // ---- vectorised over the innermost output rank

        private void EmitVectorRow(ExtendedEinsum e, EinsumPlan p)
        {
            var v = p.VectorRank!;
            var V = Hi(v);
            var outer = OpenLoops(OuterLoops(e, p).Where(r => r != v), v);
            var row = $"{Ptr(e.Output)} + {Offset(e.Output, e.OutputIndices, null)}";
            if (e.Reduction is { } op)
                _w.Line($"for (int {Id(v)} = {Lo(v)}; {Id(v)} < {V}; {Id(v)}++) {Ptr(e.Output)}[{Offset(e.Output, e.OutputIndices, null)}] = {Identity(op)};");
            var inner = OpenLoops(ReducedLoops(e, p), v);
            var hoisted = Hoist(e.Body, v);
            _w.Line($"int {Id(v)} = {Lo(v)};");
            foreach (var (t, loop) in new[] { ("_TV", $"for (; {Id(v)} <= {V} - _TV.Count; {Id(v)} += _TV.Count)"), ($"{Rt}.F32", $"for (; {Id(v)} < {V}; {Id(v)}++)") })
            {
                var value = Vector(e.Body, t, v, Id(v), hoisted);
                if (e.Reduction is { } r) value = VectorCombine(t, r, $"{t}.Load({row})", value);
                _w.Line($"{loop} {t}.Store({row}, {value});");
            }
            CloseLoops(inner);
            CloseLoops(outer);
        }

        /// <summary>
        /// Emits locals for the subexpressions that do not vary with the vector rank, largest first. A log-sum-exp pair
        /// is hoisted as its two parts (High, Low); other values have no Low. A quotient by an invariant divisor is
        /// entered as (the divisor's local, "inv"): its reciprocal is the local named with the suffix "inv".
        /// </summary>
        private Dictionary<Expr, (string High, string? Low)> Hoist(Expr body, string v)
        {
            var map = new Dictionary<Expr, (string High, string? Low)>(ReferenceEqualityComparer.Instance);
            void Walk(Expr x)
            {
                if (!DependsOn(x, v))
                {
                    // Each hoisted value is also broadcast once, before the loops (name + "v"): the JIT does not move a
                    // broadcast of a local out of a loop, and repeated it for every vector.
                    if (x is TensorRead r && IsPair(r.Tensor))
                    {
                        var n = _temp++;
                        _w.Line($"float _s{n} = {Ptr(r.Tensor)}[{Offset(r.Tensor, r.Indices, null)}], _s{n}lo = {LowName(r.Tensor)}[{Offset(r.Tensor, r.Indices, null)}];");
                        _w.Line($"_TV _s{n}v = _TV.Create(_s{n}), _s{n}lov = _TV.Create(_s{n}lo);");
                        map[x] = ($"_s{n}", $"_s{n}lo");
                    }
                    else if (x is not Constant)
                    {
                        var name = "_s" + _temp++;
                        _w.Line($"float {name} = {Scalar(x)};");
                        _w.Line($"_TV {name}v = _TV.Create({name});");
                        map[x] = (name, null);
                    }
                    return;
                }
                switch (x)
                {
                    case Unary u: Walk(u.Operand); break;
                    case Binary b:
                        Walk(b.Left);
                        Walk(b.Right);
                        // A divisor that does not vary along the vector becomes one reciprocal per row: a multiply per lane.
                        if (b.Operator == BinaryOperator.Divide && map.TryGetValue(b.Right, out var divisor) && divisor.Low is null)
                        {
                            _w.Line($"float {divisor.High}inv = {divisor.High} == 0f ? 0f : 1f / {divisor.High};");
                            _w.Line($"_TV {divisor.High}invv = _TV.Create({divisor.High}inv), {divisor.High}zerov = _TV.EqualMask({divisor.High}v, _TV.Create(0f));");
                            map[b] = (divisor.High, "inv");
                        }
                        break;
                }
            }
            Walk(body);
            return map;
        }

        private static bool DependsOn(Expr x, string v) => KernelPlanner.Mentions(x, v);

        private string Vector(Expr x, string t, string v, string at, Dictionary<Expr, (string High, string? Low)> hoisted)
        {
            if (hoisted.TryGetValue(x, out var name))
            {
                if (name.Low == "inv" && x is Binary quotient)
                {
                    // x / d with d invariant: 0 where d is 0 (the language's divide), else x times 1/d; in vectors a select
                    // on the mask of d == 0 made before the loops, not a branch per vector.
                    if (t == "_TV") return $"_TV.Select({name.High}zerov, _TV.Create(0f), {Vector(quotient.Left, t, v, at, hoisted)} * {name.High}invv)";
                    return $"({name.High} == 0f ? {t}.Create(0f) : {Vector(quotient.Left, t, v, at, hoisted)} * {t}.Create({name.High}inv))";
                }
                if (t == "_TV") return name.Low is null ? $"{name.High}v" : $"({name.High}v + {name.Low}v)";
                return name.Low is null ? $"{t}.Create({name.High})" : $"{t}.Create({name.High} + {name.Low})";
            }
            var env = new Dictionary<string, string> { [v] = at };
            if (x is Binary { Operator: BinaryOperator.Subtract, Right: TensorRead pair } sub && IsPair(pair.Tensor))
            {
                // x - LSE as (x - max) - log(sum): no low bits of a large LSE are lost.
                var left = Vector(sub.Left, t, v, at, hoisted);
                if (hoisted.TryGetValue(pair, out var parts))
                    return t == "_TV" ? $"(({left} - {parts.High}v) - {parts.Low}v)" : $"(({left} - {t}.Create({parts.High})) - {t}.Create({parts.Low}))";
                var offset = Offset(pair.Tensor, pair.Indices, env);
                return $"(({left} - {t}.Load({Ptr(pair.Tensor)} + {offset})) - {t}.Load({LowName(pair.Tensor)} + {offset}))";
            }
            switch (x)
            {
                case Constant c:
                    return $"{t}.Create({Float(c.Value)})";
                case TensorRead r when _inRegister is { } held && r.Tensor.Name == held.Tensor:
                    return held.Register;
                case TensorRead r when IsPair(r.Tensor):
                {
                    var offset = Offset(r.Tensor, r.Indices, env);
                    return $"({t}.Load({Ptr(r.Tensor)} + {offset}) + {t}.Load({LowName(r.Tensor)} + {offset}))";
                }
                case TensorRead r:
                    return $"{t}.Load({Ptr(r.Tensor)} + {Offset(r.Tensor, r.Indices, env)})";
                case IndexValue iv:
                    var coefficient = KernelPlanner.AffineCoefficient(iv.Index, v)!.Value;
                    return $"{t}.Affine((float)({Ix(iv.Index, env)}), {coefficient}f)";
                case Unary u:
                    var operand = Vector(u.Operand, t, v, at, hoisted);
                    if (u.Function is UnaryFunction.Exp or UnaryFunction.Exp2 && t == "_TV" && _nonPositive.Contains(u)) return $"_TV.{u.Function}NonPositive({operand})";
                    return u.Function == UnaryFunction.Negate ? $"(-{operand})" : $"{t}.{u.Function}({operand})";
                case Binary b:
                    var l = Vector(b.Left, t, v, at, hoisted);
                    var rr = Vector(b.Right, t, v, at, hoisted);
                    return b.Operator switch
                    {
                        BinaryOperator.Add => $"({l} + {rr})",
                        BinaryOperator.Subtract => $"({l} - {rr})",
                        BinaryOperator.Multiply => $"{l} * {rr}",
                        BinaryOperator.Divide => $"{t}.DivideOrZero({l}, {rr})",
                        BinaryOperator.Max => $"{t}.Max({l}, {rr})",
                        BinaryOperator.Power => PowerOf(t, b, l, rr),
                        _ => $"{t}.Min({l}, {rr})",
                    };
                default:
                    return $"{t}.Create({Scalar(x)})";
            }
        }

        // ---- exact: absent points tracked as the interpreter does

        private void EmitExact(ExtendedEinsum e, EinsumPlan p)
        {
            var output = StorageOf(e.Output);
            var outerRanks = OuterLoops(e, p);
            var outputRanks = e.OutputRanks;
            var outerFilters = e.Filters.Where(f => f.Left.Variables().Concat(f.Right.Variables()).All(v => outputRanks.Contains(v))).ToList();
            var innerFilters = e.Filters.Except(outerFilters).ToList();
            var loops = OpenLoops(outerRanks);
            var inRange = Enumerable.Range(0, e.OutputIndices.Count).Select(d => RangeCheck(e.Output, d, e.OutputIndices[d], null)).Where(c => c is not null).ToList();
            if (inRange.Count > 0) _w.Open($"if ({string.Join(" && ", inRange)})");
            _w.Line($"nint _o = {Offset(e.Output, e.OutputIndices, null)};");
            var filter = Filters(outerFilters, null);
            if (filter is not null) _w.Open($"if ({filter})");

            string value, present;
            if (e.Reduction is not { } op)
            {
                var (v, h) = Exact(e.Body);
                value = v;
                present = h ?? "true";
            }
            else
            {
                OpenAccumulator(op);
                _w.Line("bool _any = false, _anyPresent = false;");
                var inner = OpenLoops(ReducedLoops(e, p));
                var innerFilter = Filters(innerFilters, null);
                if (innerFilter is not null) _w.Open($"if ({innerFilter})");
                _w.Line("_any = true;");
                var (v, h) = Exact(e.Body);
                if (h is not null) _w.Open($"if ({h})");
                _w.Line("_anyPresent = true;");
                Accumulate(op, v);
                if (h is not null) _w.Close();
                if (innerFilter is not null) _w.Close();
                CloseLoops(inner);
                _w.Line("// Over points that all are absent the result is absent; over no points it is the identity.");
                value = AccumulatorResult(op);
                present = "(!_any || _anyPresent)";
            }
            _w.Line($"bool _present = {present};");
            _w.Line($"{Ptr(e.Output)}[_o] = _present ? {value} : 0f;");
            if (output.HasPresence) _w.Line($"{PresenceName(e.Output)}[_o] = _present ? (byte)1 : (byte)0;");
            if (filter is not null)
            {
                _w.Close();
                if (output.IsReused || output.Home == TensorHome.Argument)
                {
                    _w.Open("else");
                    _w.Line($"{Ptr(e.Output)}[_o] = 0f;");
                    if (output.HasPresence) _w.Line($"{PresenceName(e.Output)}[_o] = 0;");
                    _w.Close();
                }
            }
            if (inRange.Count > 0) _w.Close();
            CloseLoops(loops);
        }

        /// <summary>Emits statements for an expression; returns its value and its presence (null: always present).</summary>
        private (string Value, string? Present) Exact(Expr x)
        {
            switch (x)
            {
                case TensorRead r when r.Tensor.Role == TensorRole.Input && r.Tensor.Rank == 0:
                    return (ScalarInput(r.Tensor), null);
                case TensorRead r:
                {
                    var storage = StorageOf(r.Tensor);
                    var checks = Enumerable.Range(0, r.Indices.Count).Select(d => RangeCheck(r.Tensor, d, r.Indices[d], null)).Where(c => c is not null).ToList();
                    var offset = Offset(r.Tensor, r.Indices, null);
                    if (storage.HasPresence) checks.Add($"{PresenceName(r.Tensor)}[{offset}] != 0");
                    var read = IsPair(r.Tensor) ? $"({Ptr(r.Tensor)}[{offset}] + {LowName(r.Tensor)}[{offset}])" : Element(r.Tensor, offset);
                    if (checks.Count == 0) return (read, null);
                    var n = _temp++;
                    _w.Line($"bool _h{n} = {string.Join(" && ", checks)};");
                    _w.Line($"float _v{n} = _h{n} ? {read} : 0f;");
                    return ($"_v{n}", $"_h{n}");
                }
                case Unary u:
                {
                    var (v, h) = Exact(u.Operand);
                    return (ScalarUnary(u.Function, v), h);
                }
                case Binary b:
                {
                    var (l, hl) = Exact(b.Left);
                    var (r, hr) = Exact(b.Right);
                    var combined = ScalarBinary(b.Operator, l, r);
                    if (hl is null && hr is null) return (combined, null);
                    var n = _temp++;
                    if (b.Merge == MergeOperator.Union)
                    {
                        // An absent operand is the identity: the other passes through.
                        var value = hl is null ? $"{hr} ? {combined} : {l}"
                            : hr is null ? $"{hl} ? {combined} : {r}"
                            : $"{hl} ? ({hr} ? {combined} : {l}) : {r}";
                        _w.Line($"float _v{n} = {value};");
                        if (hl is null || hr is null) return ($"_v{n}", null);
                        _w.Line($"bool _h{n} = {hl} || {hr};");
                        return ($"_v{n}", $"_h{n}");
                    }
                    _w.Line($"bool _h{n} = {string.Join(" && ", new[] { hl, hr }.Where(h => h is not null))};");
                    _w.Line($"float _v{n} = _h{n} ? {combined} : 0f;");
                    return ($"_v{n}", $"_h{n}");
                }
                default:
                    return (Scalar(x), null);
            }
        }

        // ---- scalar expressions over dense points

        private string Scalar(Expr x)
        {
            switch (x)
            {
                case Constant c:
                    return Float(c.Value);
                case SizeValue s:
                    return $"(float){s.Size}";
                case IndexValue i:
                    return $"(float)({Ix(i.Index, null)})";
                case TensorRead r when r.Tensor.Role == TensorRole.Input && r.Tensor.Rank == 0:
                    return ScalarInput(r.Tensor);
                case TensorRead r when IsPair(r.Tensor):
                    return $"({Ptr(r.Tensor)}[{Offset(r.Tensor, r.Indices, null)}] + {LowName(r.Tensor)}[{Offset(r.Tensor, r.Indices, null)}])";
                case TensorRead r:
                    return Element(r.Tensor, Offset(r.Tensor, r.Indices, null));
                case Unary u:
                    return ScalarUnary(u.Function, Scalar(u.Operand));
                case Binary { Operator: BinaryOperator.Subtract, Right: TensorRead pair } sub when IsPair(pair.Tensor):
                {
                    var offset = Offset(pair.Tensor, pair.Indices, null);
                    return $"(({Scalar(sub.Left)} - {Ptr(pair.Tensor)}[{offset}]) - {LowName(pair.Tensor)}[{offset}])";
                }
                case Binary b:
                    return ScalarBinary(b.Operator, Scalar(b.Left), Scalar(b.Right));
                default:
                    throw new InvalidOperationException("unknown expression " + x.GetType().Name);
            }
        }

        private static string ScalarUnary(UnaryFunction f, string operand) =>
            f == UnaryFunction.Negate ? $"(-{operand})" : $"{Math}.{f}({operand})";

        private static string ScalarBinary(BinaryOperator op, string l, string r) => op switch
        {
            BinaryOperator.Add => $"({l} + {r})",
            BinaryOperator.Subtract => $"({l} - {r})",
            BinaryOperator.Multiply => $"{l} * {r}",
            BinaryOperator.Divide => $"{Math}.DivideOrZero({l}, {r})",
            BinaryOperator.Max => $"{Math}.Max({l}, {r})",
            BinaryOperator.Power => $"{Math}.Pow({l}, {r})",
            _ => $"{Math}.Min({l}, {r})",
        };

        /// <summary>x ^ 2 and x ^ 3 as products (exact to rounding, and what RMSNorm's X ^ 2 deserves), else the general power.</summary>
        private static string PowerOf(string t, Binary b, string l, string r) => b.Right switch
        {
            Constant { Value: 2 } => $"{t}.Square({l})",
            Constant { Value: 3 } => $"{t}.Cube({l})",
            _ => $"{t}.Pow({l}, {r})",
        };

        // ---- indices and offsets

        private string? Filters(IReadOnlyList<Comparison> filters, Dictionary<string, string>? env) =>
            filters.Count == 0 ? null : string.Join(" && ", filters.Select(f => $"{Ix(f.Left, env)} {Cmp(f.Operator)} {Ix(f.Right, env)}"));

        private static string Cmp(ComparisonOperator op) => Comparison.Text(op);

        /// <summary>A value a filter reads (where m &lt; LEN[b]) as an integer: an i32 input's exactly, a float's rounded down.</summary>
        private string IndexRead(IndexRead r, Dictionary<string, string>? env)
        {
            var value = r.Subscripts.Count == 0 ? Id(r.Tensor) : $"{Id(r.Tensor)}[{Offset(_c.Tensor(r.Tensor), r.Subscripts, env)}]";
            return IsInteger(_c.Tensor(r.Tensor)) ? $"(long){value}" : $"{Math}.IndexOf({value})";
        }

        private string Ix(IndexExpr e, Dictionary<string, string>? env) => e switch
        {
            IndexConstant c => c.Value.ToString(CultureInfo.InvariantCulture),
            IndexVariable v => env is not null && env.TryGetValue(v.Rank, out var s) ? s : Id(v.Rank),
            IndexSize s => s.Size,
            // A value a filter reads (where m < LEN[b]), as an integer.
            IndexRead r => IndexRead(r, env),
            IndexBinary b => b.Operator switch
            {
                IndexOperator.Add => $"({Ix(b.Left, env)} + {Ix(b.Right, env)})",
                IndexOperator.Subtract => $"({Ix(b.Left, env)} - {Ix(b.Right, env)})",
                IndexOperator.Multiply => $"{Ix(b.Left, env)} * {Ix(b.Right, env)}",
                // Floor division and modulo (-1, absent, for a divisor of 0), as in the interpreter.
                _ => $"(nint){Math}.{(b.Operator == IndexOperator.Divide ? "FloorDivide" : "FloorModulo")}({Ix(b.Left, env)}, {Ix(b.Right, env)})",
            },
            _ => throw new InvalidOperationException("unknown index expression"),
        };

        /// <summary>A bounds test for one subscript, or null when the plan proves it in range.</summary>
        private string? RangeCheck(Tensor tensor, int d, IndexExpr index, Dictionary<string, string>? env)
        {
            var storage = StorageOf(tensor);
            if (storage.Dims[d] != DimStorage.Kept) return null;
            if (KernelPlanner.InRange(_c, index, tensor.Dims[d], _plan.AssumesDivisible, null)) return null;
            return $"(uint)({Ix(index, env)}) < (uint){Extent(tensor.Dims[d])}";
        }

        /// <summary>The element offset of a point in the tensor's storage, in Horner form.</summary>
        private string Offset(Tensor tensor, IReadOnlyList<IndexExpr> indices, Dictionary<string, string>? env)
        {
            var storage = StorageOf(tensor);
            string? acc = null;
            foreach (var d in storage.StorageOrder)
            {
                var kind = storage.Dims[d];
                if (kind == DimStorage.Dropped) continue;
                var index = Ix(indices[d], env);
                if (kind == DimStorage.Rolling && _liveSlots.TryGetValue(tensor.Name, out var live))
                    index = indices[d].TryGetOffset(out var r, out var k) && r == live.Rank ? (k == 0 ? live.Live : $"({live.Live} + {k})")
                        : indices[d] is IndexSize z && z.Size == RankOf(live.Rank).Size ? live.Live : index;
                if (kind == DimStorage.Rolling) index = $"({index} & 1)";
                if (kind == DimStorage.Blocked) index = index == "_pb" ? "0" : $"({index} - _pb)";
                if (kind == DimStorage.Chunk) index = $"({index} - {ChunkFrom(tensor.Dims[d].Rank)})";
                // An extent with an offset is a long (so that it cannot wrap); offsets are nint.
                var extent = DimExtent(storage, d);
                if (storage.Dims[d] == DimStorage.Kept && tensor.Dims[d].Offset != 0) extent = "(nint)" + extent;
                acc = acc is null or "0" ? (index == "0" ? "0" : $"(nint){index}")
                    : index == "0" ? $"({acc} * {extent})" : $"({acc} * {extent} + {index})";
            }
            return acc ?? "0";
        }

        private string DimExtent(TensorStorage s, int d) => s.Dims[d] switch
        {
            DimStorage.Rolling => "2",
            DimStorage.Blocked => "_PB",
            DimStorage.Chunk => ChunkSteps,
            _ => Extent(s.Tensor.Dims[d]),
        };

        /// <summary>The distance in elements between the points of a tensor access at <paramref name="rank"/> and rank + 1
        /// (the access is affine in it), as an expression; "1" when the rank is innermost.</summary>
        private string Stride(Tensor tensor, IReadOnlyList<IndexExpr> indices, string rank)
        {
            var storage = StorageOf(tensor);
            var terms = new List<string>();
            var inner = new List<string>();
            foreach (var d in storage.StorageOrder.Reverse())
            {
                if (storage.Dims[d] == DimStorage.Dropped) continue;
                var coefficient = KernelPlanner.AffineCoefficient(indices[d], rank)!.Value;
                if (coefficient != 0)
                {
                    var factors = (coefficient == 1 ? Enumerable.Empty<string>() : new[] { coefficient.ToString(CultureInfo.InvariantCulture) }).Concat(inner).ToList();
                    terms.Add(factors.Count == 0 ? "1" : string.Join(" * ", factors.Select(f => "(nint)" + f)));
                }
                inner.Add(DimExtent(storage, d));
            }
            return terms.Count == 0 ? "0" : string.Join(" + ", terms);
        }
    }

    private sealed class ReferenceEqualityComparer : IEqualityComparer<Expr>
    {
        public static readonly ReferenceEqualityComparer Instance = new();

        public bool Equals(Expr? x, Expr? y) => ReferenceEquals(x, y);

        public int GetHashCode(Expr obj) => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(obj);
    }
}
