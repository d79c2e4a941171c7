using System.Collections;
using System.Globalization;
using System.Reflection;
using System.Text;
using Kernels.Einsum.Analysis;
using Kernels.Einsum.Ir;

namespace Kernels.Generators.Tests;

/// <summary>
/// A full, deterministic text of an object graph (every public property, lists in order, dictionaries by key), so that
/// two cascades or two analyses compare field by field: the IR's records compare tensors by name only and lists by reference.
/// </summary>
public static class StructureDump
{
    public static string Of(object? value)
    {
        var sb = new StringBuilder();
        Write(value, sb, 0);
        return sb.ToString();
    }

    private static void Write(object? value, StringBuilder sb, int depth)
    {
        if (depth > 64) throw new InvalidOperationException("The object graph is deeper than 64: a cycle?");
        switch (value)
        {
            case null: sb.Append("null"); return;
            case string s: sb.Append('"').Append(s.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n").Replace("\r", "\\r")).Append('"'); return;
            case double d: sb.Append(d.ToString("R", CultureInfo.InvariantCulture)); return;
            case float f: sb.Append(f.ToString("R", CultureInfo.InvariantCulture)); return;
            case IFormattable or bool or Enum: sb.Append(Convert.ToString(value, CultureInfo.InvariantCulture)); return;
            case SizePolynomial p: sb.Append("poly(").Append(p).Append(')'); return;
            case IEnumerable e:
                var items = e.Cast<object?>().ToList();
                if (items.Count > 0 && items[0] is { } first && first.GetType().IsGenericType && first.GetType().GetGenericTypeDefinition() == typeof(KeyValuePair<,>))
                    items = items.OrderBy(i => Convert.ToString(i!.GetType().GetProperty("Key")!.GetValue(i), CultureInfo.InvariantCulture), StringComparer.Ordinal).ToList();
                sb.Append('[');
                for (var i = 0; i < items.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    Write(items[i], sb, depth + 1);
                }
                sb.Append(']');
                return;
        }
        var type = value.GetType();
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(KeyValuePair<,>))
        {
            Write(type.GetProperty("Key")!.GetValue(value), sb, depth + 1);
            sb.Append(": ");
            Write(type.GetProperty("Value")!.GetValue(value), sb, depth + 1);
            return;
        }
        sb.Append(type.Name).Append(" { ");
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetIndexParameters().Length == 0).OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            sb.Append(property.Name).Append('=');
            // A read names its tensor; the tensor itself is written where the cascade lists it.
            if (value is TensorRead read && property.Name == nameof(TensorRead.Tensor)) sb.Append(read.Tensor.Name);
            else Write(property.GetValue(value), sb, depth + 1);
            sb.Append("; ");
        }
        sb.Append('}');
    }
}
