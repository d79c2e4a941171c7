using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Diagnostics;
using Kernels.Einsum.Ir;
using Kernels.Einsum.Syntax;

namespace Kernels.Einsum.Binding;

/// <summary>Binding of declarations: tensors, ranks, partitions, index aliases and the names of sizes.</summary>
internal sealed partial class Binder
{
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
                    case "i32" when !declaration.IsOutput: type = ElementType.Int32; break;
                    case "i32": Report(DiagnosticDescriptors.IntegerOutput(typeName.Span, t.Name.Text)); break;
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

    /// <summary><c>size W</c>: a rank <c>w</c> that no tensor has, so that its size is a parameter of the kernel that
    /// subscripts and filters can use.</summary>
    private void BindSizes(SizeStatementSyntax s)
    {
        foreach (var size in s.Sizes)
        {
            var index = size.Text.ToLowerInvariant();
            if (size.Text.Length == 0 || !char.IsUpper(size.Text[0]) || !IsIndexName(index))
            {
                Report(DiagnosticDescriptors.RankMismatch(size.Span, $"Sizes are upper case; write 'size {size.Text.ToUpperInvariant()}'."));
                continue;
            }
            if (_ranks.ContainsKey(index))
            {
                Report(DiagnosticDescriptors.NameConflict(size.Span, $"'{size.Text}' is already the size of rank '{index}'; 'size' declares only sizes that no tensor has, so remove it here."));
                continue;
            }
            _writtenSizes.Add(size.Text);
            RegisterRank(index);
        }
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
}
