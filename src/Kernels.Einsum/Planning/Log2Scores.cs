using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Ir;

namespace Kernels.Einsum.Planning;

/// <summary>
/// Scores carried in base 2: where a contraction's result (attention's <c>BQK = Q * BK * rsqrt(E)</c>) is used only
/// through maxima of it (<c>LM = max[m0] BQK</c>, <c>RM = max(RM, LM)</c>) and exps of differences of those
/// (<c>exp(BQK - RM)</c>, <c>exp(RM_prev - RM)</c>), the contraction's scale takes a factor log2(e) and the exps become
/// <c>exp2</c>: <c>exp(x - m) = 2^(x log2(e) - m log2(e))</c>, and a maximum of the scaled values is the scaled maximum.
/// The factor costs nothing (it joins the micro-kernel's alpha), and 2^x needs no multiply by log2(e) and reduces its
/// argument by one exact subtraction instead of two multiply-adds: the exp sweep spends five operations on the
/// multiply-add pipes per vector instead of eight (Runtime.SimdExp.ByTable2).
/// </summary>
/// <remarks>
/// <para>The tensors carried in base 2 (the contraction's output and every maximum taken of it, directly or through
/// pointwise maxima) must be intermediates, read nowhere else than in those maxima and in exps of the difference of two
/// of them; an init of one must be a constant no greater than float's lowest (the maximum's identity, which stays
/// below every score in either base). Anything else leaves the cascade as it is.</para>
/// <para>The result is the interpreter's to rounding. Presence is kept: the factor multiplies a present value and an
/// absent one stays absent. One range differs: a score whose magnitude exceeds float's largest divided by log2(e)
/// (2.36e38) overflows to an infinity in base 2 where base e keeps it finite.</para>
/// </remarks>
public static class Log2Scores
{
    /// <summary>log2(e).</summary>
    public const double Log2E = 1.4426950408889634;

    /// <summary>The cascade with each such contraction scaled and its exps in base 2; the same cascade when none qualifies.</summary>
    public static Cascade Apply(Cascade cascade)
    {
        if (cascade is null) throw new ArgumentNullException(nameof(cascade));
        var result = cascade;
        foreach (var id in cascade.Einsums.Where(IsContraction).Select(e => e.Id).ToList())
            result = ApplyAt(result, id) ?? result;
        return result;
    }

    /// <summary>A sum over ranks of a product that reads at least two tensors: the scale of its micro-kernel call absorbs a constant.</summary>
    private static bool IsContraction(ExtendedEinsum e) =>
        !e.IsInit && e.Reduction == ReduceOperator.Sum && e.Body is Binary { Operator: BinaryOperator.Multiply } && e.Reads().Count() >= 2
        && e.Output.Role == TensorRole.Intermediate;

