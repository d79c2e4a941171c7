using System;
using System.Collections;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Kernels.Generators;

/// <summary>An immutable array with structural equality, so pipeline steps compare by content and stay cached.</summary>
internal readonly struct EquatableArray<T>(ImmutableArray<T> items) : IEquatable<EquatableArray<T>>, IEnumerable<T>
    where T : IEquatable<T>
{
    private readonly ImmutableArray<T> _items = items;

    public ImmutableArray<T> Items => _items.IsDefault ? ImmutableArray<T>.Empty : _items;

    public int Count => Items.Length;

    public bool Equals(EquatableArray<T> other) => Items.SequenceEqual(other.Items);

    public override bool Equals(object? obj) => obj is EquatableArray<T> other && Equals(other);

    public override int GetHashCode()
    {
        var hash = 17;
        foreach (var item in Items) hash = hash * 31 + (item?.GetHashCode() ?? 0);
        return hash;
    }

    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)Items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

internal static class EquatableArray
{
    public static EquatableArray<T> From<T>(IEnumerable<T> items) where T : IEquatable<T> => new(items.ToImmutableArray());
}

/// <summary>A place in a file, without holding a SyntaxTree, so it can live in the cached model.</summary>
internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);

    public static LocationInfo? From(Location? location) =>
        location is null || location.SourceTree is null ? null
        : new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
}

/// <summary>A diagnostic waiting to be reported: descriptor ID, place and message arguments.</summary>
internal sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Arguments)
{
    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] arguments) =>
        new(descriptor.Id, location, EquatableArray.From(arguments));
}

internal sealed record ParameterModel(string Name, string Type, bool IsByValue, LocationInfo? Location);

internal sealed record TypeModel(string Keyword, string Name, bool IsPartial, LocationInfo? Location);

/// <summary>
/// Everything the generator needs from one [Einsum] declaration, as plain values: no ISymbol,
/// SyntaxNode or Compilation, so an edit elsewhere leaves it equal and the step cached.
/// </summary>
internal sealed record DeclarationModel(
    string? Namespace,
    EquatableArray<TypeModel> ContainingTypes,
    string Accessibility,
    string MethodName,
    bool IsStatic,
    bool IsPartialWithoutBody,
    bool ReturnsVoidWithoutTypeParameters,
    EquatableArray<ParameterModel> Parameters,
    string? Spec,
    SpecLiteral? SpecLiteral,
    string? SpecFile,
    int MaxDegreeOfParallelism,
    string? ParallelRank,
    int RowBlocking,
    string? Schedule,
    SpecLiteral? ScheduleLiteral,
    LocationInfo? MethodLocation,
    LocationInfo? AttributeLocation,
    bool DescriptorNameTaken,
    int KernelsWithThisName);

/// <summary>Maps offsets in a string literal's value back to the literal's source text.</summary>
/// <param name="FilePath">The file that holds the literal.</param>
/// <param name="SourceOffsets">For each character of the value, its position in the file (one extra entry: the end).</param>
/// <param name="Lines">The 0-based line of each of those positions.</param>
/// <param name="Columns">The 0-based column of each of those positions.</param>
/// <param name="Fallback">The whole literal, used when the map could not be built.</param>
internal sealed record SpecLiteral(string FilePath, EquatableArray<int> SourceOffsets, EquatableArray<int> Lines, EquatableArray<int> Columns, LocationInfo Fallback)
{
    /// <summary>The source location of a range of the value, or the whole literal when there is no map.</summary>
    public LocationInfo Map(int start, int length)
    {
        var n = SourceOffsets.Count - 1;
        if (n < 0 || start < 0 || start > n) return Fallback;
        var end = Math.Min(n, start + Math.Max(length, 0));
        var from = SourceOffsets.Items[start];
        var to = end > start ? SourceOffsets.Items[end - 1] + 1 : from;
        var toLine = end > start ? Lines.Items[end - 1] : Lines.Items[start];
        var toColumn = end > start ? Columns.Items[end - 1] + 1 : Columns.Items[start];
        return new LocationInfo(FilePath, TextSpan.FromBounds(from, Math.Max(from, to)),
            new LinePositionSpan(new LinePosition(Lines.Items[start], Columns.Items[start]), new LinePosition(toLine, toColumn)));
    }
}

/// <summary>A spec file from AdditionalFiles.</summary>
internal sealed record SpecFileModel(string Path, string Text);

/// <summary>What one declaration turns into: the kernel's source file and its descriptor's (or none), and diagnostics.</summary>
internal sealed record KernelOutput(string? HintName, string? Source, string? DescriptorSource, EquatableArray<DiagnosticInfo> Diagnostics)
{
    /// <summary>The ILGPU kernels, when the compilation references Kernels.Gpu.</summary>
    public string? GpuSource { get; init; }

    public static KernelOutput Failed(List<DiagnosticInfo> diagnostics) => new(null, null, null, EquatableArray.From(diagnostics));
}
