using System;
using System.Text;

namespace Kernels.Einsum.Emit;

/// <summary>An indenting line writer for emitted C#.</summary>
internal sealed class CodeWriter
{
    private readonly StringBuilder _text = new();
    private int _indent;

    public void Line(string line = "")
    {
        if (line.Length > 0) _text.Append(' ', _indent * 4).Append(line);
        _text.Append('\n');
    }

    public void Open(string line)
    {
        if (line.Length > 0) Line(line);
        Line("{");
        _indent++;
    }

    public void Close(string suffix = "")
    {
        _indent--;
        Line("}" + suffix);
    }

    public IDisposable Block(string line)
    {
        Open(line);
        return new Closer(this);
    }

    private sealed class Closer(CodeWriter writer) : IDisposable
    {
        public void Dispose() => writer.Close();
    }

    public override string ToString() => _text.ToString();
}
