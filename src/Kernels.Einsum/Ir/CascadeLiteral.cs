using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Einsum.Analysis;
using Kernels.Einsum.Syntax;

namespace Kernels.Einsum.Ir;

/// <summary>
/// Short constructors for writing a cascade and its analysis as C# source: the base class of the
/// descriptor classes the generator emits (<c>__RmsNormDescriptor : CascadeLiteral</c>), so that the
/// emitted code reads like the spec (<c>Mul(Read(X, Ix("p"), Ix("e")), Read(W, Ix("e")))</c>) and its
/// names resolve to these members before anything in the user's types.
/// </summary>
/// <remarks>Not for hand-written code: build cascades with <see cref="CascadeCompiler"/>.</remarks>
public abstract class CascadeLiteral
{
    protected CascadeLiteral() { }

    // ------------------------------------------------------------ lists and spans

    protected static IReadOnlyList<Rank> Ranks(params Rank[] ranks) => ranks;

    protected static IReadOnlyList<Tensor> Tensors(params Tensor[] tensors) => tensors;

    protected static IReadOnlyList<ExtendedEinsum> Einsums(params ExtendedEinsum[] einsums) => einsums;

    protected static IReadOnlyList<CascadeStep> Steps(params CascadeStep[] steps) => steps;

    protected static IReadOnlyList<Comparison> Filters(params Comparison[] filters) => filters;

    protected static IReadOnlyList<string> Names(params string[] names) => names;

    protected static IReadOnlyList<int> Ids(params int[] ids) => ids;

    /// <summary>A place in the spec: offset and length, then 1-based line and column of both ends.</summary>
    protected static SourceSpan Span(int start, int length, int startLine, int startColumn, int endLine, int endColumn) =>
        new(start, length, startLine, startColumn, endLine, endColumn);

    // ------------------------------------------------------------ ranks

    /// <summary>An ordinary rank (<c>p</c>), with the spec's default size if it has one.</summary>
    protected static Rank Plain(string index, int? defaultSize = null, bool iterative = false) =>
        new(index, RankKind.Plain, index, null, defaultSize, iterative);

    /// <summary>The tile index of a partitioned rank (<c>m1</c> of <c>partition M -> M1 x M0</c>).</summary>
    protected static Rank TileIndex(string index, string of, bool iterative = false) =>
        new(index, RankKind.PartitionOuter, of, of, null, iterative);

    /// <summary>The offset within a tile (<c>m0</c>), with the tile size the spec gives (<c>with M0 = 64</c>).</summary>
    protected static Rank TileOffset(string index, string of, int? tileSize, bool iterative = false) =>
        new(index, RankKind.PartitionInner, of, of, tileSize, iterative);

    /// <summary>A second index over a plain rank's size (<c>index s in T</c>).</summary>
    protected static Rank Alias(string index, string of, bool iterative = false) =>
        new(index, RankKind.Plain, of, null, null, iterative, of);

    /// <summary>Any rank, field by field, for what the shorthands above do not cover.</summary>
    protected static Rank RankOf(string index, RankKind kind, string root, string? partitionOf, int? defaultSize, bool iterative, string? aliasOf) =>
        new(index, kind, root, partitionOf, defaultSize, iterative, aliasOf);

    /// <summary>Rank kinds, for <see cref="RankOf"/>.</summary>
    protected static class Kind
    {
        public const RankKind Plain = RankKind.Plain;
        public const RankKind TileIndex = RankKind.PartitionOuter;
        public const RankKind TileOffset = RankKind.PartitionInner;
    }

    // ------------------------------------------------------------ tensors

    protected static TensorDim Dim(string rank, int offset = 0) => new(rank, offset);

    protected static Tensor Input(string name, ElementType type, SourceSpan span, params TensorDim[] dims) => new(name, TensorRole.Input, type, dims, span);

    protected static Tensor Output(string name, ElementType type, SourceSpan span, params TensorDim[] dims) => new(name, TensorRole.Output, type, dims, span);

    protected static Tensor Intermediate(string name, ElementType type, SourceSpan span, params TensorDim[] dims) => new(name, TensorRole.Intermediate, type, dims, span);

