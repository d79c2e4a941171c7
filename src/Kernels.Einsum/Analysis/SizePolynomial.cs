using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace Kernels.Einsum.Analysis;

/// <summary>
/// A polynomial in the sizes of a cascade (<c>2*M + F + 2</c>), so that counts can be reported
/// before sizes are bound, and evaluated once they are.
/// </summary>
public sealed class SizePolynomial : IEquatable<SizePolynomial>
{
    // Monomial (sorted size names joined by '*', "" for the constant term) -> coefficient.
    private readonly SortedDictionary<string, long> _terms;

    private SizePolynomial(SortedDictionary<string, long> terms) => _terms = terms;

    public static SizePolynomial Zero { get; } = new(new SortedDictionary<string, long>(StringComparer.Ordinal));

    public static SizePolynomial Constant(long value) => value == 0 ? Zero : new(new SortedDictionary<string, long>(StringComparer.Ordinal) { [""] = value });

    public static SizePolynomial Size(string name) => new(new SortedDictionary<string, long>(StringComparer.Ordinal) { [name] = 1 });

    /// <summary>A polynomial from its terms: a monomial (size names joined by <c>*</c>, <c>""</c> for the constant) and its coefficient.</summary>
    public static SizePolynomial FromTerms(params (string Monomial, long Coefficient)[] terms)
    {
        if (terms is null) throw new ArgumentNullException(nameof(terms));
        var result = Zero;
        foreach (var (monomial, coefficient) in terms)
        {
            if (monomial is null) throw new ArgumentException("A monomial is null; write \"\" for the constant term.", nameof(terms));
            var names = monomial.Split(new[] { '*' }, StringSplitOptions.RemoveEmptyEntries);
            var term = Constant(coefficient);
            foreach (var name in names) term *= Size(name.Trim());
            result += term;
        }
        return result;
    }

    /// <summary>The terms, constant first then by monomial: what <see cref="FromTerms"/> takes back.</summary>
    public IReadOnlyList<(string Monomial, long Coefficient)> Terms => _terms.Select(t => (t.Key, t.Value)).ToList();

    public static SizePolynomial operator +(SizePolynomial a, SizePolynomial b)
    {
        var terms = new SortedDictionary<string, long>(a._terms, StringComparer.Ordinal);
        foreach (var t in b._terms)
        {
            terms.TryGetValue(t.Key, out var c);
            if (c + t.Value == 0) terms.Remove(t.Key);
            else terms[t.Key] = c + t.Value;
        }
        return new SizePolynomial(terms);
    }

    public static SizePolynomial operator *(SizePolynomial a, SizePolynomial b)
    {
        var result = Zero;
        foreach (var x in a._terms)
            foreach (var y in b._terms)
            {
                var names = x.Key.Split(new[] { '*' }, StringSplitOptions.RemoveEmptyEntries)
                    .Concat(y.Key.Split(new[] { '*' }, StringSplitOptions.RemoveEmptyEntries))
                    .OrderBy(n => n, StringComparer.Ordinal);
                var key = string.Join("*", names);
                result += new SizePolynomial(new SortedDictionary<string, long>(StringComparer.Ordinal) { [key] = x.Value * y.Value });
            }
        return result;
    }

    public static SizePolynomial operator *(long k, SizePolynomial a) => Constant(k) * a;

    public bool IsZero => _terms.Count == 0;

    public double Evaluate(Func<string, long> size) =>
        _terms.Sum(t => t.Value * t.Key.Split(new[] { '*' }, StringSplitOptions.RemoveEmptyEntries).Aggregate(1.0, (acc, n) => acc * size(n)));

    public override string ToString()
    {
        if (_terms.Count == 0) return "0";
        // Highest degree first, the constant last: "2*M*P + F + 2".
        var ordered = _terms.OrderByDescending(t => t.Key.Length == 0 ? 0 : t.Key.Count(c => c == '*') + 1).ThenBy(t => t.Key, StringComparer.Ordinal);
        var parts = ordered.Select(t => t.Key.Length == 0 ? t.Value.ToString(CultureInfo.InvariantCulture)
            : t.Value == 1 ? t.Key : t.Value.ToString(CultureInfo.InvariantCulture) + "*" + t.Key);
        return string.Join(" + ", parts).Replace("+ -", "- ");
    }

    public bool Equals(SizePolynomial? other) => other is not null && _terms.SequenceEqual(other._terms);

    public override bool Equals(object? obj) => Equals(obj as SizePolynomial);

    public override int GetHashCode() => ToString().GetHashCode();
}
