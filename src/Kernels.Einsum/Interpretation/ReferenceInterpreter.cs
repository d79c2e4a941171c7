using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Ir;

namespace Kernels.Einsum.Interpretation;

/// <summary>
/// Executes any valid cascade in double precision on dense row-major arrays, following the
/// semantics in docs/language.md literally (point by point, no reassociation across Einsums).
/// It is the oracle for every sink's tests.
/// </summary>
public sealed class ReferenceInterpreter
{
    private readonly Cascade _cascade;
    private readonly CascadeShapes _shapes;
    private readonly Dictionary<string, Storage> _storage = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _slots;
    private readonly long[] _env;

    private sealed class Storage
    {
        public double[] Values = Array.Empty<double>();
        public bool[]? Present; // null: every point exists (inputs)
        public long[] Extents = Array.Empty<long>();
        public long[] Strides = Array.Empty<long>();
    }

    private ReferenceInterpreter(Cascade cascade, CascadeShapes shapes)
    {
        _cascade = cascade;
        _shapes = shapes;
        _slots = cascade.Ranks.Select((r, i) => (r.Index, i)).ToDictionary(p => p.Index, p => p.i, StringComparer.Ordinal);
        _env = new long[cascade.Ranks.Count];
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless every value given for an i32 input is an integer an int holds.</summary>
    internal static void CheckIntegers(Tensor input, double[] values, string parameter)
    {
        if (input.ElementType != ElementType.Int32) return;
        for (var i = 0L; i < values.LongLength; i++)
            if (values[i] != Math.Floor(values[i]) || values[i] < int.MinValue || values[i] > int.MaxValue)
                throw new ArgumentException($"Input '{input.Name}' is i32, but its element {i} is {values[i].ToString(System.Globalization.CultureInfo.InvariantCulture)}; give integers from {int.MinValue} to {int.MaxValue}.", parameter);
    }

    /// <summary>Runs the cascade. Throws <see cref="ArgumentException"/> for a missing, unknown or wrongly sized input or size.</summary>
    /// <returns>Every output, by name, as a dense row-major array (absent points are 0).</returns>
    public static IReadOnlyDictionary<string, double[]> Run(Cascade cascade, IReadOnlyDictionary<string, int> sizes, IReadOnlyDictionary<string, double[]> inputs) =>
        RunAll(cascade, sizes, inputs).Where(p => cascade.Tensor(p.Key).Role == TensorRole.Output).ToDictionary(p => p.Key, p => p.Value);

    /// <summary>Runs the cascade and returns every tensor it computed, intermediates included.</summary>
    public static IReadOnlyDictionary<string, double[]> RunAll(Cascade cascade, IReadOnlyDictionary<string, int> sizes, IReadOnlyDictionary<string, double[]> inputs)
    {
        if (cascade is null) throw new ArgumentNullException(nameof(cascade));
        if (inputs is null) throw new ArgumentNullException(nameof(inputs));
        var shapes = CascadeShapes.Bind(cascade, sizes);
        foreach (var key in inputs.Keys)
            if (!cascade.Inputs.Any(t => t.Name == key))
                throw new ArgumentException($"'{key}' is not an input of cascade '{cascade.Name}'; its inputs are {string.Join(", ", cascade.Inputs.Select(t => t.Name))}.", nameof(inputs));
        foreach (var input in cascade.Inputs)
        {
            if (!inputs.TryGetValue(input.Name, out var data) || data is null)
                throw new ArgumentException($"Input '{input.Name}' is missing.", nameof(inputs));
            if (data.LongLength != shapes.ElementCount(input.Name))
                throw new ArgumentException($"Input '{input.Name}' has {data.LongLength} elements but its shape [{string.Join(",", shapes.Extents(input.Name))}] needs {shapes.ElementCount(input.Name)}.", nameof(inputs));
            CheckIntegers(input, data, nameof(inputs));
        }

        var interpreter = new ReferenceInterpreter(cascade, shapes);
        foreach (var tensor in cascade.Tensors)
        {
            var extents = shapes.Extents(tensor.Name).ToArray();
            var strides = new long[extents.Length];
            long stride = 1;
            for (var d = extents.Length - 1; d >= 0; d--)
            {
                strides[d] = stride;
                stride *= extents[d];
            }
            var storage = new Storage { Extents = extents, Strides = strides };
            if (tensor.Role == TensorRole.Input)
                storage.Values = inputs[tensor.Name];
            else
            {
                storage.Values = new double[stride];
                storage.Present = new bool[stride];
            }
            interpreter._storage[tensor.Name] = storage;
        }
        interpreter.Execute();

        var result = new Dictionary<string, double[]>(StringComparer.Ordinal);
        foreach (var tensor in cascade.Tensors.Where(t => t.Role != TensorRole.Input))
        {
            var s = interpreter._storage[tensor.Name];
            var copy = new double[s.Values.Length];
            for (var i = 0; i < copy.Length; i++) copy[i] = s.Present![i] ? s.Values[i] : 0.0;
            result[tensor.Name] = copy;
        }
        return result;
    }

    private void Execute()
    {
        foreach (var step in _cascade.Steps)
        {
            if (step.Einsum is { } e)
            {
                Evaluate(e, null);
                continue;
            }
            var block = step.Block!;
            foreach (var init in block.Inits) Evaluate(init, null);
            var steps = _shapes.Steps(block.Rank);
            for (long s = 0; s < steps; s++)
                foreach (var einsum in block.Einsums)
                    Evaluate(einsum, s);
        }
    }

    private void Evaluate(ExtendedEinsum einsum, long? blockStep)
    {
        var output = _storage[einsum.Output.Name];
        var outer = einsum.OutputRanks.ToArray();
        var reduced = einsum.ReducedRanks.ToArray();
        var outerFilters = einsum.Filters.Where(f => f.Left.Variables().Concat(f.Right.Variables()).All(v => outer.Contains(v))).ToArray();
        var innerFilters = einsum.Filters.Except(outerFilters).ToArray();

        ForEachPoint(outer, einsum.IterativeRank, blockStep, () =>
        {
            if (!Passes(outerFilters)) return;
            var index = Offset(output, einsum.OutputIndices);
            if (index < 0) return;
            if (einsum.Reduction is not { } op)
            {
                if (Eval(einsum.Body, out var value))
                {
                    output.Values[index] = value;
                    output.Present![index] = true;
                }
                return;
            }
            // Over a filtered-out (empty) fiber the result is the identity; over a fiber whose points
            // are all absent (e.g. the padding of a partial tile) the result is absent too.
            var reducer = new Reducer(op);
            bool anyPoint = false, anyPresent = false;
            ForEachPoint(reduced, null, null, () =>
            {
                if (!Passes(innerFilters)) return;
                anyPoint = true;
                if (!Eval(einsum.Body, out var value)) return;
                anyPresent = true;
                reducer.Add(value);
            });
            if (anyPoint && !anyPresent) return;
            output.Values[index] = reducer.Result;
            output.Present![index] = true;
        });
    }

    /// <summary>Runs <paramref name="body"/> at every point of <paramref name="ranks"/> (row-major), holding <paramref name="fixedRank"/> at <paramref name="fixedValue"/>.</summary>
    private void ForEachPoint(string[] ranks, string? fixedRank, long? fixedValue, Action body)
    {
        var slots = ranks.Select(r => _slots[r]).ToArray();
        var limits = ranks.Select(r => r == fixedRank ? fixedValue!.Value + 1 : _shapes.RankSize(r)).ToArray();
        var starts = ranks.Select(r => r == fixedRank ? fixedValue!.Value : 0L).ToArray();
        for (var i = 0; i < ranks.Length; i++)
        {
            if (starts[i] >= limits[i]) return;
            _env[slots[i]] = starts[i];
        }
        while (true)
        {
            body();
            var d = ranks.Length - 1;
            while (d >= 0)
            {
                if (++_env[slots[d]] < limits[d]) break;
                _env[slots[d]] = starts[d];
                d--;
            }
            if (d < 0) return;
        }
    }

    private bool Passes(Comparison[] filters)
    {
        foreach (var f in filters)
            if (!f.Holds(Index(f.Left), Index(f.Right))) return false;
        return true;
    }

    private long Index(IndexExpr e) => e switch
    {
        IndexConstant c => c.Value,
        IndexVariable v => _env[_slots[v.Rank]],
        IndexSize s => _shapes.SizeValue(s.Size),
        IndexRead r => IndexArithmetic.FromValue(_storage[r.Tensor].Values[Offset(_storage[r.Tensor], r.Subscripts)]),
        IndexBinary b => IndexArithmetic.Apply(b.Operator, Index(b.Left), Index(b.Right)),
        _ => throw new InvalidOperationException("unknown index expression"),
    };

    /// <summary>The flat offset of a point, or -1 when it lies outside the tensor (an absent point).</summary>
    private long Offset(Storage s, IReadOnlyList<IndexExpr> indices)
    {
        long offset = 0;
        for (var d = 0; d < indices.Count; d++)
        {
            var i = Index(indices[d]);
            if (i < 0 || i >= s.Extents[d]) return -1;
            offset += i * s.Strides[d];
        }
        return offset;
    }

    /// <summary>Evaluates the map expression at the current point; false when the point is absent.</summary>
    private bool Eval(Expr e, out double value)
    {
        switch (e)
        {
            case Constant c:
                value = c.Value;
                return true;
            case SizeValue s:
                value = _shapes.SizeValue(s.Size);
                return true;
            case IndexValue i:
                value = Index(i.Index);
                return true;
            case TensorRead r:
            {
                var s = _storage[r.Tensor.Name];
                var offset = Offset(s, r.Indices);
                if (offset < 0 || (s.Present is not null && !s.Present[offset]))
                {
                    value = 0;
                    return false;
                }
                value = s.Values[offset];
                return true;
            }
            case Unary u:
            {
                if (!Eval(u.Operand, out var x))
                {
                    value = 0;
                    return false;
                }
                value = Apply(u.Function, x);
                return true;
            }
            case Binary b:
            {
                var leftPresent = Eval(b.Left, out var l);
                var rightPresent = Eval(b.Right, out var r);
                if (!leftPresent || !rightPresent)
                {
                    // Union merge (+, max, min): an absent operand is the identity, the other passes through.
                    if (b.Merge == MergeOperator.Union && (leftPresent || rightPresent))
                    {
                        value = leftPresent ? l : r;
                        return true;
                    }
                    value = 0;
                    return false;
                }
                value = Apply(b.Operator, l, r);
                return true;
            }
            default:
                throw new InvalidOperationException("unknown expression " + e.GetType().Name);
        }
    }

    /// <summary>An operator of the language on two present values: <c>x / 0 = 0</c> (the quotient exists only where the
    /// divisor is non-zero); max and min propagate NaN.</summary>
    public static double Apply(BinaryOperator op, double l, double r) => op switch
    {
        BinaryOperator.Add => l + r,
        BinaryOperator.Subtract => l - r,
        BinaryOperator.Multiply => l * r,
        BinaryOperator.Divide => r == 0 ? 0.0 : l / r,
        BinaryOperator.Max => Math.Max(l, r),
        BinaryOperator.Min => Math.Min(l, r),
        _ => Math.Pow(l, r),
    };

    public static double Apply(UnaryFunction f, double x) => f switch
    {
        UnaryFunction.Negate => -x,
        UnaryFunction.Exp => Math.Exp(x),
        UnaryFunction.Exp2 => ScalarMath.Exp2(x),
        UnaryFunction.Log => Math.Log(x),
        UnaryFunction.Sqrt => Math.Sqrt(x),
        UnaryFunction.Rsqrt => ScalarMath.Rsqrt(x),
        UnaryFunction.Abs => Math.Abs(x),
        UnaryFunction.Softplus => ScalarMath.Softplus(x),
        UnaryFunction.Silu => ScalarMath.Silu(x),
        UnaryFunction.Sigmoid => ScalarMath.Sigmoid(x),
        UnaryFunction.Tanh => Math.Tanh(x),
        UnaryFunction.Relu => ScalarMath.Relu(x),
        UnaryFunction.GeluTanh => ScalarMath.GeluTanh(x),
        UnaryFunction.Erf => ScalarMath.Erf(x),
        _ => ScalarMath.Gelu(x),
    };

    /// <summary>Accumulates one reduction; the result of an empty reduction is the operator's identity.</summary>
    internal struct Reducer
    {
        private readonly ReduceOperator _op;
        private double _acc;
        private double _scale; // logsumexp: the running maximum that _acc is scaled by

        public Reducer(ReduceOperator op)
        {
            _op = op;
            _scale = double.NegativeInfinity;
            _acc = op switch
            {
                ReduceOperator.Sum => 0.0,
                ReduceOperator.Prod => 1.0,
                ReduceOperator.Max => double.NegativeInfinity,
                ReduceOperator.Min => double.PositiveInfinity,
                _ => 0.0,
            };
        }

        public void Add(double x)
        {
            switch (_op)
            {
                case ReduceOperator.Sum: _acc += x; break;
                case ReduceOperator.Prod: _acc *= x; break;
                case ReduceOperator.Max: _acc = Math.Max(_acc, x); break;
                case ReduceOperator.Min: _acc = Math.Min(_acc, x); break;
                default:
                    // Online log-sum-exp: keep sum(exp(x - scale)) with scale the running maximum.
                    if (double.IsNaN(x) || double.IsNaN(_acc)) { _acc = double.NaN; break; }
                    if (double.IsNegativeInfinity(x)) break;
                    if (double.IsPositiveInfinity(x)) { _scale = double.PositiveInfinity; _acc = 1; break; }
                    if (double.IsPositiveInfinity(_scale)) break;
                    if (x > _scale)
                    {
                        _acc = _acc * Math.Exp(_scale - x) + 1.0;
                        _scale = x;
                    }
                    else
                    {
                        _acc += Math.Exp(x - _scale);
                    }
                    break;
            }
        }

        public double Result => _op != ReduceOperator.LogSumExp ? _acc
            : double.IsNaN(_acc) ? double.NaN
            : double.IsNegativeInfinity(_scale) ? double.NegativeInfinity
            : double.IsPositiveInfinity(_scale) ? double.PositiveInfinity
            : _scale + Math.Log(_acc);
    }
}
