using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Interpretation;
using Kernels.Einsum.Ir;

namespace Kernels.Einsum.Planning;

/// <summary>
/// Filters on an Einsum's output ranks (<c>BQK[m1,m0,p] = .. where m1*M0 + m0 &lt;= p</c>, a causal mask) without scalar
/// code that tracks absent points. In the interpreter a point a filter leaves out is absent: maps do not write it,
/// reductions skip it, and <c>+</c>, <c>max</c>, <c>min</c> pass the other operand through. A generated kernel instead
/// computes the Einsum on its vector or micro-kernel path and then stores a <em>fill</em> at the points the filter leaves
/// out: a value every consumer turns into what absence gives. For the scores of attention that is -inf: the max skips it,
/// <c>exp(-inf - max)</c> is 0, which the sums skip. <see cref="Choose"/> finds such values by following every tensor that
/// may be absent through the cascade: a value that reaches a reduction must be the reduction's identity, one that
/// reaches <c>+ max min</c> must be that operator's identity, and an output's absent points must hold 0 (they read as 0).
/// The operands that meet a fill (V in <c>exp(S - M) * V</c>) are taken to be finite: a NaN or an infinity in a value
/// at a left-out point gives NaN where the interpreter skips it, as in FlashAttention's masked tiles.
/// <para>
/// <see cref="SkippableBy"/> then proves, per iteration block, that a step in which such an Einsum leaves out every point
/// changes no carried state (<c>max(RM, absent) = RM</c>, <c>exp(RM - RM) = 1</c>, <c>RD * 1 + absent = RD</c>): the kernel
/// skips those steps, so a causal mask halves the work instead of only masking it.
/// </para>
/// </summary>
public static class FilterFills
{
    /// <summary>True when every rank the filter mentions is an output rank of the Einsum: it leaves whole points out.</summary>
    public static bool OnOutput(ExtendedEinsum e, Comparison f) =>
        f.Left.Variables().Concat(f.Right.Variables()).All(v => e.OutputRanks.Contains(v));

    /// <summary>
    /// The fill of each Einsum whose filters are all on its output ranks, by Einsum id, and the tensors that hold fills
    /// (those Einsums' outputs and what is computed from them); both empty when some such Einsum has no fill that every
    /// consumer ignores (then all of them keep the exact scalar path).
    /// </summary>
    public static (IReadOnlyDictionary<int, double> Fills, IReadOnlyCollection<string> Holders) Choose(Cascade cascade)
    {
        var none = (new Dictionary<int, double>(), (IReadOnlyCollection<string>)Array.Empty<string>());
        var filtered = cascade.Einsums.Where(e => !e.IsInit && e.Filters.Count > 0 && e.Filters.All(f => OnOutput(e, f))).ToList();
        if (filtered.Count == 0 || cascade.Einsums.Any(e => e.IsInit && e.Filters.Count > 0)) return none;
        var fills = new Dictionary<int, double>();
        var candidates = new[] { double.NegativeInfinity, 0.0, double.PositiveInfinity, 1.0 };
        foreach (var e in filtered) fills[e.Id] = candidates[0];
        foreach (var e in filtered)
            foreach (var c in candidates)
            {
                fills[e.Id] = c;
                if (new Analysis(cascade, fills).Holds()) break;
            }
        var final = new Analysis(cascade, fills);
        return final.Holds() ? (fills, final.Holders) : none;
    }

    /// <summary>The value absence gives a reduction (its identity).</summary>
    public static double Identity(ReduceOperator op) => op switch
    {
        ReduceOperator.Sum => 0.0,
        ReduceOperator.Prod => 1.0,
        ReduceOperator.Min => double.PositiveInfinity,
        _ => double.NegativeInfinity, // max, logsumexp
    };

    // ---------------------------------------------------------------- fills

    /// <summary>What a possibly absent tensor holds where the interpreter has no point: a known value or an unknown one.</summary>
    private readonly record struct Fill(bool Known, double Value)
    {
        public static Fill Unknown => new(false, double.NaN);

        public static Fill Of(double v) => new(true, v);

        public Fill Join(Fill other) => Known && other.Known && Same(Value, other.Value) ? this : Unknown;
    }

    private static bool Same(double a, double b) => a == b || (double.IsNaN(a) && double.IsNaN(b));

