using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Ir;

namespace Kernels.Einsum.Planning;

/// <summary>
/// The exponentials whose argument is never positive by construction: <c>exp(x - B)</c> where B is a maximum (or a
/// log-sum-exp) that x is one of the terms of, as softmax and attention subtract a row's maximum before the exp
/// (<c>exp(S - max[n] S)</c>, <c>exp(BQK - RM)</c> with <c>RM = max(RM_prev, max[m0] BQK)</c>, the correction factor
/// <c>exp(RM_prev - RM)</c>). Their vector exp is clamped only below (<c>ISimdFloat.ExpNonPositive</c>): one operation of
/// the fourteen an exp sweep spends per vector. Found from the cascade's structure alone.
/// </summary>
/// <remarks>
/// <para>x - B is at most 0 wherever both are present: B's Einsum writes B at the same indices (so its output ranks are
/// the reader's), and either reduces x itself with max or logsumexp over ranks the reader also runs, with no filter the
/// reader lacks (every x the reader sees is one of B's terms), or is a pointwise max one of whose operands is x or is
/// such a bound of x. NaN stays NaN (a NaN term makes the maximum NaN), and x = B = -inf gives NaN as the two-sided clamp
/// does; -inf alone gives 0.</para>
/// <para>Each point of a tensor is written once, so a read names the same value in the reader and in B's Einsum, which
/// runs before the reader.</para>
/// </remarks>
public static class ExpBounds
{
    /// <summary>The exps of <paramref name="cascade"/> whose argument is at most 0, as (Einsum id, the exp as printed).</summary>
    public static ISet<(int Einsum, string Exp)> NonPositive(Cascade cascade)
    {
        if (cascade is null) throw new ArgumentNullException(nameof(cascade));
        var order = cascade.Einsums.Select((e, i) => (e, i)).ToDictionary(p => p.e.Id, p => p.i);
        var found = new HashSet<(int, string)>();
        foreach (var e in cascade.Einsums)
        {
            void Walk(Expr x)
            {
                switch (x)
                {
                    case Unary { Function: UnaryFunction.Exp or UnaryFunction.Exp2, Operand: Binary { Operator: BinaryOperator.Subtract, Left: var value, Right: TensorRead bound } } exp
                        when Bounds(cascade, order, e, e, bound, value.ToString(), 0):
                        found.Add((e.Id, exp.ToString()));
                        Walk(exp.Operand);
                        break;
                    case Unary u:
                        Walk(u.Operand);
                        break;
                    case Binary b:
                        Walk(b.Left);
                        Walk(b.Right);
                        break;
                }
            }
            Walk(e.Body);
        }
        return found;
    }

    /// <summary>
    /// True when <paramref name="bound"/> is at least the value printed <paramref name="value"/> at every point where
    /// <paramref name="reader"/> (the exp's Einsum) reads both; <paramref name="via"/> is the Einsum that reads
    /// <paramref name="bound"/> (the reader, or a pointwise max on the way to the maximum of the value).
    /// </summary>
    private static bool Bounds(Cascade cascade, IReadOnlyDictionary<int, int> order, ExtendedEinsum reader, ExtendedEinsum via, TensorRead bound, string value, int depth)
    {
        if (depth > 8) return false;
        var writers = cascade.Einsums.Where(x => !x.IsInit && x.Output.Name == bound.Tensor.Name).ToList();
        if (writers.Count != 1) return false;
        var w = writers[0];
        if (order[w.Id] >= order[via.Id]) return false;
        // Written at the indices it is read at: B's output ranks are the reader's own.
        if (!w.OutputIndices.Select(i => i.ToString()).SequenceEqual(bound.Indices.Select(i => i.ToString()), StringComparer.Ordinal)) return false;
        // No point of the value that the reader sees is left out by a filter of B's Einsum.
        var readerFilters = new HashSet<string>(reader.Filters.Select(f => f.ToString()), StringComparer.Ordinal);
        if (w.Filters.Any(f => !readerFilters.Contains(f.ToString()))) return false;
        if (w.Reduction is ReduceOperator.Max or ReduceOperator.LogSumExp)
            return w.ReducedRanks.All(reader.Ranks.Contains) && w.Body.ToString() == value;
        if (w.Reduction is not null) return false;
        foreach (var term in Terms(w.Body))
        {
            if (term.ToString() == value) return true;
            if (term is TensorRead read && Bounds(cascade, order, reader, w, read, value, depth + 1)) return true;
        }
        return false;
    }

    /// <summary>What a pointwise Einsum's value is at least: each operand of a max (nested maxes flattened), or the
    /// body itself.</summary>
    private static IEnumerable<Expr> Terms(Expr x) => x is Binary { Operator: BinaryOperator.Max } b ? Terms(b.Left).Concat(Terms(b.Right)) : new[] { x };
}
