using System.Collections.Generic;
using System.Linq;

namespace Kernels.Einsum.Ir;

/// <summary>
/// An index expression as a sum of ranks times coefficients plus a constant, where the coefficients and the constant
/// mention no rank (numbers and sizes): <c>m1*M0 + m0 - p - M + P</c> is <c>M0*m1 + 1*m0 + (-1)*p + (P - M)</c>. The
/// range of such an expression over a box of ranks is known from the box's corners, which is how a kernel tells that a
/// filter holds over a whole tile, or nowhere in it.
/// </summary>
public static class IndexAffine
{
    /// <summary>True when <paramref name="e"/> is affine in its ranks; <paramref name="terms"/> then holds each rank once
    /// with its coefficient, in order of appearance.</summary>
    /// <param name="e">The expression.</param>
    /// <param name="terms">Each rank with its coefficient.</param>
    /// <param name="constant">The part that mentions no rank.</param>
    /// <param name="fixedRanks">Ranks that hold one value wherever the caller uses the result (a step's batch and head): a
    /// tensor read only at those (<c>LEN[b]</c>) is then part of the constant, as a size is. Without them a read is not affine.</param>
    public static bool TryLinear(IndexExpr e, out List<(string Rank, IndexExpr Coefficient)> terms, out IndexExpr constant, IReadOnlyCollection<string>? fixedRanks = null)
    {
        bool Linear(IndexExpr x, out List<(string Rank, IndexExpr Coefficient)> t, out IndexExpr c) => TryLinear(x, out t, out c, fixedRanks);
        terms = new List<(string, IndexExpr)>();
        constant = new IndexConstant(0);
        switch (e)
        {
            case IndexConstant or IndexSize:
                constant = e;
                return true;
            case IndexRead read when fixedRanks is not null && read.Variables().All(fixedRanks.Contains):
                constant = read;
                return true;
            case IndexVariable v:
                terms.Add((v.Rank, new IndexConstant(1)));
                return true;
            case IndexBinary { Operator: IndexOperator.Add or IndexOperator.Subtract } b:
            {
                if (!Linear(b.Left, out var lt, out var lc) || !Linear(b.Right, out var rt, out var rc)) return false;
                var op = b.Operator;
                terms = lt;
                foreach (var (rank, c) in rt)
                {
                    var i = terms.FindIndex(t => t.Rank == rank);
                    if (i < 0) terms.Add((rank, op == IndexOperator.Add ? c : Combine(IndexOperator.Subtract, new IndexConstant(0), c)));
                    else terms[i] = (rank, Combine(op, terms[i].Coefficient, c));
                }
                terms.RemoveAll(t => t.Coefficient is IndexConstant { Value: 0 });
                constant = Combine(op, lc, rc);
                return true;
            }
            case IndexBinary { Operator: IndexOperator.Multiply } b:
            {
                if (!Linear(b.Left, out var lt, out var lc) || !Linear(b.Right, out var rt, out var rc)) return false;
                if (lt.Count > 0 && rt.Count > 0) return false; // a product of ranks
                var (scaled, factor) = lt.Count > 0 ? (lt, rc) : (rt, lc);
                terms = scaled.Select(t => (t.Rank, Combine(IndexOperator.Multiply, t.Coefficient, factor)))
                    .Where(t => t.Item2 is not IndexConstant { Value: 0 }).ToList();
                constant = Combine(IndexOperator.Multiply, lc, rc);
                return true;
            }
            case IndexBinary b:
                // Floor division and modulo: affine only when no rank is involved.
                if (b.Variables().Count > 0) return false;
                constant = b;
                return true;
            default:
                return false;
        }
    }

    /// <summary>a op b, folding numbers and dropping terms that add 0 or multiply by 1.</summary>
    private static IndexExpr Combine(IndexOperator op, IndexExpr a, IndexExpr b)
    {
        if (a is IndexConstant x && b is IndexConstant y) return new IndexConstant(IndexArithmetic.Apply(op, x.Value, y.Value));
        return op switch
        {
            IndexOperator.Add when a is IndexConstant { Value: 0 } => b,
            IndexOperator.Add or IndexOperator.Subtract when b is IndexConstant { Value: 0 } => a,
            IndexOperator.Multiply when a is IndexConstant { Value: 0 } || b is IndexConstant { Value: 0 } => new IndexConstant(0),
            IndexOperator.Multiply when a is IndexConstant { Value: 1 } => b,
            IndexOperator.Multiply when b is IndexConstant { Value: 1 } => a,
            _ => new IndexBinary(op, a, b),
        };
    }
}