    /// <summary>The tensor with the dimension that an 'iterate' block carries from one step to the next.</summary>
    protected static Tensor Carried(Tensor tensor, int dim) => tensor with { CarriedDim = dim };

    /// <summary>Element types, spelt as in specs.</summary>
    protected static class Element
    {
        public const ElementType F32 = ElementType.Float32;
        public const ElementType F16 = ElementType.Float16;
        public const ElementType BF16 = ElementType.BFloat16;
        public const ElementType I32 = ElementType.Int32;
    }

    // ------------------------------------------------------------ index expressions and comparisons

    protected static IndexExpr Ix(string rank) => new IndexVariable(rank);

    protected static IndexExpr IxConst(long value) => new IndexConstant(value);

    protected static IndexExpr IxSize(string size) => new IndexSize(size);

    protected static IndexExpr IxRead(string tensor, params IndexExpr[] subscripts) => new IndexRead(tensor, subscripts);

    protected static IndexExpr IxAdd(IndexExpr left, IndexExpr right) => new IndexBinary(IndexOperator.Add, left, right);

    protected static IndexExpr IxSub(IndexExpr left, IndexExpr right) => new IndexBinary(IndexOperator.Subtract, left, right);

    protected static IndexExpr IxMul(IndexExpr left, IndexExpr right) => new IndexBinary(IndexOperator.Multiply, left, right);

    protected static IndexExpr IxDiv(IndexExpr left, IndexExpr right) => new IndexBinary(IndexOperator.Divide, left, right);

    protected static IndexExpr IxMod(IndexExpr left, IndexExpr right) => new IndexBinary(IndexOperator.Modulo, left, right);

    protected static IReadOnlyList<IndexExpr> At(params IndexExpr[] indices) => indices;

    protected static Comparison Compare(IndexExpr left, ComparisonOperator op, IndexExpr right) => new(left, op, right);

    /// <summary>Comparison operators, spelt after their meaning.</summary>
    protected static class Is
    {
        public const ComparisonOperator Less = ComparisonOperator.Less;
        public const ComparisonOperator LessEqual = ComparisonOperator.LessEqual;
        public const ComparisonOperator Greater = ComparisonOperator.Greater;
        public const ComparisonOperator GreaterEqual = ComparisonOperator.GreaterEqual;
        public const ComparisonOperator Equal = ComparisonOperator.Equal;
        public const ComparisonOperator NotEqual = ComparisonOperator.NotEqual;
    }

    // ------------------------------------------------------------ map expressions

    protected static Expr Const(double value) => new Constant(value);

    protected static Expr SizeOf(string size) => new SizeValue(size);

    protected static Expr IndexOf(IndexExpr index) => new IndexValue(index);

    protected static Expr Read(Tensor tensor, params IndexExpr[] indices) => new TensorRead(tensor, indices);

    protected static Expr Add(Expr left, Expr right) => new Binary(BinaryOperator.Add, left, right);

    protected static Expr Sub(Expr left, Expr right) => new Binary(BinaryOperator.Subtract, left, right);

    protected static Expr Mul(Expr left, Expr right) => new Binary(BinaryOperator.Multiply, left, right);

    protected static Expr Div(Expr left, Expr right) => new Binary(BinaryOperator.Divide, left, right);

    protected static Expr Max(Expr left, Expr right) => new Binary(BinaryOperator.Max, left, right);

    protected static Expr Min(Expr left, Expr right) => new Binary(BinaryOperator.Min, left, right);

    protected static Expr Pow(Expr left, Expr right) => new Binary(BinaryOperator.Power, left, right);

    protected static Expr Call(UnaryFunction function, Expr operand) => new Unary(function, operand);

    /// <summary>The functions of map expressions (<c>exp</c>, <c>rsqrt</c>, ...) and negation.</summary>
    protected static class Fn
    {
        public const UnaryFunction Negate = UnaryFunction.Negate;
        public const UnaryFunction Exp = UnaryFunction.Exp;
        public const UnaryFunction Exp2 = UnaryFunction.Exp2;
        public const UnaryFunction Log = UnaryFunction.Log;
        public const UnaryFunction Sqrt = UnaryFunction.Sqrt;
        public const UnaryFunction Rsqrt = UnaryFunction.Rsqrt;
        public const UnaryFunction Abs = UnaryFunction.Abs;
        public const UnaryFunction Softplus = UnaryFunction.Softplus;
        public const UnaryFunction Silu = UnaryFunction.Silu;
        public const UnaryFunction Sigmoid = UnaryFunction.Sigmoid;
        public const UnaryFunction Tanh = UnaryFunction.Tanh;
        public const UnaryFunction Relu = UnaryFunction.Relu;
        public const UnaryFunction Gelu = UnaryFunction.Gelu;
        public const UnaryFunction GeluTanh = UnaryFunction.GeluTanh;
        public const UnaryFunction Erf = UnaryFunction.Erf;
    }

