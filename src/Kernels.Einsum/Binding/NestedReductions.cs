using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Syntax;

namespace Kernels.Einsum.Binding;

/// <summary>
/// A reduction written inside an expression (<c>Y[p] = log(sum[c] exp(Z[p,c])) - sum[c] T[p,c] * Z[p,c]</c>) becomes an
/// intermediate Einsum of its own, placed just before the statement, and the expression reads that tensor. The
/// intermediate keeps the indices its operand uses and does not reduce, and is named after the statement's target,
/// the operator and a counter (<c>Y_sum1</c>, <c>Y_logsumexp2</c>; a name already in the spec is skipped), so the name
/// is deterministic and is what <c>analyze</c>, diagnostics and the generated code's comments show. Its syntax keeps
/// the spans of what the user wrote, so errors inside it point there. Innermost reductions are lifted first.
/// </summary>
internal static class NestedReductions
{
    public static CascadeSyntax Desugar(CascadeSyntax syntax, string source)
    {
        var names = new HashSet<string>(Identifiers(syntax.Statements));
        var subscripts = new HashSet<string>(Statements(syntax.Statements).OfType<EinsumStatementSyntax>()
            .SelectMany(e => Accesses(e.Body).Append(e.Target)).SelectMany(a => a.Indices).SelectMany(NamesIn).Where(IsIndexName));
        return new CascadeSyntax(Rewrite(syntax.Statements));

        List<StatementSyntax> Rewrite(IReadOnlyList<StatementSyntax> statements)
        {
            var result = new List<StatementSyntax>();
            foreach (var statement in statements)
            {
                switch (statement)
                {
                    case EinsumStatementSyntax e when !e.IsInit:
                    {
                        var lifted = new List<EinsumStatementSyntax>();
                        var counter = 0;
                        ExpressionSyntax Lift(ExpressionSyntax x) => x switch
                        {
                            ReductionSyntax r => Extract(r with { Operand = Lift(r.Operand) }),
                            BinarySyntax b => b with { Left = Lift(b.Left), Right = Lift(b.Right) },
                            UnarySyntax u => u with { Operand = Lift(u.Operand) },
                            ParenthesizedSyntax p => p with { Inner = Lift(p.Inner) },
                            CallSyntax c => c with { Arguments = c.Arguments.Select(Lift).ToList() },
                            _ => x,
                        };
                        AccessSyntax Extract(ReductionSyntax r)
                        {
                            var reduced = new HashSet<string>(r.Ranks.Select(n => n.Text));
                            var target = e.Target.Indices.SelectMany(NamesIn).ToList();
                            var free = NamesIn(r.Operand).Where(n => !reduced.Contains(n) && subscripts.Contains(n)).Distinct()
                                .OrderBy(n => target.IndexOf(n) is var i && i >= 0 ? i : int.MaxValue).ToList();
                            string name;
                            do name = $"{e.Target.Name.Text}_{r.Operator.Text}{++counter}";
                            while (!names.Add(name));
                            ExpressionSyntax Index(string i, SourceSpan at) => new NameExpressionSyntax(new NameSyntax(i, at), at);
                            var head = new AccessSyntax(new NameSyntax(name, r.Operator.Span), free.Select(i => Index(i, r.Operator.Span)).ToList(), r.Operator.Span);
                            var text = $"{name}[{string.Join(",", free)}] = {source.Substring(r.Span.Start, r.Span.Length)}";
                            lifted.Add(new EinsumStatementSyntax(false, head, r, null, text, r.Span));
                            return new AccessSyntax(new NameSyntax(name, r.Span), free.Select(i => Index(i, r.Span)).ToList(), r.Span);
                        }
                        var body = e.Body is ReductionSyntax top ? top with { Operand = Lift(top.Operand) } : Lift(e.Body);
                        result.AddRange(lifted);
                        result.Add(lifted.Count == 0 ? e : e with { Body = body });
                        break;
                    }
                    case IterateStatementSyntax it:
                        result.Add(it with { Body = Rewrite(it.Body) });
                        break;
                    default:
                        result.Add(statement);
                        break;
                }
            }
            return result;
        }
    }

    private static bool IsIndexName(string name) => name.Length > 0 && char.IsLower(name[0]);

    private static IEnumerable<StatementSyntax> Statements(IEnumerable<StatementSyntax> statements) =>
        statements.SelectMany(s => s is IterateStatementSyntax it ? Statements(it.Body).Prepend(s) : new[] { s });

    private static IEnumerable<string> Identifiers(IEnumerable<StatementSyntax> statements) =>
        Statements(statements).SelectMany(s => s switch
        {
            DeclarationStatementSyntax d => d.Tensors.Select(t => t.Name.Text),
            EinsumStatementSyntax e => Accesses(e.Body).Append(e.Target).Select(a => a.Name.Text),
            _ => Enumerable.Empty<string>(),
        });

    /// <summary>Every node of an expression, pre-order, subscripts included.</summary>
    private static IEnumerable<ExpressionSyntax> Nodes(ExpressionSyntax x)
    {
        var children = x switch
        {
            AccessSyntax a => a.Indices,
            BinarySyntax b => new[] { b.Left, b.Right },
            UnarySyntax u => new[] { u.Operand },
            ParenthesizedSyntax p => new[] { p.Inner },
            CallSyntax c => c.Arguments,
            ReductionSyntax r => new[] { r.Operand },
            _ => (IReadOnlyList<ExpressionSyntax>)System.Array.Empty<ExpressionSyntax>(),
        };
        return children.SelectMany(Nodes).Prepend(x);
    }

    private static IEnumerable<AccessSyntax> Accesses(ExpressionSyntax x) => Nodes(x).OfType<AccessSyntax>();

    /// <summary>The lower-case names an expression uses, in subscripts and as values, in order of appearance.</summary>
    private static IEnumerable<string> NamesIn(ExpressionSyntax x) =>
        Nodes(x).OfType<NameExpressionSyntax>().Select(n => n.Name.Text).Where(IsIndexName);
}
