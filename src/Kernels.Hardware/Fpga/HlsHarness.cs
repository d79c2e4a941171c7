using System.Text;

namespace Kernels.Hardware.Fpga;

/// <summary>
/// A C-simulation test bench for an emitted design: reads every input (element count, then values) from the
/// file named by argv[1], calls the top function, and prints every output (name, count, then one value per line).
/// </summary>
public static class HlsHarness
{
    public static string Emit(HlsDesign design, string kernelFile)
    {
        var w = new StringBuilder();
        w.AppendLine($"// C simulation test bench for {design.TopFunction}.");
        w.AppendLine("#include <cstdio>");
        w.AppendLine("#include <vector>");
        w.AppendLine($"#include \"{kernelFile}\"");
        w.AppendLine();
        w.AppendLine($"using {design.Namespace}::data_t;");
        w.AppendLine();
        w.AppendLine("template <typename T> static bool read_tensor(FILE* in, std::vector<T>& v) {");
        w.AppendLine("    long n = 0;");
        w.AppendLine("    if (std::fscanf(in, \"%ld\", &n) != 1) return false;");
        w.AppendLine("    v.resize(n);");
        w.AppendLine("    for (long i = 0; i < n; ++i) { double x; if (std::fscanf(in, \"%lf\", &x) != 1) return false; v[i] = (T)x; }");
        w.AppendLine("    return true;");
        w.AppendLine("}");
        w.AppendLine();
        w.AppendLine("int main(int argc, char** argv) {");
        w.AppendLine("    if (argc < 2) { std::fprintf(stderr, \"usage: %s inputs.txt\\n\", argv[0]); return 2; }");
        w.AppendLine("    FILE* in = std::fopen(argv[1], \"r\");");
        w.AppendLine("    if (!in) { std::fprintf(stderr, \"cannot open %s\\n\", argv[1]); return 2; }");
        foreach (var t in design.Inputs)
        {
            w.AppendLine($"    std::vector<{(t.ElementType == Kernels.Einsum.Ir.ElementType.Int32 ? "int" : "data_t")}> {t.Name};");
            w.AppendLine($"    if (!read_tensor(in, {t.Name})) {{ std::fprintf(stderr, \"bad input {t.Name}\\n\"); return 3; }}");
        }
        w.AppendLine("    std::fclose(in);");
        foreach (var t in design.Outputs)
        {
            w.AppendLine($"    std::vector<data_t> {t.Name}({design.ElementCounts[t.Name]});");
        }
        w.AppendLine($"    {design.Namespace}::{design.TopFunction}({string.Join(", ", design.Inputs.Select(t => t.Name + ".data()").Concat(design.Outputs.Select(t => t.Name + ".data()")))});");
        foreach (var t in design.Outputs)
        {
            w.AppendLine($"    std::printf(\"{t.Name} %ld\\n\", (long){t.Name}.size());");
            w.AppendLine($"    for (size_t i = 0; i < {t.Name}.size(); ++i) std::printf(\"%.9g\\n\", (double){t.Name}[i]);");
        }
        w.AppendLine("    return 0;");
        w.AppendLine("}");
        return w.ToString();
    }
}