    /// <summary>Reduction operators (<c>sum[e]</c>, <c>max[m0]</c>, ...).</summary>
    protected static class Reduce
    {
        public const ReduceOperator Sum = ReduceOperator.Sum;
        public const ReduceOperator Max = ReduceOperator.Max;
        public const ReduceOperator Min = ReduceOperator.Min;
        public const ReduceOperator Prod = ReduceOperator.Prod;
        public const ReduceOperator LogSumExp = ReduceOperator.LogSumExp;
    }

    // ------------------------------------------------------------ Einsums, blocks, cascades

    /// <summary>One extended Einsum; <paramref name="reduction"/> is null for a map.</summary>
    protected static ExtendedEinsum Einsum(int id, Tensor output, IReadOnlyList<IndexExpr> indices, IReadOnlyList<string> ranks,
        IReadOnlyList<string> reduced, ReduceOperator? reduction, bool implicitReduction, Expr body, IReadOnlyList<Comparison> filters,
        bool init, string? iterative, string text, SourceSpan span) =>
        new(id, output, indices, ranks, reduced, reduction, implicitReduction, body, filters, init, iterative, text, span);

    protected static CascadeStep Step(ExtendedEinsum einsum) => new(einsum, null);

    protected static CascadeStep Iterate(string rank, Comparison until, IReadOnlyList<ExtendedEinsum> inits, IReadOnlyList<ExtendedEinsum> einsums, SourceSpan span) =>
        new(null, new IterationBlock(rank, until, inits, einsums, span));

    protected static Cascade Cascade(string name, IReadOnlyList<Rank> ranks, IReadOnlyList<Tensor> tensors, IReadOnlyList<CascadeStep> steps, string source) =>
        new(name, ranks, tensors, steps, source);

    // ------------------------------------------------------------ the analysis

    /// <summary>A polynomial in the sizes from its terms (<c>("E*P", 2)</c> is 2*E*P, <c>("", 3)</c> the constant 3).</summary>
    protected static SizePolynomial Poly(params (string Monomial, long Coefficient)[] terms) => SizePolynomial.FromTerms(terms);

    protected static IReadOnlyDictionary<string, int> PassIndex(params (string Rank, int Pass)[] passes) =>
        passes.ToDictionary(p => p.Rank, p => p.Pass, StringComparer.Ordinal);

    /// <summary>The stored costs of one Einsum, completed from its IR.</summary>
    protected static EinsumReport Cost(ExtendedEinsum einsum, int opsPerPoint, SizePolynomial points, SizePolynomial flops, SizePolynomial bytes,
        IReadOnlyDictionary<string, int> passes) =>
        PassAnalysis.Describe(einsum, opsPerPoint, points, flops, bytes, passes);

    protected static PassGroup Group(int pass, IReadOnlyList<int> einsums, IReadOnlyList<string> live, SizePolynomial footprint) =>
        new(pass, einsums, live, footprint, null);

    protected static RankPasses Passes(string rank, IReadOnlyList<string> derived, int passes, IReadOnlyList<string> outer, params PassGroup[] groups) =>
        new(rank, derived, passes, outer, groups);

    protected static IReadOnlyList<EinsumReport> Costs(params EinsumReport[] costs) => costs;

    protected static IReadOnlyList<RankPasses> PassList(params RankPasses[] passes) => passes;

    protected static CascadeReport Analysis(Cascade cascade, IReadOnlyList<EinsumReport> einsums, IReadOnlyList<RankPasses> passes) =>
        new(cascade.Name, cascade.Tensors.Select(t => PassAnalysis.Describe(t)).ToList(), einsums, passes, null);
}
