using System.Collections.Generic;
using Kernels.Einsum.Diagnostics;

namespace Kernels.Einsum.Syntax;

/// <summary>
/// Turns spec text into tokens. Newlines end statements, except inside (...) and [...], so a long
/// right-hand side can continue on the next line. Never throws: a stray character becomes a
/// <see cref="TokenKind.Bad"/> token and a diagnostic.
/// </summary>
internal sealed class Lexer
{
    private readonly string _text;
    private readonly List<Diagnostic> _diagnostics;
    private int _position;
    private int _line = 1;
    private int _column = 1;
    private int _nesting;

    private Lexer(string text, List<Diagnostic> diagnostics)
    {
        _text = text;
        _diagnostics = diagnostics;
    }

    public static List<Token> Tokenize(string text, List<Diagnostic> diagnostics)
    {
        var lexer = new Lexer(text, diagnostics);
        var tokens = new List<Token>();
        while (true)
        {
            var token = lexer.Next();
            // Collapse runs of statement ends so the parser sees at most one between statements.
            if (token.Kind == TokenKind.EndOfStatement && (tokens.Count == 0 || tokens[tokens.Count - 1].Kind == TokenKind.EndOfStatement))
                continue;
            tokens.Add(token);
            if (token.Kind == TokenKind.EndOfFile) return tokens;
        }
    }

    private char Peek(int ahead = 0) => _position + ahead < _text.Length ? _text[_position + ahead] : '\0';

    private void Advance()
    {
        if (_text[_position] == '\n')
        {
            _line++;
            _column = 1;
        }
        else
        {
            _column++;
        }
        _position++;
    }

    private Token Next()
    {
        while (_position < _text.Length)
        {
            var c = Peek();
            if (c == '#' || (c == '/' && Peek(1) == '/'))
            {
                while (_position < _text.Length && Peek() != '\n') Advance();
                continue;
            }
            if (c == '\n' && _nesting == 0) break;
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v')
            {
                Advance();
                continue;
            }
            break;
        }

        int start = _position, line = _line, column = _column;
        if (_position >= _text.Length) return Make(TokenKind.EndOfFile, start, line, column);

        var ch = Peek();
        if (ch == '\n')
        {
            Advance();
            return Make(TokenKind.EndOfStatement, start, line, column);
        }
        if (char.IsLetter(ch) || ch == '_')
        {
            while (_position < _text.Length && (char.IsLetterOrDigit(Peek()) || Peek() == '_')) Advance();
            var identifier = Make(TokenKind.Identifier, start, line, column);
            if (ch == '_')
                _diagnostics.Add(DiagnosticDescriptors.NameConflict(identifier.Span,
                    $"Names starting with '_' are reserved for the generated code; write '{(identifier.Text.TrimStart('_').Length > 0 ? identifier.Text.TrimStart('_') : "x")}' instead of '{identifier.Text}'."));
            return identifier;
        }
        if (char.IsDigit(ch) || (ch == '.' && char.IsDigit(Peek(1))))
            return LexNumber(start, line, column);

        Advance();
        switch (ch)
        {
            case ';': return Make(TokenKind.EndOfStatement, start, line, column);
            case '[': _nesting++; return Make(TokenKind.LeftBracket, start, line, column);
            case ']': if (_nesting > 0) _nesting--; return Make(TokenKind.RightBracket, start, line, column);
            case '(': _nesting++; return Make(TokenKind.LeftParen, start, line, column);
            case ')': if (_nesting > 0) _nesting--; return Make(TokenKind.RightParen, start, line, column);
            // A brace starts a block of statements: newlines inside it end statements again.
            case '{': _nesting = 0; return Make(TokenKind.LeftBrace, start, line, column);
            case '}': _nesting = 0; return Make(TokenKind.RightBrace, start, line, column);
            case ',': return Make(TokenKind.Comma, start, line, column);
            case ':': return Make(TokenKind.Colon, start, line, column);
            case '+': return Make(TokenKind.Plus, start, line, column);
            case '*': return Make(TokenKind.Star, start, line, column);
            case '/': return Make(TokenKind.Slash, start, line, column);
            case '%': return Make(TokenKind.Percent, start, line, column);
            case '^': return Make(TokenKind.Caret, start, line, column);
            case '-':
                if (Peek() == '>') { Advance(); return Make(TokenKind.Arrow, start, line, column); }
                return Make(TokenKind.Minus, start, line, column);
            case '=':
                if (Peek() == '=') { Advance(); return Make(TokenKind.Equal, start, line, column); }
                return Make(TokenKind.Assign, start, line, column);
            case '!':
                if (Peek() == '=') { Advance(); return Make(TokenKind.NotEqual, start, line, column); }
                break;
            case '<':
                if (Peek() == '=') { Advance(); return Make(TokenKind.LessEqual, start, line, column); }
                return Make(TokenKind.Less, start, line, column);
            case '>':
                if (Peek() == '=') { Advance(); return Make(TokenKind.GreaterEqual, start, line, column); }
                return Make(TokenKind.Greater, start, line, column);
        }

        // One character, one error: a surrogate pair (an emoji) is one character.
        if (char.IsHighSurrogate(ch) && _position < _text.Length && char.IsLowSurrogate(Peek())) Advance();
        var bad = Make(TokenKind.Bad, start, line, column);
        _diagnostics.Add(DiagnosticDescriptors.UnexpectedCharacter(bad.Span, Printable(bad.Text)));
        return bad;
    }

    /// <summary>A character for a message: itself when it is printable ASCII, else its code point (U+0000, U+1F600).</summary>
    private static string Printable(string text)
    {
        if (text.Length == 1 && text[0] >= 0x20 && text[0] < 0x7F) return text;
        var codePoint = text.Length == 2 && char.IsSurrogatePair(text[0], text[1]) ? char.ConvertToUtf32(text[0], text[1]) : text[0];
        return "U+" + codePoint.ToString("X4", System.Globalization.CultureInfo.InvariantCulture);
    }

    private Token LexNumber(int start, int line, int column)
    {
        while (char.IsDigit(Peek())) Advance();
        if (Peek() == '.' && char.IsDigit(Peek(1)))
        {
            Advance();
            while (char.IsDigit(Peek())) Advance();
        }
        else if (Peek() == '.' && !char.IsLetter(Peek(1)))
        {
            Advance(); // "2." is a number too
        }
        if ((Peek() == 'e' || Peek() == 'E') &&
            (char.IsDigit(Peek(1)) || ((Peek(1) == '+' || Peek(1) == '-') && char.IsDigit(Peek(2)))))
        {
            Advance();
            if (Peek() == '+' || Peek() == '-') Advance();
            while (char.IsDigit(Peek())) Advance();
        }
        var token = Make(TokenKind.Number, start, line, column);
        // A number glued to letters ("2x", "1e") is a typo, not two tokens.
        if (char.IsLetter(Peek()) || Peek() == '_')
        {
            while (_position < _text.Length && (char.IsLetterOrDigit(Peek()) || Peek() == '_')) Advance();
            var bad = Make(TokenKind.Bad, start, line, column);
            _diagnostics.Add(DiagnosticDescriptors.MalformedNumber(bad.Span, bad.Text));
            return bad;
        }
        return token;
    }

    private Token Make(TokenKind kind, int start, int line, int column)
    {
        var length = _position - start;
        var span = new SourceSpan(start, length, line, column, _line, _column);
        return new Token(kind, _text.Substring(start, length), span);
    }
}