    // Finite values a present operand can take next to a fill: a fill combined with all of them to one value is that value.
    private static readonly double[] Samples = { -1e30, -1e4, -3.5, -1, -0.25, 0, 0.5, 1, 2, 7.25, 1e4, 1e30 };

    private static bool IsUnionIdentity(BinaryOperator op, double v) => op switch
    {
        BinaryOperator.Add => v == 0,
        BinaryOperator.Max => double.IsNegativeInfinity(v),
        BinaryOperator.Min => double.IsPositiveInfinity(v),
        _ => false,
    };

    /// <summary>Follows possibly absent tensors (and what the kernel stores at their absent points) to a fixed point.</summary>
    private sealed class Analysis(Cascade cascade, IReadOnlyDictionary<int, double> fills)
    {
        private readonly Dictionary<string, Fill> _absent = new(StringComparer.Ordinal);
        private bool _failed;

        /// <summary>The tensors that may hold fills (valid once <see cref="Holds"/> returned true).</summary>
        public IReadOnlyCollection<string> Holders => _absent.Keys.ToList();

        public bool Holds()
        {
            for (var round = 0; round < 32 && !_failed; round++)
            {
                var changed = false;
                foreach (var e in cascade.Einsums)
                {
                    if (Result(e) is not { } fill) continue;
                    if (_failed) return false;
                    var name = e.Output.Name;
                    var joined = _absent.TryGetValue(name, out var old) ? old.Join(fill) : fill;
                    if (!_absent.TryGetValue(name, out old) || old != joined)
                    {
                        _absent[name] = joined;
                        changed = true;
                    }
                }
                if (!changed) break;
            }
            if (_failed) return false;
            // An output's absent points read as 0.
            return cascade.Outputs.All(t => !_absent.TryGetValue(t.Name, out var f) || (f.Known && f.Value == 0));
        }

        /// <summary>What the Einsum stores where the interpreter has no point, or null when it has every point.</summary>
        private Fill? Result(ExtendedEinsum e)
        {
            // Each read of a possibly absent tensor, absent or present: every combination (reads in the order Eval visits them).
            var maybe = e.Reads().Count(r => _absent.ContainsKey(r.Tensor.Name));
            if (maybe > 10) { _failed = true; return null; }
            var outcomes = new List<(bool Present, Fill Fill)>();
            for (var mask = 0; mask < 1 << maybe; mask++)
            {
                _mask = mask;
                _next = 0;
                outcomes.Add(Eval(e.Body));
                if (_failed) return null;
            }
            Fill? result = null;
            if (e.Reduction is { } op)
            {
                foreach (var o in outcomes.Where(o => !o.Present))
                    if (!o.Fill.Known || !Same(o.Fill.Value, Identity(op)))
                    {
                        _failed = true; // an absent term the reduction would count
                        return null;
                    }
                if (outcomes.Any(o => !o.Present)) result = Fill.Of(Identity(op));
            }
            else
            {
                foreach (var o in outcomes.Where(o => !o.Present))
                    result = result is { } f ? f.Join(o.Fill) : o.Fill;
            }
            if (fills.TryGetValue(e.Id, out var own))
            {
                if (result is not null) { _failed = true; return null; } // a filtered Einsum over operands that may be absent
                result = Fill.Of(own);
            }
            return result;
        }

        // The combination being evaluated (bit i: the i-th read of a possibly absent tensor is absent) and the next read's bit.
        private int _mask;
        private int _next;

