using System;
using System.Collections.Generic;
using System.Globalization;
using Kernels.Einsum.Diagnostics;

namespace Kernels.Einsum.Syntax;

/// <summary>
/// Recursive-descent parser for the cascade language (docs/language.md). It never throws: each
/// malformed statement yields a diagnostic and the parser skips to the next statement.
/// </summary>
public sealed class CascadeParser
{
    internal static readonly HashSet<string> ReductionOperators = new(StringComparer.Ordinal) { "sum", "max", "min", "prod", "logsumexp" };

    private readonly string _text;
    private readonly List<Token> _tokens;
    private readonly List<Diagnostic> _diagnostics;
    private int _index;

    private CascadeParser(string text, List<Diagnostic> diagnostics)
    {
        _text = text;
        _diagnostics = diagnostics;
        _tokens = Lexer.Tokenize(text, diagnostics);
    }

    /// <summary>Parses <paramref name="text"/>; problems are appended to <paramref name="diagnostics"/>.</summary>
    public static CascadeSyntax Parse(string text, List<Diagnostic> diagnostics)
    {
        var parser = new CascadeParser(text ?? string.Empty, diagnostics);
        return new CascadeSyntax(parser.ParseStatements(topLevel: true));
    }

    private Token Current => _tokens[Math.Min(_index, _tokens.Count - 1)];

    private Token PeekToken(int ahead) => _tokens[Math.Min(_index + ahead, _tokens.Count - 1)];

    private Token Take()
    {
        var token = Current;
        if (_index < _tokens.Count - 1) _index++;
        return token;
    }

    private bool At(TokenKind kind) => Current.Kind == kind;

    private sealed class SyntaxErrorException : Exception
    {
    }

    /// <summary>Reports "expected X" at the current token and abandons the statement.</summary>
    private SyntaxErrorException Expected(string what, string? hint = null)
    {
        var token = Current;
        if (token.Kind != TokenKind.Bad) // the lexer already reported a bad token
            _diagnostics.Add(DiagnosticDescriptors.Expected(token.Span, what, Describe(token), hint));
        return new SyntaxErrorException();
    }

    private static string Describe(Token token) => token.Kind switch
    {
        TokenKind.EndOfFile => "the end of the spec",
        TokenKind.EndOfStatement => token.Text == ";" ? "';'" : "the end of the line",
        _ => "'" + token.Text + "'",
    };

    /// <summary>
    /// Takes the bracket that closes <paramref name="opener"/>. When the statement or the spec ends first, the error is
    /// at the opening bracket (the end of a spec is past its closing quotes, where nobody would look).
    /// </summary>
    private Token Close(TokenKind kind, Token opener, string what, string expected)
    {
        if (At(kind)) return Take();
        if (At(TokenKind.EndOfFile) || At(TokenKind.EndOfStatement))
        {
            _diagnostics.Add(DiagnosticDescriptors.Expected(opener.Span, $"'{what}' to close this '{opener.Text}'", Describe(Current), $"add the missing '{what}'"));
            throw new SyntaxErrorException();
        }
        throw Expected(expected);
    }

    private Token Expect(TokenKind kind, string what, string? hint = null)
    {
        if (At(kind)) return Take();
        throw Expected(what, hint);
    }

    private NameSyntax ExpectName(string what, string? hint = null)
    {
        var token = Expect(TokenKind.Identifier, what, hint);
        return new NameSyntax(token.Text, token.Span);
    }

    private List<StatementSyntax> ParseStatements(bool topLevel)
    {
        var statements = new List<StatementSyntax>();
        while (true)
        {
            while (At(TokenKind.EndOfStatement)) Take();
            if (At(TokenKind.EndOfFile)) return statements;
            if (At(TokenKind.RightBrace))
            {
                if (!topLevel) return statements;
                _diagnostics.Add(DiagnosticDescriptors.Expected(Current.Span, "a statement", "'}'", "remove the '}': no 'iterate' block is open here"));
                Take();
                continue;
            }

            var start = _index;
            try
            {
                var statement = ParseStatement(topLevel);
                statements.Add(statement);
                if (!At(TokenKind.EndOfStatement) && !At(TokenKind.EndOfFile) && !At(TokenKind.RightBrace))
                    throw Expected("the end of the statement", "put each statement on its own line or separate them with ';'");
            }
            catch (SyntaxErrorException)
            {
                SkipStatement(start);
            }
        }
    }

