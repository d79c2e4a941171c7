using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Kernels.Generators;

/// <summary>
/// Maps each character of a string literal's value to its position in the source, through escapes
/// (regular strings), doubled quotes (verbatim) and removed indentation (raw strings), so a spec
/// error lands on the exact characters the user wrote. The map is checked against the compiler's
/// own value; when they differ the whole literal is used instead.
/// </summary>
internal static class StringLiteralMap
{
    public static SpecLiteral? Build(ExpressionSyntax expression, string value, CancellationToken ct)
    {
        var fallback = LocationInfo.From(expression.GetLocation());
        if (fallback is null) return null;
        var empty = new SpecLiteral(fallback.FilePath, default, default, default, fallback);
        if (expression is not LiteralExpressionSyntax { Token: var token } || token.SyntaxTree is null) return empty;

        var offsets = token.Kind() switch
        {
            SyntaxKind.StringLiteralToken when token.Text.StartsWith("@", StringComparison.Ordinal) => Verbatim(token.Text),
            SyntaxKind.StringLiteralToken => Regular(token.Text),
            SyntaxKind.SingleLineRawStringLiteralToken => SingleLineRaw(token.Text),
            SyntaxKind.MultiLineRawStringLiteralToken => MultiLineRaw(token.Text),
            _ => null,
        };
        if (offsets is null) return empty;
        var decoded = new string(offsets.Select(o => o.Char).ToArray());
        if (!string.Equals(decoded, value, StringComparison.Ordinal)) return empty;

        var text = token.SyntaxTree.GetText(ct);
        var start = token.SpanStart;
        // The end of the spec maps just after its last character (inside the literal, not past the closing quotes);
        // an empty spec maps to the literal itself.
        var end = offsets.Count > 0 ? start + offsets[offsets.Count - 1].Offset + 1 : token.SpanStart;
        var positions = offsets.Select(o => start + o.Offset).Concat(new[] { end }).ToList();
        var lines = new List<int>(positions.Count);
        var columns = new List<int>(positions.Count);
        foreach (var p in positions)
        {
            var lp = text.Lines.GetLinePosition(Math.Min(p, text.Length));
            lines.Add(lp.Line);
            columns.Add(lp.Character);
        }
        return new SpecLiteral(fallback.FilePath, EquatableArray.From(positions), EquatableArray.From(lines), EquatableArray.From(columns), fallback);
    }

    private readonly struct Mapped(char c, int offset)
    {
        public char Char { get; } = c;
        public int Offset { get; } = offset;
    }

    private static List<Mapped>? Regular(string text)
    {
        var list = new List<Mapped>();
        var i = 1;
        while (i < text.Length - 1)
        {
            var c = text[i];
            if (c != '\\')
            {
                list.Add(new Mapped(c, i));
                i++;
                continue;
            }
            if (i + 1 >= text.Length - 1) return null;
            var e = text[i + 1];
            switch (e)
            {
                case '\'': list.Add(new Mapped('\'', i)); i += 2; break;
                case '"': list.Add(new Mapped('"', i)); i += 2; break;
                case '\\': list.Add(new Mapped('\\', i)); i += 2; break;
                case '0': list.Add(new Mapped('\0', i)); i += 2; break;
                case 'a': list.Add(new Mapped('\a', i)); i += 2; break;
                case 'b': list.Add(new Mapped('\b', i)); i += 2; break;
                case 'e': list.Add(new Mapped('\u001b', i)); i += 2; break;
                case 'f': list.Add(new Mapped('\f', i)); i += 2; break;
                case 'n': list.Add(new Mapped('\n', i)); i += 2; break;
                case 'r': list.Add(new Mapped('\r', i)); i += 2; break;
                case 't': list.Add(new Mapped('\t', i)); i += 2; break;
                case 'v': list.Add(new Mapped('\v', i)); i += 2; break;
                case 'u':
                case 'x':
                case 'U':
                {
                    var max = e == 'U' ? 8 : 4;
                    var j = i + 2;
                    while (j < text.Length - 1 && j - (i + 2) < max && Uri.IsHexDigit(text[j])) j++;
                    if (j == i + 2 || (e != 'x' && j - (i + 2) != max)) return null;
                    var code = int.Parse(text.Substring(i + 2, j - (i + 2)), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                    foreach (var ch in char.ConvertFromUtf32(code)) list.Add(new Mapped(ch, i));
                    i = j;
                    break;
                }
                default: return null;
            }
        }
        return list;
    }

    private static List<Mapped> Verbatim(string text)
    {
        var list = new List<Mapped>();
        for (var i = 2; i < text.Length - 1; i++)
        {
            list.Add(new Mapped(text[i], i));
            if (text[i] == '"') i++;
        }
        return list;
    }

    private static int Quotes(string text)
    {
        var n = 0;
        while (n < text.Length && text[n] == '"') n++;
        return n;
    }

    private static List<Mapped> SingleLineRaw(string text)
    {
        var q = Quotes(text);
        var list = new List<Mapped>();
        for (var i = q; i < text.Length - q; i++) list.Add(new Mapped(text[i], i));
        return list;
    }

    private static List<Mapped>? MultiLineRaw(string text)
    {
        var q = Quotes(text);
        var bodyStart = text.IndexOf('\n', q);
        if (bodyStart < 0) return null;
        bodyStart++;
        var closing = text.Length - q;
        var lastNewline = text.LastIndexOf('\n', closing - 1);
        if (lastNewline < bodyStart - 1) return null;
        var indent = text.Substring(lastNewline + 1, closing - lastNewline - 1);
        // The content ends before the newline that precedes the closing line (\r\n or \n).
        var contentEnd = lastNewline > 0 && text[lastNewline - 1] == '\r' ? lastNewline - 1 : lastNewline;
        var list = new List<Mapped>();
        var pos = bodyStart;
        while (pos <= contentEnd)
        {
            var lineEnd = text.IndexOf('\n', pos);
            if (lineEnd < 0 || lineEnd > contentEnd) lineEnd = contentEnd;
            var lineTextEnd = lineEnd > pos && text[lineEnd - 1] == '\r' && lineEnd != contentEnd ? lineEnd - 1 : lineEnd;
            var line = text.Substring(pos, lineTextEnd - pos);
            if (line.Trim().Length == 0)
            {
                // A whitespace-only line is empty in the value.
            }
            else
            {
                if (!line.StartsWith(indent, StringComparison.Ordinal)) return null;
                for (var i = pos + indent.Length; i < lineTextEnd; i++) list.Add(new Mapped(text[i], i));
            }
            if (lineEnd >= contentEnd) break;
            for (var i = lineTextEnd; i <= lineEnd; i++) list.Add(new Mapped(text[i], i));
            pos = lineEnd + 1;
        }
        return list;
    }
}