        private (bool Present, Fill Fill) Eval(Expr x)
        {
            switch (x)
            {
                case TensorRead r:
                    if (!_absent.TryGetValue(r.Tensor.Name, out var readFill)) return (true, default);
                    return (_mask & (1 << _next++)) != 0 ? (false, readFill) : (true, default);
                case Unary u:
                {
                    var (present, fill) = Eval(u.Operand);
                    return present ? (true, default) : (false, fill.Known ? Fill.Of(ReferenceInterpreter.Apply(u.Function, fill.Value)) : Fill.Unknown);
                }
                case Binary b:
                {
                    var l = Eval(b.Left);
                    var r = Eval(b.Right);
                    if (l.Present && r.Present) return (true, default);
                    if (!l.Present && !r.Present)
                        return (false, l.Fill.Known && r.Fill.Known ? Fill.Of(ReferenceInterpreter.Apply(b.Operator, l.Fill.Value, r.Fill.Value)) : Fill.Unknown);
                    var fill = l.Present ? r.Fill : l.Fill;
                    if (b.Merge == MergeOperator.Union)
                    {
                        // The interpreter passes the present operand through: the fill must leave it unchanged.
                        if (fill.Known && IsUnionIdentity(b.Operator, fill.Value)) return (true, default);
                        _failed = true;
                        return (false, Fill.Unknown);
                    }
                    if (!fill.Known) return (false, Fill.Unknown);
                    var values = Samples.Select(s => l.Present ? ReferenceInterpreter.Apply(b.Operator, s, fill.Value) : ReferenceInterpreter.Apply(b.Operator, fill.Value, s)).ToList();
                    return (false, values.All(v => Same(v, values[0]) || (v == 0 && values[0] == 0)) ? Fill.Of(values[0] == 0 ? 0.0 : values[0]) : Fill.Unknown);
                }
                default:
                    return (true, default);
            }
        }
    }

    // ---------------------------------------------------------------- steps that change nothing

    /// <summary>
    /// The filled Einsums of the block such that a step in which one leaves out every point writes every carried tensor
    /// back unchanged (<c>X[r+1, ..] = X[r, ..]</c>) and nothing else that outlives the step. The caller checks the
    /// storage (carried tensors in two slots, step tensors not kept across steps).
    /// </summary>
    public static IReadOnlyList<int> SkippableBy(Cascade cascade, IterationBlock block, IReadOnlyDictionary<int, double> fills) =>
        block.Einsums.Where(e => fills.ContainsKey(e.Id) && IdentityWhenAbsent(block, e)).Select(e => e.Id).ToList();

    /// <summary>A value in one step, abstractly: absent, a carried tensor's value at the step's start (at a point),
    /// a constant, or anything else.</summary>
    private abstract record Abstract;

    private sealed record AbsentValue : Abstract;

    private sealed record CarriedValue(string Tensor, string Point) : Abstract;

    private sealed record ConstantValue(double Value) : Abstract;

    private sealed record OtherValue : Abstract;

    private static readonly Abstract Absent = new AbsentValue();
    private static readonly Abstract Other = new OtherValue();

    private static bool IdentityWhenAbsent(IterationBlock block, ExtendedEinsum absent)
    {
        var r = block.Rank;
        static bool AtOffset(IndexExpr ix, string rank, long offset) => ix.TryGetOffset(out var v, out var o) && v == rank && o == offset;
        static string PointWithout(IReadOnlyList<IndexExpr> indices, int? skip) =>
            string.Join(",", indices.Where((_, d) => d != skip).Select(i => i.ToString()));
        var carried = new HashSet<string>(block.Einsums.Where(x => x.Output.CarriedDim is { } c && AtOffset(x.OutputIndices[c], r, 1)).Select(x => x.Output.Name), StringComparer.Ordinal);
        var written = new Dictionary<string, (Abstract Value, string Point)>(StringComparer.Ordinal);

        Abstract Read(TensorRead read)
        {
            var c = read.Tensor.CarriedDim;
            var point = PointWithout(read.Indices, carried.Contains(read.Tensor.Name) ? c : null);
            if (carried.Contains(read.Tensor.Name) && c is { } dim && AtOffset(read.Indices[dim], r, 0))
                return new CarriedValue(read.Tensor.Name, point);
            if (written.TryGetValue(read.Tensor.Name, out var w))
                return w.Value is AbsentValue or ConstantValue || w.Point == point ? w.Value : Other;
            return Other;
        }

        Abstract Eval(Expr x) => x switch
        {
            TensorRead read => Read(read),
            Constant k => new ConstantValue(k.Value),
            Unary u => Eval(u.Operand) switch
            {
                AbsentValue => Absent,
                ConstantValue k => new ConstantValue(ReferenceInterpreter.Apply(u.Function, k.Value)),
                _ => Other,
            },
            Binary b => Combine(b, Eval(b.Left), Eval(b.Right)),
            _ => Other,
        };

        foreach (var e in block.Einsums)
        {
            Abstract value;
            if (e.Id == absent.Id) value = Absent;
            else
            {
                value = Eval(e.Body);
                if (e.Reduction is not null && value is not AbsentValue) value = Other;
                if (e.Filters.Count > 0 && value is not AbsentValue) value = Other;
            }
            var isCarried = carried.Contains(e.Output.Name);
            var point = PointWithout(e.OutputIndices, isCarried ? e.Output.CarriedDim : null);
            if (isCarried)
            {
                if (value is not CarriedValue cv || cv.Tensor != e.Output.Name || cv.Point != point) return false;
            }
            else if (e.Output.Role != TensorRole.Intermediate || e.Output.IsLoopCarried) return false;
            written[e.Output.Name] = (value, point);
        }
        return true;
    }

