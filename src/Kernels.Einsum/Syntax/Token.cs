namespace Kernels.Einsum.Syntax;

public enum TokenKind
{
    EndOfFile,
    EndOfStatement, // a newline outside brackets, or ';'
    Identifier,
    Number,
    LeftBracket,
    RightBracket,
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    Comma,
    Colon,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Caret,
    Assign,
    Equal,
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
    Arrow,
    Bad,
}

public readonly record struct Token(TokenKind Kind, string Text, SourceSpan Span)
{
    public bool IsIdentifier(string text) => Kind == TokenKind.Identifier && Text == text;
}
