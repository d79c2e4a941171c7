using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Diagnostics;
using Kernels.Einsum.Ir;
using Kernels.Einsum.Syntax;

namespace Kernels.Einsum.Binding;

/// <summary>Binding of subscripts (index expressions and filters), Einsums and the expressions of their right-hand sides.</summary>
internal sealed partial class Binder
{
    // ---- index expressions -------------------------------------------------------------------

    /// <param name="syntax">The subscript or side of a comparison.</param>
    /// <param name="lhs">True on the left-hand side of an Einsum.</param>
    /// <param name="inFilter">True in a filter, which may read an input's value (<c>where m &lt; LEN[b]</c>).</param>
    private IndexExpr? BindIndex(ExpressionSyntax syntax, bool lhs, bool inFilter = false)
    {
        switch (syntax)
        {
            case AccessSyntax access:
                return BindValueRead(access.Name, access.Indices, access.Span, inFilter);
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
                if (_tensors.ContainsKey(text)) return BindValueRead(name.Name, Array.Empty<ExpressionSyntax>(), name.Span, inFilter);
                Report(DiagnosticDescriptors.UnknownName(name.Span, text, IsIndexName(text)
                    ? $"a subscript uses the index of a rank declared on a tensor (e.g. 'p' in 'input Q[p,e]')"
                    : $"a size is the upper-case name of a rank ('{text.ToLowerInvariant()}' would need to appear as a rank)"));
                return null;
            case ParenthesizedSyntax p:
                return BindIndex(p.Inner, lhs, inFilter);
            case UnarySyntax { Operator: TokenKind.Minus } u:
                var operand = BindIndex(u.Operand, lhs, inFilter);
                if (operand is null) return null;
                return operand is IndexConstant c ? new IndexConstant(-c.Value) : new IndexBinary(IndexOperator.Subtract, new IndexConstant(0), operand);
            case BinarySyntax { Operator: TokenKind.Plus or TokenKind.Minus or TokenKind.Star or TokenKind.Slash or TokenKind.Percent } b:
                var left = BindIndex(b.Left, lhs, inFilter);
                var right = BindIndex(b.Right, lhs, inFilter);
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

    /// <summary>
    /// An input's value in a filter (<c>where m1*M0 + m0 &lt; LEN[b]</c>: each sequence's key length), read at the ranks the
    /// input is declared with, so that the read is always in range; anywhere else a diagnostic that says where values go.
    /// </summary>
    private IndexExpr? BindValueRead(NameSyntax name, IReadOnlyList<ExpressionSyntax> indices, SourceSpan span, bool inFilter)
    {
        if (!_tensors.TryGetValue(name.Text, out var t))
        {
            Report(DiagnosticDescriptors.UnknownName(name.Span, name.Text, "a filter reads an input declared with 'input', e.g. 'input LEN[b]' and 'where m < LEN[b]'"));
            return null;
        }
        if (!inFilter)
        {
            Report(DiagnosticDescriptors.BadIndexExpression(span, $"A subscript or a stop condition cannot read '{name.Text}''s values; only a filter can ('where m < {name.Text}{(t.Dims is { Count: > 0 } d ? $"[{string.Join(",", d.Select(x => x.Rank))}]" : "")}'). Build subscripts from indices, sizes and integers."));
            return null;
        }
        if (t.Role != TensorRole.Input)
        {
            Report(DiagnosticDescriptors.BadIndexExpression(span, $"A filter reads the values of inputs only; '{name.Text}' is computed by the cascade. Declare the bound as an input ('input {name.Text}[...]') and compute it before the call."));
            return null;
        }
        var dims = t.Dims ?? new List<TensorDim>();
        var declared = dims.Count == 0 ? name.Text : $"{name.Text}[{string.Join(",", dims.Select(x => x.Rank))}]";
        if (indices.Count != dims.Count || indices.Where((s, d) => s is not NameExpressionSyntax n || n.Name.Text != dims[d].Rank).Any())
        {
            Report(DiagnosticDescriptors.BadIndexExpression(span, $"A filter reads '{name.Text}' at the ranks it is declared with, so that every read is in range: write '{declared}'."));
            return null;
        }
        t.IsRead = true;
        return new IndexRead(name.Text, dims.Select(x => (IndexExpr)new IndexVariable(x.Rank)).ToList());
    }

    private Comparison? BindComparison(ComparisonSyntax c, HashSet<string>? allowed)
    {
        // A stop condition names the ranks it may use; a filter (no list) may read inputs' values.
        var left = BindIndex(c.Left, lhs: false, inFilter: allowed is null);
        var right = BindIndex(c.Right, lhs: false, inFilter: allowed is null);
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
}