    // ---------------------------------------------------------------- steps cut short

    /// <summary>
    /// A filter of a filled Einsum that bounds one of its loop ranks from above (<c>m1*M0 + m0 &lt;= p + M - P</c> bounds
    /// m0 by the last row of the block): past that bound the Einsum has no point in the step for any row at hand, so
    /// every Einsum of the step that runs over the rank may stop there (<see cref="ClippableBy"/>).
    /// </summary>
    /// <param name="Einsum">The filtered Einsum's id.</param>
    /// <param name="Rank">The bounded rank.</param>
    /// <param name="Rest">The filter as <c>Rank + Rest &lt;= 0</c> (or <c>&lt; 0</c>): the other ranks' part.</param>
    /// <param name="Strict">True for <c>&lt;</c>.</param>
    public sealed record StepClip(int Einsum, string Rank, IndexExpr Rest, bool Strict);

    /// <summary>
    /// The upper bounds (<see cref="StepClip"/>) a step of the block may stop its loops at: for a filled Einsum X and a
    /// filter that reads <c>v + Rest &lt;= 0</c>, every other Einsum of the block that runs over v must be absent where X
    /// is (a map of X's absent points, or a reduction over v that skips them), and read what the step writes over v only
    /// at v itself. A step that stops at the bound then computes exactly the points the interpreter has. The caller
    /// checks that nothing written over v in the step is read after it (<see cref="SkippableBy"/>'s storage checks).
    /// </summary>
    /// <param name="block">The iteration block.</param>
    /// <param name="fills">The filled Einsums (<see cref="Choose"/>).</param>
    /// <param name="fixedRanks">Ranks that do not vary inside a step (the block's rank, the parallel ranks).</param>
    public static IReadOnlyList<StepClip> ClippableBy(IterationBlock block, IReadOnlyDictionary<int, double> fills, IReadOnlyCollection<string> fixedRanks)
    {
        var clips = new List<StepClip>();
        foreach (var x in block.Einsums.Where(e => fills.ContainsKey(e.Id)))
            foreach (var f in x.Filters)
            {
                if (UpperBound(f, fixedRanks) is not { } bound) continue;
                foreach (var (rank, rest, strict) in bound)
                    if (rank != block.Rank && !fixedRanks.Contains(rank) && x.OutputRanks.Contains(rank)
                        && !clips.Any(c => c.Rank == rank && c.Rest == rest && c.Strict == strict) && AbsentPast(block, fills, x, rank, rest, strict, fixedRanks))
                        clips.Add(new StepClip(x.Id, rank, rest, strict));
            }
        return clips;
    }

    /// <summary>Each rank with coefficient 1 in the filter written as <c>rank + Rest &lt;= 0</c> (or <c>&lt; 0</c>); a value
    /// read at fixed ranks (<c>LEN[b]</c>) is part of Rest.</summary>
    private static List<(string Rank, IndexExpr Others, bool Strict)>? UpperBound(Comparison f, IReadOnlyCollection<string> fixedRanks)
    {
        var form = f.Operator switch
        {
            ComparisonOperator.LessEqual or ComparisonOperator.Less => new IndexBinary(IndexOperator.Subtract, f.Left, f.Right),
            ComparisonOperator.GreaterEqual or ComparisonOperator.Greater => new IndexBinary(IndexOperator.Subtract, f.Right, f.Left),
            _ => null,
        };
        if (form is null || !IndexAffine.TryLinear(form, out var terms, out _, fixedRanks)) return null;
        var strict = f.Operator is ComparisonOperator.Less or ComparisonOperator.Greater;
        return terms.Where(t => t.Coefficient is IndexConstant { Value: 1 })
            .Select(t => (t.Rank, (IndexExpr)new IndexBinary(IndexOperator.Subtract, form, new IndexVariable(t.Rank)), strict)).ToList();
    }