    /// <summary>Skips to the end of the broken statement; a broken 'iterate' header skips its whole block.</summary>
    private void SkipStatement(int start)
    {
        if (_index == start && !At(TokenKind.EndOfFile)) Take();
        var depth = 0;
        for (var i = start; i < _index; i++)
            if (_tokens[i].Kind == TokenKind.LeftBrace) depth++;
        while (!At(TokenKind.EndOfFile))
        {
            if (At(TokenKind.LeftBrace)) depth++;
            if (At(TokenKind.RightBrace))
            {
                if (depth == 0) return;
                depth--;
                Take();
                if (depth == 0) return;
                continue;
            }
            if (At(TokenKind.EndOfStatement) && depth == 0) return;
            Take();
        }
    }

    private StatementSyntax ParseStatement(bool topLevel)
    {
        var token = Current;
        if (token.Kind == TokenKind.Identifier && PeekToken(1).Kind != TokenKind.Assign && PeekToken(1).Kind != TokenKind.LeftBracket)
        {
            switch (token.Text)
            {
                case "kernel": return ParseKernel();
                case "input":
                case "output": return ParseDeclaration();
                case "partition": return ParsePartition();
                case "index": return ParseIndex();
                case "size": return ParseSize();
                case "iterate": return ParseIterate(topLevel);
                case "init": return ParseEinsum();
            }
        }
        if (token.Kind == TokenKind.Identifier && PeekToken(1).Kind == TokenKind.Identifier && Nearest(token.Text) is { } keyword)
            throw Expected("a statement", $"did you mean '{keyword}'?");
        if (token.Kind == TokenKind.Identifier) return ParseEinsum();
        throw Expected("a statement", "a statement is a declaration ('input Q[p,e]'), 'partition', 'iterate', or an Einsum such as 'Y[p] = sum[e] X[p,e]'");
    }

    private static readonly string[] StatementKeywords = { "kernel", "input", "output", "partition", "index", "size", "iterate", "init" };

    /// <summary>The statement keyword within two edits of <paramref name="word"/> (a typo such as 'ouput'), if any.</summary>
    private static string? Nearest(string word)
    {
        string? best = null;
        var bestDistance = 3;
        foreach (var keyword in StatementKeywords)
        {
            var d = EditDistance(word.ToLowerInvariant(), keyword);
            if (d < bestDistance) (best, bestDistance) = (keyword, d);
        }
        return best;
    }

