using System.Collections.Generic;

namespace Kernels.Einsum.Syntax;

/// <summary>A name and where it was written.</summary>
public sealed record NameSyntax(string Text, SourceSpan Span);

public sealed record CascadeSyntax(IReadOnlyList<StatementSyntax> Statements);

public abstract record StatementSyntax(SourceSpan Span);

public sealed record KernelStatementSyntax(NameSyntax Name, SourceSpan Span) : StatementSyntax(Span);

public sealed record TensorDeclarationSyntax(NameSyntax Name, IReadOnlyList<NameSyntax> Ranks, bool HasBrackets, NameSyntax? ElementType, SourceSpan Span);

public sealed record DeclarationStatementSyntax(bool IsOutput, IReadOnlyList<TensorDeclarationSyntax> Tensors, SourceSpan Span) : StatementSyntax(Span);

/// <summary><c>partition M -> M1 x M0 with M0 = 64</c>.</summary>
public sealed record PartitionStatementSyntax(NameSyntax Parent, NameSyntax Outer, NameSyntax Inner, ExpressionSyntax? TileSize, SourceSpan Span) : StatementSyntax(Span);

/// <summary><c>index c in T</c>: another index over the size of an existing rank.</summary>
public sealed record IndexStatementSyntax(NameSyntax Index, NameSyntax Size, SourceSpan Span) : StatementSyntax(Span);

/// <summary><c>size W</c>: sizes no tensor has, given at run time and used in subscripts and filters (a window's length).</summary>
public sealed record SizeStatementSyntax(IReadOnlyList<NameSyntax> Sizes, SourceSpan Span) : StatementSyntax(Span);

/// <summary><c>iterate m1 until m1 == M1 { ... }</c>.</summary>
public sealed record IterateStatementSyntax(NameSyntax Rank, ConditionSyntax Until, IReadOnlyList<StatementSyntax> Body, SourceSpan Span) : StatementSyntax(Span);

public sealed record EinsumStatementSyntax(
    bool IsInit,
    AccessSyntax Target,
    ExpressionSyntax Body,
    ConditionSyntax? Where,
    string Text,
    SourceSpan Span) : StatementSyntax(Span);

public sealed record ComparisonSyntax(ExpressionSyntax Left, TokenKind Operator, ExpressionSyntax Right, SourceSpan Span);

public sealed record ConditionSyntax(IReadOnlyList<ComparisonSyntax> Comparisons, SourceSpan Span);

public abstract record ExpressionSyntax(SourceSpan Span);

public sealed record NumberSyntax(double Value, string Text, SourceSpan Span) : ExpressionSyntax(Span);

/// <summary>A bare name: a scalar tensor, an index used as a value, a size, or <c>inf</c>.</summary>
public sealed record NameExpressionSyntax(NameSyntax Name, SourceSpan Span) : ExpressionSyntax(Span);

/// <summary><c>T[i, j+1]</c>.</summary>
public sealed record AccessSyntax(NameSyntax Name, IReadOnlyList<ExpressionSyntax> Indices, SourceSpan Span) : ExpressionSyntax(Span);

/// <summary><c>exp(x)</c>, <c>max(a, b)</c>.</summary>
public sealed record CallSyntax(NameSyntax Function, IReadOnlyList<ExpressionSyntax> Arguments, SourceSpan Span) : ExpressionSyntax(Span);

public sealed record UnarySyntax(TokenKind Operator, ExpressionSyntax Operand, SourceSpan Span) : ExpressionSyntax(Span);

public sealed record BinarySyntax(TokenKind Operator, ExpressionSyntax Left, ExpressionSyntax Right, SourceSpan Span) : ExpressionSyntax(Span);

public sealed record ParenthesizedSyntax(ExpressionSyntax Inner, SourceSpan Span) : ExpressionSyntax(Span);

/// <summary><c>max[m0] expr</c>: an explicit reduction over the named ranks.</summary>
public sealed record ReductionSyntax(NameSyntax Operator, IReadOnlyList<NameSyntax> Ranks, ExpressionSyntax Operand, SourceSpan Span) : ExpressionSyntax(Span);