    /// <summary>The cascade rewritten for the contraction <paramref name="rootId"/>, or null where it does not qualify.</summary>
    private static Cascade? ApplyAt(Cascade cascade, int rootId)
    {
        var einsums = cascade.Einsums;
        var root = einsums.First(e => e.Id == rootId);
        // The tensors in base 2: the contraction's output, and every maximum of them (to a fixed point, so that a running
        // maximum that reads itself joins).
        var base2 = new HashSet<string>(StringComparer.Ordinal) { root.Output.Name };
        for (var grown = true; grown;)
        {
            grown = false;
            foreach (var e in einsums)
                if (!e.IsInit && !base2.Contains(e.Output.Name) && e.Output.Role == TensorRole.Intermediate && IsMaximumOf(e, base2, e.Output.Name))
                {
                    base2.Add(e.Output.Name);
                    grown = true;
                }
        }

        var exps = new List<(int Einsum, Unary Exp)>();
        foreach (var e in einsums)
        {
            if (e.Filters.Any(f => base2.Any(t => f.ToString().Contains(t)))) return null;
            if (e.IsInit)
            {
                if (base2.Contains(e.Output.Name) && e.Body is not Constant { Value: <= float.MinValue }) return null;
                continue;
            }
            var maximum = base2.Contains(e.Output.Name) && e.Id != rootId;
            if (maximum) continue; // IsMaximumOf checked its reads
            if (!UsesOnlyInExps(e.Body, base2, e, exps)) return null;
        }
        if (exps.Count == 0) return null;

        var rewritten = new Dictionary<int, ExtendedEinsum>
        {
            [rootId] = root with
            {
                Body = new Binary(BinaryOperator.Multiply, root.Body, new Constant(Log2E)),
                Text = root.Text + "   # times log2(e): its exps in base 2 (Log2Scores)",
            },
        };
        foreach (var group in exps.GroupBy(x => x.Einsum))
        {
            var e = einsums.First(x => x.Id == group.Key);
            var targets = group.Select(x => x.Exp).ToList();
            rewritten[e.Id] = e with { Body = ToBase2(e.Body, targets), Text = e.Text + "   # exp2: its arguments in base 2 (Log2Scores)" };
        }
        ExtendedEinsum Replace(ExtendedEinsum e) => rewritten.TryGetValue(e.Id, out var r) ? r : e;
        var steps = cascade.Steps.Select(s => s.Einsum is { } e
            ? new CascadeStep(Replace(e), null)
            : new CascadeStep(null, s.Block! with { Einsums = s.Block.Einsums.Select(Replace).ToList() })).ToList();
        return cascade with { Steps = steps };
    }

    /// <summary>A maximum over ranks of a read of a base-2 tensor, or a pointwise maximum of two (the output itself
    /// counted, for a running maximum).</summary>
    private static bool IsMaximumOf(ExtendedEinsum e, HashSet<string> base2, string self)
    {
        bool In(Expr x) => x is TensorRead r && (base2.Contains(r.Tensor.Name) || r.Tensor.Name == self);
        if (e.Reduction == ReduceOperator.Max) return e.Body is TensorRead read && base2.Contains(read.Tensor.Name) && e.Filters.Count == 0;
        return e.Reduction is null && e.Body is Binary { Operator: BinaryOperator.Max } m && In(m.Left) && In(m.Right)
            && (m.Left is TensorRead { } l && base2.Contains(l.Tensor.Name) || m.Right is TensorRead { } r && base2.Contains(r.Tensor.Name));
    }

    /// <summary>True when every read of a base-2 tensor in <paramref name="body"/> is an operand of <c>exp(a - b)</c> with
    /// a and b both base-2 tensors; those exps are added to <paramref name="exps"/>.</summary>
    private static bool UsesOnlyInExps(Expr body, HashSet<string> base2, ExtendedEinsum e, List<(int, Unary)> exps)
    {
        switch (body)
        {
            case Unary { Function: UnaryFunction.Exp, Operand: Binary { Operator: BinaryOperator.Subtract, Left: TensorRead a, Right: TensorRead b } } exp
                when base2.Contains(a.Tensor.Name) && base2.Contains(b.Tensor.Name):
                exps.Add((e.Id, exp));
                return true;
            case TensorRead r:
                return !base2.Contains(r.Tensor.Name);
            case Unary u:
                return UsesOnlyInExps(u.Operand, base2, e, exps);
            case Binary b:
                return UsesOnlyInExps(b.Left, base2, e, exps) && UsesOnlyInExps(b.Right, base2, e, exps);
            default:
                return true;
        }
    }

    /// <summary><paramref name="x"/> with the exps <paramref name="targets"/> (these instances) as exp2.</summary>
    private static Expr ToBase2(Expr x, List<Unary> targets) => x switch
    {
        Unary u when targets.Any(t => ReferenceEquals(t, u)) => new Unary(UnaryFunction.Exp2, u.Operand),
        Unary u => u with { Operand = ToBase2(u.Operand, targets) },
        Binary b => b with { Left = ToBase2(b.Left, targets), Right = ToBase2(b.Right, targets) },
        _ => x,
    };
}