    private static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }

    private KernelStatementSyntax ParseKernel()
    {
        var keyword = Take();
        var name = ExpectName("a kernel name", "write 'kernel my_kernel'");
        return new KernelStatementSyntax(name, keyword.Span.Union(name.Span));
    }

    private DeclarationStatementSyntax ParseDeclaration()
    {
        var keyword = Take();
        var tensors = new List<TensorDeclarationSyntax>();
        var span = keyword.Span;
        do
        {
            if (tensors.Count > 0) Take(); // the comma
            var name = ExpectName("a tensor name", "write for example '" + keyword.Text + " Q[p,e]'");
            var ranks = new List<NameSyntax>();
            var declSpan = name.Span;
            var hasBrackets = false;
            if (At(TokenKind.LeftBracket))
            {
                hasBrackets = true;
                Take();
                if (!At(TokenKind.RightBracket))
                {
                    do
                    {
                        if (ranks.Count > 0) Take();
                        ranks.Add(ExpectName("a rank index", "list the tensor's ranks by their index names, e.g. Q[p,e]"));
                    }
                    while (At(TokenKind.Comma));
                }
                declSpan = declSpan.Union(Expect(TokenKind.RightBracket, "',' or ']'").Span);
            }
            NameSyntax? type = null;
            if (At(TokenKind.Colon))
            {
                Take();
                type = ExpectName("an element type", "write f32, f16, bf16 or i32");
                declSpan = declSpan.Union(type.Span);
            }
            tensors.Add(new TensorDeclarationSyntax(name, ranks, hasBrackets, type, declSpan));
            span = span.Union(declSpan);
        }
        while (At(TokenKind.Comma));
        return new DeclarationStatementSyntax(keyword.Text == "output", tensors, span);
    }

    private PartitionStatementSyntax ParsePartition()
    {
        var keyword = Take();
        const string Hint = "write 'partition M -> M1 x M0 with M0 = 64'";
        var parent = ExpectName("the size of the rank to split", Hint);
        Expect(TokenKind.Arrow, "'->'", Hint);
        var outer = ExpectName("the size of the outer (tile index) rank", Hint);
        if (!Current.IsIdentifier("x")) throw Expected("'x'", Hint);
        Take();
        var inner = ExpectName("the size of the inner (tile offset) rank", Hint);
        var span = keyword.Span.Union(inner.Span);
        ExpressionSyntax? tile = null;
        if (Current.IsIdentifier("with"))
        {
            Take();
            var named = ExpectName(inner.Text, Hint);
            if (named.Text != inner.Text)
            {
                _diagnostics.Add(DiagnosticDescriptors.Expected(named.Span, "'" + inner.Text + "'", "'" + named.Text + "'", "the tile size belongs to the inner rank: write 'with " + inner.Text + " = 64'"));
                throw new SyntaxErrorException();
            }
            Expect(TokenKind.Assign, "'='", Hint);
            tile = ParseExpression();
            span = span.Union(tile.Span);
        }
        return new PartitionStatementSyntax(parent, outer, inner, tile, span);
    }

    private IndexStatementSyntax ParseIndex()
    {
        var keyword = Take();
        const string Hint = "write 'index s in T' for a second index over the size T";
        var index = ExpectName("an index name", Hint);
        if (!Current.IsIdentifier("in")) throw Expected("'in'", Hint);
        Take();
        var size = ExpectName("a size", Hint);
        return new IndexStatementSyntax(index, size, keyword.Span.Union(size.Span));
    }

    private SizeStatementSyntax ParseSize()
    {
        var keyword = Take();
        const string Hint = "write 'size W' (or 'size W, S') for sizes given at run time that no tensor has";
        var sizes = new List<NameSyntax> { ExpectName("a size", Hint) };
        while (At(TokenKind.Comma))
        {
            Take();
            sizes.Add(ExpectName("a size", Hint));
        }
        return new SizeStatementSyntax(sizes, keyword.Span.Union(sizes[sizes.Count - 1].Span));
    }

    private IterateStatementSyntax ParseIterate(bool topLevel)
    {
        var keyword = Take();
        const string Hint = "write 'iterate m1 until m1 == M1 { ... }'";
        var rank = ExpectName("the index of the iterative rank", Hint);
        if (!Current.IsIdentifier("until")) throw Expected("'until'", Hint);
        Take();
        var until = ParseCondition();
        while (At(TokenKind.EndOfStatement)) Take();
        var open = Expect(TokenKind.LeftBrace, "'{'", "the Einsums of the iteration go in a block: " + Hint);
        var body = ParseStatements(topLevel: false);
        if (At(TokenKind.EndOfFile))
        {
            _diagnostics.Add(DiagnosticDescriptors.Expected(open.Span, "'}' to close this '{'", "the end of the spec", "close the 'iterate " + rank.Text + "' block with '}'"));
            throw new SyntaxErrorException();
        }
        var close = Expect(TokenKind.RightBrace, "'}'", "close the 'iterate " + rank.Text + "' block with '}'");
        if (!topLevel)
            _diagnostics.Add(DiagnosticDescriptors.NestedIterate(keyword.Span));
        return new IterateStatementSyntax(rank, until, body, keyword.Span.Union(close.Span));
    }

    private EinsumStatementSyntax ParseEinsum()
    {
        var isInit = false;
        var first = Current;
        if (Current.IsIdentifier("init") && PeekToken(1).Kind == TokenKind.Identifier)
        {
            isInit = true;
            Take();
        }
        var nameToken = Expect(TokenKind.Identifier, "a tensor name");
        var target = ParseAccessRest(new NameSyntax(nameToken.Text, nameToken.Span));
        Expect(TokenKind.Assign, "'='", "an Einsum is written 'OUT[i,j] = expression'");
        var body = ParseRightHandSide();
        ConditionSyntax? where = null;
        var span = first.Span.Union(body.Span);
        if (Current.IsIdentifier("where"))
        {
            Take();
            where = ParseCondition();
            span = span.Union(where.Span);
        }
        var text = _text.Substring(span.Start, Math.Min(span.Length, _text.Length - span.Start));
        return new EinsumStatementSyntax(isInit, target, body, where, text, span);
    }

    private ExpressionSyntax ParseRightHandSide()
    {
        // A leading reduction covers the whole right-hand side: 'sum[m] A[m,p] * V[f,m]'.
        if (IsReductionStart())
            return ParseReduction(operandParser: ParseExpression);
        return ParseExpression();
    }

    private bool IsReductionStart() =>
        Current.Kind == TokenKind.Identifier && ReductionOperators.Contains(Current.Text) && PeekToken(1).Kind == TokenKind.LeftBracket;

    private ReductionSyntax ParseReduction(Func<ExpressionSyntax> operandParser)
    {
        var op = Take();
        Take(); // '['
        var ranks = new List<NameSyntax>();
        if (!At(TokenKind.RightBracket))
        {
            do
            {
                if (ranks.Count > 0) Take();
                ranks.Add(ExpectName("a rank index to reduce over", "write for example '" + op.Text + "[m] X[m,p]'"));
            }
            while (At(TokenKind.Comma));
        }
        Expect(TokenKind.RightBracket, "',' or ']'");
        var operand = operandParser();
        return Deeper(new ReductionSyntax(new NameSyntax(op.Text, op.Span), ranks, operand, op.Span.Union(operand.Span)), _depth);
    }

    private ConditionSyntax ParseCondition()
    {
        var comparisons = new List<ComparisonSyntax>();
        do
        {
            if (comparisons.Count > 0) Take(); // 'and'
            var left = ParseExpression();
            var op = Current.Kind;
            if (op is not (TokenKind.Less or TokenKind.LessEqual or TokenKind.Greater or TokenKind.GreaterEqual or TokenKind.Equal or TokenKind.NotEqual))
                throw Expected("a comparison (<=, <, >=, >, ==, !=)", "a condition compares indices, e.g. 'm <= p'");
            Take();
            var right = ParseExpression();
            comparisons.Add(new ComparisonSyntax(left, op, right, left.Span.Union(right.Span)));
        }
        while (Current.IsIdentifier("and"));
        return new ConditionSyntax(comparisons, comparisons[0].Span.Union(comparisons[comparisons.Count - 1].Span));
    }

    /// <summary>
    /// The deepest an expression may nest: parentheses, calls, subscripts, signs and reductions inside each other, and
    /// operands chained by operators (<c>a + b + c</c> is a tree two deep). Every walk of the syntax tree and the IR
    /// recurses along this depth, so a bound here keeps every later stage from overflowing the compiler's stack.
    /// </summary>
    public const int MaxExpressionDepth = 256;

    // The depth of the expression the last Parse* call returned, and how far the parser has descended.
    private int _depth;
    private int _descent;

    /// <summary>Sets the depth of a node built from children of depth <paramref name="childDepth"/>; reports KRN0033 past the bound.</summary>
    private T Deeper<T>(T node, int childDepth) where T : ExpressionSyntax
    {
        _depth = childDepth + 1;
        if (_depth > MaxExpressionDepth) throw TooDeep(node.Span);
        return node;
    }

    private SyntaxErrorException TooDeep(SourceSpan span)
    {
        _diagnostics.Add(DiagnosticDescriptors.TooDeep(span, MaxExpressionDepth));
        return new SyntaxErrorException();
    }

    /// <summary>Runs a parser one level further down, refusing to go past the bound (before the stack could overflow).</summary>
    private T Descend<T>(Func<T> parse)
    {
        if (++_descent > MaxExpressionDepth)
        {
            _descent = 0;
            throw TooDeep(Current.Span);
        }
        try
        {
            return parse();
        }
        finally
        {
            if (_descent > 0) _descent--;
        }
    }

    private ExpressionSyntax ParseExpression() => Descend(() =>
    {
        var left = ParseTerm();
        var depth = _depth;
        while (At(TokenKind.Plus) || At(TokenKind.Minus))
        {
            var op = Take().Kind;
            var right = ParseTerm();
            left = Deeper(new BinarySyntax(op, left, right, left.Span.Union(right.Span)), Math.Max(depth, _depth));
            depth = _depth;
        }
        _depth = depth;
        return left;
    });

    private ExpressionSyntax ParseTerm()
    {
        var left = ParseUnary();
        var depth = _depth;
        while (At(TokenKind.Star) || At(TokenKind.Slash) || At(TokenKind.Percent))
        {
            var op = Take().Kind;
            var right = ParseUnary();
            left = Deeper(new BinarySyntax(op, left, right, left.Span.Union(right.Span)), Math.Max(depth, _depth));
            depth = _depth;
        }
        _depth = depth;
        return left;
    }

    private ExpressionSyntax ParseUnary()
    {
        if (At(TokenKind.Minus) || At(TokenKind.Plus))
        {
            var op = Take();
            var operand = Descend(ParseUnary);
            return op.Kind == TokenKind.Plus ? operand : Deeper(new UnarySyntax(TokenKind.Minus, operand, op.Span.Union(operand.Span)), _depth);
        }
        return ParsePower();
    }

    /// <summary><c>base ^ exponent</c>: tighter than a sign on its left (-x ^ 2 is -(x^2)), right-associative, and the
    /// exponent may carry a sign (x ^ -2).</summary>
    private ExpressionSyntax ParsePower()
    {
        var left = ParsePrimary();
        if (!At(TokenKind.Caret)) return left;
        var depth = _depth;
        Take();
        var right = Descend(ParseUnary);
        return Deeper(new BinarySyntax(TokenKind.Caret, left, right, left.Span.Union(right.Span)), Math.Max(depth, _depth));
    }

    private ExpressionSyntax ParsePrimary()
    {
        var token = Current;
        switch (token.Kind)
        {
            case TokenKind.Number:
                Take();
                if (!double.TryParse(token.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || double.IsInfinity(value))
                {
                    _diagnostics.Add(DiagnosticDescriptors.MalformedNumber(token.Span, token.Text));
                    value = 0;
                }
                _depth = 1;
                return new NumberSyntax(value, token.Text, token.Span);
            case TokenKind.LeftParen:
            {
                Take();
                var inner = ParseExpression();
                var depth = _depth;
                var close = Close(TokenKind.RightParen, token, ")", "')'");
                return Deeper(new ParenthesizedSyntax(inner, token.Span.Union(close.Span)), depth);
            }
            case TokenKind.Identifier:
            {
                if (IsReductionStart())
                    return Descend(() => ParseReduction(operandParser: ParseTerm)); // a nested reduction covers a product: a - sum[c] T*Z + b
                Take();
                var name = new NameSyntax(token.Text, token.Span);
                if (At(TokenKind.LeftParen))
                {
                    var open = Take();
                    var args = new List<ExpressionSyntax>();
                    var depth = 0;
                    if (!At(TokenKind.RightParen))
                    {
                        do
                        {
                            if (args.Count > 0) Take();
                            args.Add(ParseExpression());
                            depth = Math.Max(depth, _depth);
                        }
                        while (At(TokenKind.Comma));
                    }
                    var close = Close(TokenKind.RightParen, open, ")", "',' or ')'");
                    return Deeper(new CallSyntax(name, args, token.Span.Union(close.Span)), depth);
                }
                if (At(TokenKind.LeftBracket)) return ParseAccessRest(name);
                _depth = 1;
                return new NameExpressionSyntax(name, token.Span);
            }
            default:
                throw Expected("an expression", "an expression is a number, a tensor access such as X[i,j], a size, or a function call");
        }
    }

    private AccessSyntax ParseAccessRest(NameSyntax name)
    {
        var indices = new List<ExpressionSyntax>();
        var span = name.Span;
        var depth = 0;
        if (At(TokenKind.LeftBracket))
        {
            var open = Take();
            if (!At(TokenKind.RightBracket))
            {
                do
                {
                    if (indices.Count > 0) Take();
                    indices.Add(ParseExpression());
                    depth = Math.Max(depth, _depth);
                }
                while (At(TokenKind.Comma));
            }
            span = span.Union(Close(TokenKind.RightBracket, open, "]", "',' or ']'").Span);
        }
        return Deeper(new AccessSyntax(name, indices, span), depth);
    }
}
