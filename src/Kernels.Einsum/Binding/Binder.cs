using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Diagnostics;
using Kernels.Einsum.Ir;
using Kernels.Einsum.Syntax;

namespace Kernels.Einsum.Binding;

/// <summary>
/// Turns a syntax tree into the cascade IR: resolves names, ranks and sizes, checks shapes and the
/// rules of iterative ranks, and orders the Einsums. Every problem is a diagnostic; when any error
/// was reported no cascade is produced.
/// </summary>
internal sealed class Binder
{
    internal static readonly Dictionary<string, UnaryFunction> UnaryFunctions = new(StringComparer.Ordinal)
    {
        ["exp"] = UnaryFunction.Exp,
        ["log"] = UnaryFunction.Log,
        ["sqrt"] = UnaryFunction.Sqrt,
        ["rsqrt"] = UnaryFunction.Rsqrt,
        ["abs"] = UnaryFunction.Abs,
        ["softplus"] = UnaryFunction.Softplus,
        ["silu"] = UnaryFunction.Silu,
        ["sigmoid"] = UnaryFunction.Sigmoid,
        ["tanh"] = UnaryFunction.Tanh,
        ["relu"] = UnaryFunction.Relu,
        ["gelu"] = UnaryFunction.Gelu,
        ["gelu_tanh"] = UnaryFunction.GeluTanh,
        ["erf"] = UnaryFunction.Erf,
    };

    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal)
    {
        "kernel", "input", "output", "partition", "with", "iterate", "until", "init", "where", "and", "inf", "pi", "index",
        "sum", "max", "min", "prod", "logsumexp",
    };

    private const string FunctionList = "exp, log, sqrt, rsqrt, abs, softplus, silu, sigmoid, tanh, relu, gelu, gelu_tanh, erf, max(a, b), min(a, b) and pow(x, y)";

    private readonly List<Diagnostic> _diagnostics;
    private readonly string _source;
    private readonly Dictionary<string, TensorBuilder> _tensors = new(StringComparer.Ordinal);
    private readonly List<string> _tensorOrder = new();
    private readonly Dictionary<string, RankBuilder> _ranks = new(StringComparer.Ordinal);
    private readonly List<string> _rankOrder = new();
    private readonly HashSet<string> _declaredOnly = new(StringComparer.Ordinal);
    private readonly HashSet<string> _writtenSizes = new(StringComparer.Ordinal); // sizes the spec writes by name
    private string? _kernelName;

    private Binder(string source, List<Diagnostic> diagnostics)
    {
        _source = source;
        _diagnostics = diagnostics;
    }

    private sealed class TensorBuilder
    {
        public string Name = "";
        public TensorRole Role;
        public ElementType Type = ElementType.Float32;
        public List<TensorDim>? Dims;
        public SourceSpan Span;
        public EinsumStatementSyntax? Writer;
        public EinsumStatementSyntax? Init;
        public int? WriterBlock;
        public int? CarriedDim;
        public bool IsRead;
        public Tensor? Built;
    }

    private sealed class RankBuilder
    {
        public string Index = "";
        public RankKind Kind;
        public string Root = "";
        public string? PartitionOf;
        public int? DefaultSize;
        public bool IsIterative;
        public string? AliasOf;
        public string? SizeName;
    }

    private sealed class EinsumItem
    {
        public EinsumStatementSyntax Syntax = null!;
        public int? Block;
        public ExtendedEinsum? Bound;
        public int Order;
    }

    private sealed class BlockItem
    {
        public IterateStatementSyntax Syntax = null!;
        public string Rank = "";
        public Comparison? Stop;
        public List<EinsumItem> Items = new();
    }

    public static Cascade? Bind(CascadeSyntax syntax, string source, string? defaultName, List<Diagnostic> diagnostics)
    {
        var binder = new Binder(source, diagnostics);
        return binder.BindCascade(syntax, defaultName);
    }

    private void Report(Diagnostic d) => _diagnostics.Add(d);

    private bool HasErrors => _diagnostics.Any(d => d.IsError);

    private static bool IsIndexName(string name) => name.Length > 0 && char.IsLower(name[0]);

    private Cascade? BindCascade(CascadeSyntax syntax, string? defaultName)
    {
        syntax = NestedReductions.Desugar(syntax, _source);
        var items = new List<EinsumItem>();
        var blocks = new List<BlockItem>();

        for (var i = 0; i < syntax.Statements.Count; i++)
        {
            switch (syntax.Statements[i])
            {
                case KernelStatementSyntax k:
                    if (i != 0 || _kernelName is not null) Report(DiagnosticDescriptors.KernelStatementPlacement(k.Span));
                    else _kernelName = k.Name.Text;
                    break;
                case DeclarationStatementSyntax d:
                    BindDeclaration(d);
                    break;
            }
        }
        foreach (var statement in syntax.Statements)
            if (statement is PartitionStatementSyntax p) BindPartition(p);
        foreach (var statement in syntax.Statements)
            if (statement is IndexStatementSyntax ix) BindIndexAlias(ix);

        var order = 0;
        foreach (var statement in syntax.Statements)
        {
            switch (statement)
            {
                case EinsumStatementSyntax e:
                    if (e.IsInit)
                        Report(DiagnosticDescriptors.BadInit(e.Span, $"'init' belongs inside the 'iterate' block of the rank it initialises; move it into 'iterate ... {{ }}'."));
                    else
                        items.Add(new EinsumItem { Syntax = e, Order = order++ });
                    break;
                case IterateStatementSyntax it:
                    var block = new BlockItem { Syntax = it, Rank = it.Rank.Text };
                    var blockIndex = blocks.Count;
                    blocks.Add(block);
                    foreach (var inner in it.Body)
                    {
                        switch (inner)
                        {
                            case EinsumStatementSyntax e:
                                var item = new EinsumItem { Syntax = e, Block = blockIndex, Order = order++ };
                                block.Items.Add(item);
                                items.Add(item);
                                break;
                            case KernelStatementSyntax k:
                                Report(DiagnosticDescriptors.KernelStatementPlacement(k.Span));
                                break;
                            case IterateStatementSyntax:
                                break; // reported by the parser
                            default:
                                Report(DiagnosticDescriptors.BadIterate(inner.Span, "An 'iterate' block holds Einsums and 'init' statements only; move declarations and partitions above it."));
                                break;
                        }
                    }
                    break;
            }
        }

        // Every lower-case name used as a subscript is a rank.
        foreach (var item in items)
        {
            RegisterSubscriptRanks(item.Syntax.Target);
            foreach (var access in Accesses(item.Syntax.Body)) RegisterSubscriptRanks(access);
        }

        foreach (var block in blocks) BindBlockHeader(block);
        foreach (var item in items.Where(i => !i.Syntax.IsInit)) BindTarget(item, blocks);
        foreach (var item in items.Where(i => i.Syntax.IsInit)) BindInitTarget(item, blocks);
        // Indices are variables of the generated code, so no tensor, declared or intermediate, may share their names.
        foreach (var name in _tensorOrder)
        {
            if (_ranks.ContainsKey(name))
                Report(DiagnosticDescriptors.NameConflict(TensorNameSpan(name), $"Tensor '{name}' has the name of the index '{name}'; rename the tensor (e.g. '{name}_') or the index."));
        }
        if (HasErrors) return null;

        foreach (var t in _tensorOrder.Select(n => _tensors[n]))
            t.Built = new Tensor(t.Name, t.Role, t.Type, t.Dims ?? new List<TensorDim>(), t.Span) { CarriedDim = t.CarriedDim };

        var id = 0;
        foreach (var item in items) item.Bound = BindEinsum(item, blocks, id++);
        if (HasErrors) return null;

        CheckCarriedTensors(blocks);
        CheckUsage();
        RenameSizesNamedLikeTensors();
        if (HasErrors) return null;

        var steps = Order(items, blocks);
        if (steps is null) return null;

        var ranks = _rankOrder.Select(n => _ranks[n]).Select(r => new Rank(r.Index, r.Kind, r.Root, r.PartitionOf, r.DefaultSize, r.IsIterative, r.AliasOf) { SizeName = r.SizeName }).ToList();
        var tensors = _tensorOrder.Select(n => _tensors[n].Built!).ToList();
        return new Cascade(_kernelName ?? defaultName ?? "cascade", ranks, tensors, steps, _source);
    }

    // ---- declarations ------------------------------------------------------------------------

    private bool CheckTensorName(NameSyntax name)
    {
        if (Keywords.Contains(name.Text) || UnaryFunctions.ContainsKey(name.Text))
        {
            Report(DiagnosticDescriptors.NameConflict(name.Span, $"'{name.Text}' is a reserved word of the cascade language; name the tensor differently."));
            return false;
        }
        return true;
    }

    private void BindDeclaration(DeclarationStatementSyntax declaration)
    {
        foreach (var t in declaration.Tensors)
        {
            if (!CheckTensorName(t.Name)) continue;
            if (_tensors.ContainsKey(t.Name.Text))
            {
                Report(DiagnosticDescriptors.DuplicateTensor(t.Name.Span, t.Name.Text));
                continue;
            }
            var dims = new List<TensorDim>();
            var ok = true;
            foreach (var r in t.Ranks)
            {
                if (!IsIndexName(r.Text))
                {
                    Report(DiagnosticDescriptors.RankMismatch(r.Span, $"Ranks are named by their lower-case index; write '{r.Text.ToLowerInvariant()}' (its size is '{r.Text.ToUpperInvariant()}')."));
                    ok = false;
                    continue;
                }
                if (dims.Any(d => d.Rank == r.Text))
                {
                    Report(DiagnosticDescriptors.RepeatedTargetIndex(r.Span, r.Text));
                    ok = false;
                    continue;
                }
                if (!_ranks.ContainsKey(r.Text)) _declaredOnly.Add(r.Text);
                RegisterRank(r.Text);
                dims.Add(new TensorDim(r.Text, 0));
            }
            var type = ElementType.Float32;
            if (t.ElementType is { } typeName)
            {
                switch (typeName.Text)
                {
                    case "f32": type = ElementType.Float32; break;
                    case "f16": type = ElementType.Float16; break;
                    case "bf16": type = ElementType.BFloat16; break;
                    default: Report(DiagnosticDescriptors.UnknownElementType(typeName.Span, typeName.Text)); break;
                }
            }
            if (!ok) continue;
            _tensors[t.Name.Text] = new TensorBuilder
            {
                Name = t.Name.Text,
                Role = declaration.IsOutput ? TensorRole.Output : TensorRole.Input,
                Type = type,
                Dims = dims,
                Span = t.Span,
            };
            _tensorOrder.Add(t.Name.Text);
        }
    }

    private void RegisterRank(string index)
    {
        if (_ranks.ContainsKey(index)) return;
        _ranks[index] = new RankBuilder { Index = index, Kind = RankKind.Plain, Root = index };
        _rankOrder.Add(index);
    }

    private void BindPartition(PartitionStatementSyntax p)
    {
        foreach (var n in new[] { p.Parent, p.Outer, p.Inner })
        {
            if (n.Text.Length == 0 || !char.IsUpper(n.Text[0]))
            {
                Report(DiagnosticDescriptors.BadPartition(n.Span, $"A partition names sizes, which are upper case: write '{n.Text.ToUpperInvariant()}' (the rank's index is '{n.Text.ToLowerInvariant()}')."));
                return;
            }
        }
        foreach (var n in new[] { p.Parent, p.Outer, p.Inner }) _writtenSizes.Add(n.Text);
        var parent = p.Parent.Text.ToLowerInvariant();
        if (!_ranks.TryGetValue(parent, out var parentRank))
        {
            Report(DiagnosticDescriptors.BadPartition(p.Parent.Span, $"No declared tensor has rank '{parent}', so '{p.Parent.Text}' cannot be partitioned; partition the size of a rank of an input, e.g. 'partition M -> M1 x M0'."));
            return;
        }
        if (parentRank.Kind != RankKind.Plain)
        {
            Report(DiagnosticDescriptors.BadPartition(p.Parent.Span, $"'{p.Parent.Text}' is itself part of a partition; partition the original rank instead."));
            return;
        }
        var outer = p.Outer.Text.ToLowerInvariant();
        var inner = p.Inner.Text.ToLowerInvariant();
        if (outer == inner || outer == parent || inner == parent)
        {
            Report(DiagnosticDescriptors.BadPartition(p.Span, $"The three sizes of a partition must differ; write e.g. 'partition {p.Parent.Text} -> {p.Parent.Text}1 x {p.Parent.Text}0'."));
            return;
        }
        foreach (var (name, index) in new[] { (p.Outer, outer), (p.Inner, inner) })
        {
            if (_ranks.ContainsKey(index) && !_declaredOnly.Contains(index))
            {
                Report(DiagnosticDescriptors.BadPartition(name.Span, $"Rank '{index}' already exists; choose new names for the parts of '{p.Parent.Text}'."));
                return;
            }
        }
        _rankOrder.Remove(outer);
        _rankOrder.Remove(inner);
        int? tile = null;
        if (p.TileSize is not null)
        {
            if (p.TileSize is NumberSyntax n && n.Value >= 1 && n.Value <= int.MaxValue && Math.Floor(n.Value) == n.Value)
                tile = (int)n.Value;
            else
            {
                Report(DiagnosticDescriptors.BadPartition(p.TileSize.Span, $"The tile size must be a positive integer, e.g. 'with {p.Inner.Text} = 64'."));
                return;
            }
        }
        _ranks[outer] = new RankBuilder { Index = outer, Kind = RankKind.PartitionOuter, Root = parent, PartitionOf = parent };
        _ranks[inner] = new RankBuilder { Index = inner, Kind = RankKind.PartitionInner, Root = parent, PartitionOf = parent, DefaultSize = tile };
        _rankOrder.Add(outer);
        _rankOrder.Add(inner);
    }

    private void BindIndexAlias(IndexStatementSyntax ix)
    {
        var target = ix.Size.Text.ToLowerInvariant();
        _writtenSizes.Add(ix.Size.Text);
        if (!IsIndexName(ix.Index.Text))
        {
            Report(DiagnosticDescriptors.RankMismatch(ix.Index.Span, $"Indices are lower case; write 'index {ix.Index.Text.ToLowerInvariant()} in {ix.Size.Text}'."));
            return;
        }
        if (ix.Size.Text.Length == 0 || !char.IsUpper(ix.Size.Text[0]) || !_ranks.TryGetValue(target, out var rank) || rank.AliasOf is not null)
        {
            Report(DiagnosticDescriptors.UnknownName(ix.Size.Span, ix.Size.Text, "write the upper-case size of a rank that a tensor or partition declares, e.g. 'index s in T'"));
            return;
        }
        if (_ranks.ContainsKey(ix.Index.Text) && !_declaredOnly.Contains(ix.Index.Text))
        {
            Report(DiagnosticDescriptors.NameConflict(ix.Index.Span, $"Rank '{ix.Index.Text}' already exists; choose a new index name."));
            return;
        }
        _ranks[ix.Index.Text] = new RankBuilder { Index = ix.Index.Text, Kind = rank.Kind, Root = rank.Root, PartitionOf = rank.PartitionOf, AliasOf = target };
        _rankOrder.Remove(ix.Index.Text);
        _rankOrder.Add(ix.Index.Text);
    }

    private string SizeName(string index) => (_ranks.TryGetValue(index, out var r) && r.AliasOf is not null ? r.AliasOf : index).ToUpperInvariant();

    private SourceSpan TensorNameSpan(string name)
    {
        var span = _tensors[name].Span;
        return new SourceSpan(span.Start, name.Length, span.StartLine, span.StartColumn, span.StartLine, span.StartColumn + name.Length);
    }

    /// <summary>
    /// Sizes are variables (and parameters) of the generated code too. A tensor may take the name of a
    /// size the spec never writes (<c>B</c> in a batched matmul over rank <c>b</c>): the size is then
    /// called <c>B_size</c>. A size the spec writes (a subscript, a filter, a stop condition, a
    /// partition or an index alias) keeps its name, so a tensor named like it is KRN0027.
    /// </summary>
    private void RenameSizesNamedLikeTensors()
    {
        foreach (var name in _tensorOrder)
        {
            var conflict = _rankOrder.FirstOrDefault(r => _ranks[r].AliasOf is null && SizeName(r) == name);
            if (conflict is null) continue;
            var renamed = name + "_size";
            if (_writtenSizes.Contains(name))
                Report(DiagnosticDescriptors.NameConflict(TensorNameSpan(name), $"Tensor '{name}' has the name of the size of rank '{conflict}', which the spec uses; rename the tensor (e.g. '{name}_')."));
            else if (_tensors.ContainsKey(renamed))
                Report(DiagnosticDescriptors.NameConflict(TensorNameSpan(name), $"Tensor '{name}' has the name of the size of rank '{conflict}', which would then be called '{renamed}', also a tensor; rename one of the tensors."));
            else
                _ranks[conflict].SizeName = renamed;
        }
        foreach (var alias in _rankOrder.Select(r => _ranks[r]).Where(r => r.AliasOf is not null))
            alias.SizeName = _ranks[alias.AliasOf!].SizeName;
    }

    private static IEnumerable<AccessSyntax> Accesses(ExpressionSyntax e)
    {
        switch (e)
        {
            case AccessSyntax a:
                yield return a;
                foreach (var i in a.Indices)
                    foreach (var x in Accesses(i)) yield return x;
                break;
            case CallSyntax c:
                foreach (var arg in c.Arguments)
                    foreach (var x in Accesses(arg)) yield return x;
                break;
            case UnarySyntax u:
                foreach (var x in Accesses(u.Operand)) yield return x;
                break;
            case BinarySyntax b:
                foreach (var x in Accesses(b.Left)) yield return x;
                foreach (var x in Accesses(b.Right)) yield return x;
                break;
            case ParenthesizedSyntax p:
                foreach (var x in Accesses(p.Inner)) yield return x;
                break;
            case ReductionSyntax r:
                foreach (var x in Accesses(r.Operand)) yield return x;
                break;
        }
    }

    private void RegisterSubscriptRanks(AccessSyntax access)
    {
        foreach (var index in access.Indices)
            foreach (var name in Names(index))
                if (IsIndexName(name.Text) && !Keywords.Contains(name.Text) && !_tensors.ContainsKey(name.Text))
                    RegisterRank(name.Text);
    }

    private static IEnumerable<NameSyntax> Names(ExpressionSyntax e) => e switch
    {
        NameExpressionSyntax n => new[] { n.Name },
        UnarySyntax u => Names(u.Operand),
        BinarySyntax b => Names(b.Left).Concat(Names(b.Right)),
        ParenthesizedSyntax p => Names(p.Inner),
        _ => Array.Empty<NameSyntax>(),
    };

    // ---- iteration blocks ----------------------------------------------------------------------

    private void BindBlockHeader(BlockItem block)
    {
        var rank = block.Syntax.Rank;
        if (!_ranks.TryGetValue(rank.Text, out var r))
        {
            Report(DiagnosticDescriptors.BadIterate(rank.Span, $"'{rank.Text}' is not a rank of this cascade; iterate over a rank that the Einsums use, e.g. the tile index of a partition."));
            return;
        }
        if (r.IsIterative)
        {
            Report(DiagnosticDescriptors.BadIterate(rank.Span, $"Rank '{rank.Text}' is already iterated by another block; merge the two blocks."));
            return;
        }
        r.IsIterative = true;
        if (block.Syntax.Until.Comparisons.Count != 1)
        {
            Report(DiagnosticDescriptors.BadIterate(block.Syntax.Until.Span, $"The stop condition is one comparison of the rank with a bound; write 'until {rank.Text} == {r.Index.ToUpperInvariant()}'."));
            return;
        }
        var c = BindComparison(block.Syntax.Until.Comparisons[0], new HashSet<string> { rank.Text });
        if (c is null) return;
        var vars = c.Left.Variables().Concat(c.Right.Variables()).Distinct().ToList();
        if (vars.Count != 1 || vars[0] != rank.Text || c.Right.Variables().Count != 0 || c.Operator is not (ComparisonOperator.Equal or ComparisonOperator.GreaterEqual or ComparisonOperator.Greater))
        {
            Report(DiagnosticDescriptors.BadIterate(block.Syntax.Until.Span, $"The stop condition must compare '{rank.Text}' with a bound that grows to it, e.g. 'until {rank.Text} == {r.Index.ToUpperInvariant()}' or 'until {rank.Text} >= {r.Index.ToUpperInvariant()}'."));
            return;
        }
        block.Stop = c;
    }

    // ---- targets (left-hand sides) ---------------------------------------------------------------

    private void BindTarget(EinsumItem item, List<BlockItem> blocks)
    {
        var e = item.Syntax;
        var name = e.Target.Name;
        if (!CheckTensorName(name)) return;
        var blockRank = item.Block is { } b ? blocks[b].Rank : null;

        var dims = new List<TensorDim>();
        int? carried = null;
        var seen = new HashSet<string>();
        for (var i = 0; i < e.Target.Indices.Count; i++)
        {
            var index = BindIndex(e.Target.Indices[i], lhs: true);
            if (index is null) return;
            if (TryPartitionTarget(index, out var parentRank))
            {
                foreach (var v in index.Variables()) seen.Add(v);
                dims.Add(new TensorDim(parentRank, 0));
                continue;
            }
            if (!index.TryGetOffset(out var rank, out var offset) || !_ranks.ContainsKey(rank))
            {
                Report(DiagnosticDescriptors.BadTargetIndex(e.Target.Indices[i].Span, "The left-hand side is indexed by plain indices ('p'), 'r+1' for the rank of an 'iterate r' block, 'm1*M0 + m0' for a partitioned rank, or a constant in an 'init'; move other index arithmetic to the right-hand side."));
                return;
            }
            if (!seen.Add(rank))
            {
                Report(DiagnosticDescriptors.RepeatedTargetIndex(e.Target.Indices[i].Span, rank));
                return;
            }
            if (offset != 0)
            {
                if (rank != blockRank || offset != 1)
                {
                    Report(DiagnosticDescriptors.BadTargetIndex(e.Target.Indices[i].Span, blockRank is null
                        ? $"An offset on the left-hand side ('{rank}+{offset}') is only allowed for the rank of an 'iterate' block; write '{rank}' here, or put the Einsum in 'iterate {rank} until ... {{ }}'."
                        : $"Inside 'iterate {blockRank}', a tensor is written at '{blockRank}' or '{blockRank}+1'; write '{(rank == blockRank ? blockRank + "+1" : rank)}' here."));
                    return;
                }
                carried = i;
            }
            dims.Add(new TensorDim(rank, (int)offset));
        }
        // An Einsum of an 'iterate r' block runs once per step: without r on the left it would reduce over every
        // step, the later ones not computed yet.
        if (blockRank is not null && !seen.Contains(blockRank))
        {
            Report(DiagnosticDescriptors.BadTargetIndex(name.Span,
                $"Inside 'iterate {blockRank}', an Einsum runs once per step, so its output is indexed by '{blockRank}' or '{blockRank}+1'; add '{blockRank}' to '{name.Text}' or move the Einsum out of the block."));
            return;
        }

        if (_tensors.TryGetValue(name.Text, out var existing))
        {
            if (existing.Role == TensorRole.Input)
            {
                Report(DiagnosticDescriptors.WriteToInput(name.Span, name.Text));
                return;
            }
            if (existing.Writer is not null)
            {
                Report(DiagnosticDescriptors.TensorWrittenTwice(name.Span, name.Text));
                return;
            }
            // A declared output: the subscripts must range over the declared ranks.
            var declared = existing.Dims!;
            if (declared.Count != dims.Count)
            {
                Report(DiagnosticDescriptors.RankMismatch(e.Target.Span, $"'{name.Text}' is declared with {declared.Count} rank{(declared.Count == 1 ? "" : "s")} [{string.Join(",", declared.Select(d => d.Rank))}] but written with {dims.Count}; write {name.Text}[{string.Join(",", declared.Select(d => d.Rank))}]."));
                return;
            }
            for (var i = 0; i < dims.Count; i++)
            {
                if (!SameSize(declared[i].Rank, dims[i].Rank))
                {
                    Report(DiagnosticDescriptors.RankMismatch(e.Target.Indices[i].Span, $"Dimension {i} of '{name.Text}' ranges over {SizeOf(declared[i].Rank)}, but it is written with '{dims[i].Rank}', which ranges over {SizeOf(dims[i].Rank)}; use '{declared[i].Rank}'."));
                    return;
                }
            }
            existing.Dims = dims.Select((d, i) => new TensorDim(declared[i].Rank, d.Offset)).ToList();
            existing.Writer = e;
            existing.WriterBlock = item.Block;
            existing.CarriedDim = carried;
            return;
        }

        _tensors[name.Text] = new TensorBuilder
        {
            Name = name.Text,
            Role = TensorRole.Intermediate,
            Dims = dims,
            Span = e.Target.Span,
            Writer = e,
            WriterBlock = item.Block,
            CarriedDim = carried,
        };
        _tensorOrder.Add(name.Text);
    }

    /// <summary>Recognises <c>m1*M0 + m0</c> on a left-hand side: a write through a partition into rank m.</summary>
    private bool TryPartitionTarget(IndexExpr index, out string parent)
    {
        parent = string.Empty;
        if (index is IndexBinary { Operator: IndexOperator.Add, Left: IndexBinary { Operator: IndexOperator.Multiply, Left: IndexVariable outer, Right: IndexSize size }, Right: IndexVariable inner }
            && _ranks.TryGetValue(outer.Rank, out var o) && o.Kind == RankKind.PartitionOuter && o.AliasOf is null
            && _ranks.TryGetValue(inner.Rank, out var i) && i.Kind == RankKind.PartitionInner && i.AliasOf is null
            && o.PartitionOf == i.PartitionOf && size.Size == inner.Rank.ToUpperInvariant())
        {
            parent = o.PartitionOf!;
            return true;
        }
        return false;
    }

    private void BindInitTarget(EinsumItem item, List<BlockItem> blocks)
    {
        var e = item.Syntax;
        var block = blocks[item.Block!.Value];
        var name = e.Target.Name.Text;
        if (!_tensors.TryGetValue(name, out var t) || t.Writer is null || t.WriterBlock != item.Block || t.CarriedDim is null)
        {
            Report(DiagnosticDescriptors.BadInit(e.Target.Span, $"'init' gives the starting value of a tensor that the block writes at '{block.Rank}+1'; '{name}' is not one. Write its update as '{name}[{block.Rank}+1,...] = ...' in this block, or remove the 'init'."));
            return;
        }
        if (t.Init is not null)
        {
            Report(DiagnosticDescriptors.BadInit(e.Target.Span, $"'{name}' already has an 'init'; keep one."));
            return;
        }
        var dims = t.Dims!;
        if (e.Target.Indices.Count != dims.Count)
        {
            Report(DiagnosticDescriptors.RankMismatch(e.Target.Span, $"'{name}' has {dims.Count} ranks but its init is written with {e.Target.Indices.Count}; write {InitExample(t, block.Rank)}."));
            return;
        }
        for (var i = 0; i < dims.Count; i++)
        {
            var index = BindIndex(e.Target.Indices[i], lhs: true);
            if (index is null) return;
            if (i == t.CarriedDim)
            {
                if (index is not IndexConstant { Value: 0 })
                {
                    Report(DiagnosticDescriptors.BadInit(e.Target.Indices[i].Span, $"An init writes step 0 of '{block.Rank}'; write {InitExample(t, block.Rank)}."));
                    return;
                }
            }
            else if (!index.TryGetOffset(out var rank, out var offset) || offset != 0 || !SameSize(rank, dims[i].Rank) || rank == block.Rank)
            {
                Report(DiagnosticDescriptors.BadInit(e.Target.Indices[i].Span, $"Write {InitExample(t, block.Rank)}: the init covers every point of the other ranks."));
                return;
            }
        }
        t.Init = e;
    }

    private static string InitExample(TensorBuilder t, string blockRank) =>
        $"'init {t.Name}[{string.Join(",", t.Dims!.Select((d, i) => i == t.CarriedDim ? "0" : d.Rank))}] = ...'";

    private bool SameSize(string a, string b) => a == b || SizeName(a) == SizeName(b);

    private string SizeOf(string rank) => SizeName(rank);

    // ---- index expressions -------------------------------------------------------------------

    private IndexExpr? BindIndex(ExpressionSyntax syntax, bool lhs)
    {
        switch (syntax)
        {
            case NumberSyntax n:
                if (Math.Floor(n.Value) != n.Value || Math.Abs(n.Value) > 1e15)
                {
                    Report(DiagnosticDescriptors.BadIndexExpression(n.Span, $"Subscripts are integers; '{n.Text}' is not."));
                    return null;
                }
                return new IndexConstant((long)n.Value);
            case NameExpressionSyntax name:
                var text = name.Name.Text;
                if (_ranks.ContainsKey(text)) return new IndexVariable(text);
                if (text.Length > 0 && char.IsUpper(text[0]) && _ranks.ContainsKey(text.ToLowerInvariant()))
                {
                    _writtenSizes.Add(text);
                    return new IndexSize(text);
                }
                Report(DiagnosticDescriptors.UnknownName(name.Span, text, IsIndexName(text)
                    ? $"a subscript uses the index of a rank declared on a tensor (e.g. 'p' in 'input Q[p,e]')"
                    : $"a size is the upper-case name of a rank ('{text.ToLowerInvariant()}' would need to appear as a rank)"));
                return null;
            case ParenthesizedSyntax p:
                return BindIndex(p.Inner, lhs);
            case UnarySyntax { Operator: TokenKind.Minus } u:
                var operand = BindIndex(u.Operand, lhs);
                if (operand is null) return null;
                return operand is IndexConstant c ? new IndexConstant(-c.Value) : new IndexBinary(IndexOperator.Subtract, new IndexConstant(0), operand);
            case BinarySyntax { Operator: TokenKind.Plus or TokenKind.Minus or TokenKind.Star or TokenKind.Slash or TokenKind.Percent } b:
                var left = BindIndex(b.Left, lhs);
                var right = BindIndex(b.Right, lhs);
                if (left is null || right is null) return null;
                var op = b.Operator switch
                {
                    TokenKind.Plus => IndexOperator.Add,
                    TokenKind.Minus => IndexOperator.Subtract,
                    TokenKind.Star => IndexOperator.Multiply,
                    TokenKind.Slash => IndexOperator.Divide,
                    _ => IndexOperator.Modulo,
                };
                if (op is IndexOperator.Divide or IndexOperator.Modulo && !(right is IndexSize || right is IndexConstant { Value: > 0 }))
                {
                    var sign = op == IndexOperator.Divide ? "/" : "%";
                    Report(DiagnosticDescriptors.BadIndexExpression(b.Right.Span, $"A subscript divides only by a positive integer or a size (e.g. 'h {sign} G' with G a size, or 'h {sign} 2'); compute other divisors' results into a tensor."));
                    return null;
                }
                return new IndexBinary(op, left, right);
            default:
                Report(DiagnosticDescriptors.BadIndexExpression(syntax.Span, "A subscript is built from indices, sizes and integers with +, -, *, / and % (floor division and remainder by a positive integer or a size); compute other values on the right-hand side."));
                return null;
        }
    }

    private Comparison? BindComparison(ComparisonSyntax c, HashSet<string>? allowed)
    {
        var left = BindIndex(c.Left, lhs: false);
        var right = BindIndex(c.Right, lhs: false);
        if (left is null || right is null) return null;
        var op = c.Operator switch
        {
            TokenKind.Less => ComparisonOperator.Less,
            TokenKind.LessEqual => ComparisonOperator.LessEqual,
            TokenKind.Greater => ComparisonOperator.Greater,
            TokenKind.GreaterEqual => ComparisonOperator.GreaterEqual,
            TokenKind.Equal => ComparisonOperator.Equal,
            _ => ComparisonOperator.NotEqual,
        };
        return new Comparison(left, op, right);
    }

    // ---- Einsums -------------------------------------------------------------------------------

    private sealed class EinsumContext
    {
        public readonly List<string> Variables = new();
        public readonly List<(string Rank, bool InDivisor)> Uses = new();
        public bool HasRead;
    }

    private ExtendedEinsum? BindEinsum(EinsumItem item, List<BlockItem> blocks, int id)
    {
        var e = item.Syntax;
        var target = _tensors[e.Target.Name.Text].Built!;
        var ctx = new EinsumContext();
        var blockRank = item.Block is { } b ? blocks[b].Rank : null;

        var outputIndices = new List<IndexExpr>();
        foreach (var s in e.Target.Indices)
        {
            var index = BindIndex(s, lhs: true)!;
            outputIndices.Add(index);
            foreach (var v in index.Variables())
                if (!ctx.Variables.Contains(v)) ctx.Variables.Add(v);
        }
        var lhsRanks = ctx.Variables.ToList();

        ReductionSyntax? reduction = e.Body as ReductionSyntax;
        var bodySyntax = reduction?.Operand ?? e.Body;
        var body = BindExpression(bodySyntax, ctx, inDivisor: false);
        if (body is null) return null;

        var filters = new List<Comparison>();
        if (e.Where is { } where)
        {
            foreach (var c in where.Comparisons)
            {
                var bound = BindComparison(c, null);
                if (bound is null) return null;
                foreach (var v in bound.Left.Variables().Concat(bound.Right.Variables()))
                {
                    if (!ctx.Variables.Contains(v))
                    {
                        Report(DiagnosticDescriptors.FilterRank(c.Span, v, target.Name));
                        return null;
                    }
                }
                filters.Add(bound);
            }
        }

        // Output ranks must appear on the right, unless the right-hand side is a constant fill.
        // A rank used only by the filter counts as used: the filter masks the points along it.
        var rhsRanks = ctx.Uses.Select(u => u.Rank).Concat(filters.SelectMany(f => f.Left.Variables().Concat(f.Right.Variables()))).Distinct().ToList();
        if (ctx.HasRead || rhsRanks.Count > 0)
        {
            foreach (var r in lhsRanks)
            {
                if (!rhsRanks.Contains(r))
                {
                    var at = e.Target.Indices.First(s => BindIndex(s, lhs: true)!.Variables().Contains(r));
                    Report(DiagnosticDescriptors.OutputRankMissing(at.Span, target.Name, r));
                    return null;
                }
            }
        }

        var reduced = ctx.Variables.Where(v => !lhsRanks.Contains(v)).ToList();
        ReduceOperator? reduceOp = null;
        var implicitReduction = false;
        if (reduction is not null)
        {
            reduceOp = reduction.Operator.Text switch
            {
                "sum" => ReduceOperator.Sum,
                "max" => ReduceOperator.Max,
                "min" => ReduceOperator.Min,
                "prod" => ReduceOperator.Prod,
                _ => ReduceOperator.LogSumExp,
            };
            var listed = new List<string>();
            foreach (var r in reduction.Ranks)
            {
                if (listed.Contains(r.Text))
                {
                    Report(DiagnosticDescriptors.ReductionRanks(r.Span, $"Rank '{r.Text}' is listed twice; list it once."));
                    return null;
                }
                if (lhsRanks.Contains(r.Text))
                {
                    Report(DiagnosticDescriptors.ReductionRanks(r.Span, $"Rank '{r.Text}' is on the left-hand side, so it is kept, not reduced; remove it from '{reduction.Operator.Text}[...]' or from '{target.Name}'."));
                    return null;
                }
                if (!ctx.Variables.Contains(r.Text))
                {
                    Report(DiagnosticDescriptors.ReductionRanks(r.Span, $"Rank '{r.Text}' does not appear in the reduced expression; remove it from '{reduction.Operator.Text}[...]'."));
                    return null;
                }
                listed.Add(r.Text);
            }
            foreach (var r in reduced)
            {
                if (!listed.Contains(r))
                {
                    Report(DiagnosticDescriptors.ReductionRanks(reduction.Operator.Span.Union(reduction.Ranks.Count > 0 ? reduction.Ranks[reduction.Ranks.Count - 1].Span : reduction.Operator.Span),
                        $"Rank '{r}' appears on the right but not on the left, so it is reduced too; write '{reduction.Operator.Text}[{string.Join(", ", listed.Concat(new[] { r }))}]', or add '{r}' to '{target.Name}'."));
                    return null;
                }
            }
            if (reduced.Count == 0)
            {
                Report(DiagnosticDescriptors.ReductionRanks(reduction.Operator.Span, $"'{reduction.Operator.Text}' needs at least one rank to reduce over."));
                return null;
            }
        }
        else if (reduced.Count > 0)
        {
            reduceOp = ReduceOperator.Sum;
            implicitReduction = true;
        }

        foreach (var r in reduced)
        {
            var uses = ctx.Uses.Where(u => u.Rank == r).ToList();
            if (uses.Count > 0 && uses.All(u => u.InDivisor))
            {
                Report(DiagnosticDescriptors.DivisorOnlyRank(e.Body.Span, r));
                return null;
            }
        }

        if (blockRank is not null && !e.IsInit && !ctx.Variables.Contains(blockRank))
        {
            Report(DiagnosticDescriptors.BadIterate(e.Span, $"This Einsum does not use '{blockRank}', so it does not belong in 'iterate {blockRank}'; move it before the block."));
            return null;
        }
        return new ExtendedEinsum(id, target, outputIndices, ctx.Variables.ToList(), reduced, reduceOp, implicitReduction, body, filters,
            e.IsInit, blockRank, e.Text, e.Span);
    }

    private Expr? BindExpression(ExpressionSyntax syntax, EinsumContext ctx, bool inDivisor)
    {
        switch (syntax)
        {
            case NumberSyntax n:
                return new Constant(n.Value);
            case ParenthesizedSyntax p:
                return BindExpression(p.Inner, ctx, inDivisor);
            case UnarySyntax u:
            {
                var operand = BindExpression(u.Operand, ctx, inDivisor);
                if (operand is null) return null;
                return operand is Constant c ? new Constant(-c.Value) : new Unary(UnaryFunction.Negate, operand);
            }
            case BinarySyntax { Operator: TokenKind.Percent } m:
                Report(new Diagnostic("KRN0002", DiagnosticSeverity.Error, m.Span, "'%' is the remainder of a subscript (e.g. 'X[h % G, e]'); a value has no remainder operator."));
                return null;
            case BinarySyntax b:
            {
                var left = BindExpression(b.Left, ctx, inDivisor);
                var right = BindExpression(b.Right, ctx, inDivisor || b.Operator == TokenKind.Slash);
                if (left is null || right is null) return null;
                var op = b.Operator switch
                {
                    TokenKind.Plus => BinaryOperator.Add,
                    TokenKind.Minus => BinaryOperator.Subtract,
                    TokenKind.Star => BinaryOperator.Multiply,
                    TokenKind.Caret => BinaryOperator.Power,
                    _ => BinaryOperator.Divide,
                };
                return new Binary(op, left, right);
            }
            case ReductionSyntax r:
                Report(DiagnosticDescriptors.NestedReduction(r.Operator.Span, r.Operator.Text));
                return null;
            case CallSyntax call:
                return BindCall(call, ctx, inDivisor);
            case NameExpressionSyntax name:
                return BindName(name, ctx, inDivisor);
            case AccessSyntax access:
                return BindAccess(access, ctx, inDivisor);
            default:
                Report(DiagnosticDescriptors.InternalError($"unexpected syntax {syntax.GetType().Name}"));
                return null;
        }
    }

    private Expr? BindCall(CallSyntax call, EinsumContext ctx, bool inDivisor)
    {
        var name = call.Function.Text;
        if (name is "max" or "min" or "pow")
        {
            if (call.Arguments.Count != 2)
            {
                Report(DiagnosticDescriptors.WrongArity(call.Span, name, 2, call.Arguments.Count));
                return null;
            }
            var a = BindExpression(call.Arguments[0], ctx, inDivisor);
            var b = BindExpression(call.Arguments[1], ctx, inDivisor);
            if (a is null || b is null) return null;
            return new Binary(name switch { "max" => BinaryOperator.Max, "min" => BinaryOperator.Min, _ => BinaryOperator.Power }, a, b);
        }
        if (!UnaryFunctions.TryGetValue(name, out var function))
        {
            if (name is "sum" or "prod" or "logsumexp")
                Report(DiagnosticDescriptors.UnknownFunction(call.Function.Span, name, $"{FunctionList}; a reduction names its ranks in brackets: '{name}[m] X[m,p]'"));
            else
                Report(DiagnosticDescriptors.UnknownFunction(call.Function.Span, name, FunctionList));
            return null;
        }
        if (call.Arguments.Count != 1)
        {
            Report(DiagnosticDescriptors.WrongArity(call.Span, name, 1, call.Arguments.Count));
            return null;
        }
        var operand = BindExpression(call.Arguments[0], ctx, inDivisor);
        return operand is null ? null : new Unary(function, operand);
    }

    private void Use(EinsumContext ctx, IEnumerable<string> ranks, bool inDivisor)
    {
        foreach (var r in ranks)
        {
            if (!ctx.Variables.Contains(r)) ctx.Variables.Add(r);
            ctx.Uses.Add((r, inDivisor));
        }
    }

    private Expr? BindName(NameExpressionSyntax name, EinsumContext ctx, bool inDivisor)
    {
        var text = name.Name.Text;
        if (text == "inf") return new Constant(double.PositiveInfinity);
        if (text == "pi") return new Constant(Math.PI);
        if (_tensors.TryGetValue(text, out var t))
        {
            if (t.Built!.Rank != 0)
            {
                Report(DiagnosticDescriptors.ScalarMisuse(name.Span, $"'{text}' has ranks [{string.Join(",", t.Built.Dims.Select(d => d.Rank))}]; index it: {text}[{string.Join(",", t.Built.Dims.Select(d => d.Rank))}]."));
                return null;
            }
            t.IsRead = true;
            ctx.HasRead = true;
            return new TensorRead(t.Built, Array.Empty<IndexExpr>());
        }
        if (_ranks.ContainsKey(text))
        {
            Use(ctx, new[] { text }, inDivisor);
            return new IndexValue(new IndexVariable(text));
        }
        if (text.Length > 0 && char.IsUpper(text[0]) && _ranks.ContainsKey(text.ToLowerInvariant()))
            return new SizeValue(text);
        Report(DiagnosticDescriptors.UnknownName(name.Span, text, IsIndexName(text)
            ? "it is neither a tensor nor the index of a rank used in a subscript"
            : "it is neither a tensor nor the size of a rank (sizes are the upper-case names of indices, e.g. E for e)"));
        return null;
    }

    private Expr? BindAccess(AccessSyntax access, EinsumContext ctx, bool inDivisor)
    {
        var text = access.Name.Text;
        if (!_tensors.TryGetValue(text, out var t))
        {
            Report(DiagnosticDescriptors.UnknownTensor(access.Name.Span, text));
            return null;
        }
        var tensor = t.Built!;
        if (access.Indices.Count != tensor.Rank)
        {
            Report(DiagnosticDescriptors.RankMismatch(access.Span, tensor.Rank == 0
                ? $"'{text}' is a scalar; write '{text}' without subscripts."
                : $"'{text}' has {tensor.Rank} rank{(tensor.Rank == 1 ? "" : "s")} [{string.Join(",", tensor.Dims.Select(d => d.Rank))}] but is indexed with {access.Indices.Count}; write {text}[{string.Join(",", tensor.Dims.Select(d => d.Rank))}]."));
            return null;
        }
        var indices = new List<IndexExpr>();
        for (var i = 0; i < access.Indices.Count; i++)
        {
            var index = BindIndex(access.Indices[i], lhs: false);
            if (index is null) return null;
            // A plain index must range over the same size as the dimension it subscripts.
            if (index is IndexVariable v && !SameSize(v.Rank, tensor.Dims[i].Rank))
            {
                Report(DiagnosticDescriptors.RankMismatch(access.Indices[i].Span, $"Dimension {i} of '{text}' ranges over {SizeOf(tensor.Dims[i].Rank)}, but it is indexed with '{v.Rank}', which ranges over {SizeOf(v.Rank)}; use an index of that rank (e.g. '{tensor.Dims[i].Rank}')."));
                return null;
            }
            indices.Add(index);
            Use(ctx, index.Variables(), inDivisor);
        }
        t.IsRead = true;
        ctx.HasRead = true;
        return new TensorRead(tensor, indices);
    }

    // ---- loop-carried tensors, usage -------------------------------------------------------------

    private void CheckCarriedTensors(List<BlockItem> blocks)
    {
        foreach (var block in blocks)
        {
            foreach (var item in block.Items)
            {
                if (item.Bound is null || item.Syntax.IsInit) continue;
                foreach (var read in item.Bound.Reads())
                {
                    var t = _tensors[read.Tensor.Name];
                    if (t.WriterBlock != blocks.IndexOf(block) || t.Dims is null) continue;
                    // Which step of the block rank does the read refer to?
                    var dim = t.Dims.FindIndex(d => d.Rank == block.Rank || SameSize(d.Rank, block.Rank));
                    if (dim < 0 || !read.Indices[dim].TryGetOffset(out var rank, out var offset) || rank != block.Rank) continue;
                    var written = t.Dims[dim].Offset;
                    if (offset > written)
                    {
                        Report(DiagnosticDescriptors.FutureRead(item.Syntax.Span, t.Name, block.Rank));
                        continue;
                    }
                    if (t.CarriedDim is not null && offset < written && t.Init is null)
                    {
                        Report(DiagnosticDescriptors.MissingInit(t.Writer!.Target.Span, t.Name, block.Rank, InitExample(t, block.Rank).Trim('\'')));
                        t.Init = t.Writer; // report once
                    }
                }
            }
        }
    }

    private void CheckUsage()
    {
        var anyOutput = false;
        foreach (var t in _tensorOrder.Select(n => _tensors[n]))
        {
            switch (t.Role)
            {
                case TensorRole.Output:
                    anyOutput = true;
                    if (t.Writer is null) Report(DiagnosticDescriptors.OutputNeverWritten(t.Span, t.Name));
                    break;
                case TensorRole.Input:
                    if (!t.IsRead) Report(DiagnosticDescriptors.UnusedInput(t.Span, t.Name));
                    break;
                default:
                    if (!t.IsRead) Report(DiagnosticDescriptors.UnusedTensor(t.Span, t.Name));
                    break;
            }
        }
        if (!anyOutput) Report(DiagnosticDescriptors.NoOutputs(default));
    }

    // ---- evaluation order ------------------------------------------------------------------------

    private List<CascadeStep>? Order(List<EinsumItem> items, List<BlockItem> blocks)
    {
        // Nodes: each top-level Einsum and each block. Edges follow the tensors they read, except
        // reads of a loop-carried value from the previous step inside the block that writes it.
        var nodes = new List<(int Order, EinsumItem? Item, BlockItem? Block)>();
        foreach (var item in items.Where(i => i.Block is null)) nodes.Add((item.Order, item, null));
        foreach (var block in blocks) nodes.Add((block.Items.Count > 0 ? block.Items.Min(i => i.Order) : int.MaxValue, null, block));
        nodes.Sort((a, b) => a.Order.CompareTo(b.Order));

        var writerNode = new Dictionary<string, int>();
        for (var n = 0; n < nodes.Count; n++)
        {
            var members = nodes[n].Item is { } single ? new[] { single } : nodes[n].Block!.Items.ToArray();
            foreach (var m in members) writerNode[m.Bound!.Output.Name] = n;
        }
        var deps = new List<HashSet<int>>();
        for (var n = 0; n < nodes.Count; n++)
        {
            var set = new HashSet<int>();
            var members = nodes[n].Item is { } single ? new[] { single } : nodes[n].Block!.Items.ToArray();
            foreach (var m in members)
                foreach (var read in m.Bound!.Reads())
                    if (writerNode.TryGetValue(read.Tensor.Name, out var w) && (w != n || nodes[n].Block is null))
                        set.Add(w);
            deps.Add(set);
        }
        var order = TopologicalOrder(nodes.Count, deps, n => nodes[n].Item is { } i ? i.Syntax.Span : nodes[n].Block!.Syntax.Span,
            n => nodes[n].Item is { } i ? i.Bound!.Output.Name : "iterate " + nodes[n].Block!.Rank);
        if (order is null) return null;

        var steps = new List<CascadeStep>();
        foreach (var n in order)
        {
            if (nodes[n].Item is { } item)
            {
                steps.Add(new CascadeStep(item.Bound, null));
                continue;
            }
            var block = nodes[n].Block!;
            var body = block.Items.Where(i => !i.Syntax.IsInit).ToList();
            var inits = block.Items.Where(i => i.Syntax.IsInit).Select(i => i.Bound!).ToList();
            var inner = new List<HashSet<int>>();
            foreach (var reader in body)
            {
                var set = new HashSet<int>();
                foreach (var read in reader.Bound!.Reads())
                {
                    var w = body.FindIndex(i => i.Bound!.Output.Name == read.Tensor.Name);
                    if (w < 0) continue;
                    if (IsSameStepRead(read, body[w].Bound!, block.Rank)) set.Add(w);
                }
                inner.Add(set);
            }
            var innerOrder = TopologicalOrder(body.Count, inner, i => body[i].Syntax.Span, i => body[i].Bound!.Output.Name);
            if (innerOrder is null) return null;
            if (block.Stop is null) return null;
            steps.Add(new CascadeStep(null, new IterationBlock(block.Rank, block.Stop, inits, innerOrder.Select(i => body[i].Bound!).ToList(), block.Syntax.Span)));
        }
        return steps;
    }

    /// <summary>True when the read refers to the value written in the same step (not the previous one).</summary>
    internal static bool IsSameStepRead(TensorRead read, ExtendedEinsum writer, string blockRank)
    {
        for (var d = 0; d < writer.OutputIndices.Count; d++)
        {
            if (!writer.OutputIndices[d].TryGetOffset(out var rank, out var writtenAt) || rank != blockRank) continue;
            return read.Indices[d].TryGetOffset(out var readRank, out var readAt) && readRank == blockRank && readAt == writtenAt;
        }
        return true;
    }

    private List<int>? TopologicalOrder(int count, List<HashSet<int>> deps, Func<int, SourceSpan> span, Func<int, string> label)
    {
        var order = new List<int>();
        var done = new bool[count];
        while (order.Count < count)
        {
            var progress = false;
            for (var n = 0; n < count; n++)
            {
                if (done[n] || deps[n].Any(d => !done[d])) continue;
                done[n] = true;
                order.Add(n);
                progress = true;
                break; // restart from the top: keeps the written order wherever the data allows
            }
            if (progress) continue;

            // A cycle: follow unfinished dependencies from the first stuck node until one repeats.
            var start = Enumerable.Range(0, count).First(n => !done[n]);
            var path = new List<int> { start };
            var current = start;
            while (true)
            {
                current = deps[current].First(d => !done[d]);
                var at = path.IndexOf(current);
                if (at >= 0)
                {
                    var cycle = path.Skip(at).Concat(new[] { current }).Select(label);
                    Report(DiagnosticDescriptors.Cycle(span(path[at]), string.Join(" -> ", cycle.Reverse())));
                    return null;
                }
                path.Add(current);
            }
        }
        return order;
    }
}
