using System;

namespace Kernels.Einsum.Syntax;

/// <summary>A range of the spec text: a character offset and length, and 1-based line/column of both ends.</summary>
public readonly record struct SourceSpan(int Start, int Length, int StartLine, int StartColumn, int EndLine, int EndColumn)
{
    public int End => Start + Length;

    public static SourceSpan Empty => default;

    /// <summary>The smallest span that covers both.</summary>
    public SourceSpan Union(SourceSpan other)
    {
        if (Length == 0 && Start == 0 && StartLine == 0) return other;
        if (other.Length == 0 && other.Start == 0 && other.StartLine == 0) return this;
        var first = other.Start < Start ? other : this;
        var last = other.End > End ? other : this;
        return new SourceSpan(first.Start, Math.Max(last.End - first.Start, 0), first.StartLine, first.StartColumn, last.EndLine, last.EndColumn);
    }

    public override string ToString() => $"({StartLine},{StartColumn})-({EndLine},{EndColumn})";
}