    /// <summary>
    /// True when, at the points of <paramref name="rank"/> past the bound, every Einsum of the step over that rank is
    /// absent, skips them (a reduction), or is read there only by Einsums whose own filter leaves those points out (the
    /// soft-capped scores' contraction before the filtered cap); see <see cref="ClippableBy"/>.
    /// </summary>
    private static bool AbsentPast(IterationBlock block, IReadOnlyDictionary<int, double> fills, ExtendedEinsum x, string rank, IndexExpr rest, bool strict, IReadOnlyCollection<string> fixedRanks)
    {
        // Filled Einsums with the same bound among their filters: absent past it whatever they read.
        bool Bounded(ExtendedEinsum e) => fills.ContainsKey(e.Id) && e.Filters.Any(f =>
            UpperBound(f, fixedRanks)?.Any(b => b.Rank == rank && b.Others == rest && b.Strict == strict) == true);
        static int DimOf(IReadOnlyList<IndexExpr> indices, string rank)
        {
            for (var d = 0; d < indices.Count; d++)
                if (indices[d] is IndexVariable v && v.Rank == rank) return d;
            return -1;
        }
        // The tensors the step writes over the rank, with the dimension that holds it, and whether they are absent past
        // the bound (else present there, and only a bounded Einsum may read them).
        var region = new Dictionary<string, (int Dim, bool Absent)>(StringComparer.Ordinal);
        var ok = true;
        ExtendedEinsum? reader = null;
        Abstract Eval(Expr e)
        {
            switch (e)
            {
                case TensorRead r when region.TryGetValue(r.Tensor.Name, out var w):
                    if (r.Indices[w.Dim] is not IndexVariable v || v.Rank != rank) ok = false; // another point of the rank
                    else if (!w.Absent && !Bounded(reader!)) ok = false; // a value past the bound that something reads
                    return w.Absent ? Absent : Other;
                case Unary u:
                    return Eval(u.Operand) is AbsentValue ? Absent : Other;
                case Binary b:
                {
                    var (l, r) = (Eval(b.Left), Eval(b.Right));
                    if (b.Merge == MergeOperator.Union) return l is AbsentValue && r is AbsentValue ? Absent : Other;
                    return l is AbsentValue || r is AbsentValue ? Absent : Other;
                }
                default:
                    return Other;
            }
        }
        foreach (var e in block.Einsums)
        {
            reader = e;
            var value = Eval(e.Body);
            if (!ok) return false;
            if (!e.Ranks.Contains(rank)) continue;
            var absent = e.Id == x.Id || Bounded(e) || value is AbsentValue;
            if (!e.OutputRanks.Contains(rank))
            {
                if (!absent) return false; // a reduction over the rank that counts points past the bound
                continue;
            }
            var d = DimOf(e.OutputIndices, rank);
            if (d < 0 || (!absent && e.Output.IsLoopCarried)) return false;
            region[e.Output.Name] = (d, absent);
        }
        return true;
    }

    private static Abstract Combine(Binary b, Abstract l, Abstract r)
    {
        if (b.Merge == MergeOperator.Union)
        {
            if (l is AbsentValue) return r;
            if (r is AbsentValue) return l;
        }
        else if (l is AbsentValue || r is AbsentValue) return Absent;
        if (l is ConstantValue a && r is ConstantValue c) return new ConstantValue(ReferenceInterpreter.Apply(b.Operator, a.Value, c.Value));
        return b.Operator switch
        {
            BinaryOperator.Subtract when l is CarriedValue x && x == r => new ConstantValue(0),
            BinaryOperator.Subtract when r is ConstantValue { Value: 0 } => l,
            BinaryOperator.Add when r is ConstantValue { Value: 0 } => l,
            BinaryOperator.Add when l is ConstantValue { Value: 0 } => r,
            BinaryOperator.Multiply when r is ConstantValue { Value: 1 } => l,
            BinaryOperator.Multiply when l is ConstantValue { Value: 1 } => r,
            BinaryOperator.Divide when r is ConstantValue { Value: 1 } => l,
            BinaryOperator.Max or BinaryOperator.Min when l is CarriedValue x && x == r => l,
            _ => Other,
        };
    }
}
