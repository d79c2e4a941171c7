using Kernels.Einsum.Diagnostics;
using Kernels.Einsum.Ir;

namespace Kernels.Einsum.Tests;

/// <summary>Each diagnostic with its ID and exact span (line, column, length).</summary>
public class DiagnosticTests
{
    private const string Header = "input X[p,e], W[e]\noutput Y[p]\n";

    private static Diagnostic Single(string text, string id)
    {
        var result = CascadeCompiler.Compile(text);
        Assert.False(result.Success);
        var errors = result.Diagnostics.Where(d => d.IsError).ToList();
        Assert.True(errors.Count >= 1, "no error reported");
        var d = errors.FirstOrDefault(x => x.Id == id);
        Assert.True(d is not null, $"expected {id}, got: {string.Join("; ", errors)}");
        return d!;
    }

    [Theory]
    [InlineData("\U0001F600", "U+1F600")]
    [InlineData("\0", "U+0000")]
    [InlineData("\u20ac", "U+20AC")]
    [InlineData("$", "'$'")]
    public void An_unexpected_character_is_one_error_printed_escaped(string character, string printed)
    {
        var text = Header + "Y[p] = sum[e] X[p,e] " + character + " 2";
        var errors = CascadeCompiler.Compile(text).Diagnostics.Where(d => d.Id == "KRN0001").ToList();
        var d = Assert.Single(errors);
        Assert.Contains(printed, d.Message);
        Assert.Equal(character, text.Substring(d.Span.Start, d.Span.Length));
        Assert.All(d.Message, c => Assert.InRange(c, ' ', '~'));
    }

    /// <summary>Only filters read values, of inputs, at their declared ranks: each misuse is KRN0031 on the read, and says what to write.</summary>
    [Theory]
    [InlineData("input X[b,m], N[b]\noutput Y[b,m]\nY[b,m] = X[b, N[b]]", "N[b]", "only a filter can ('where m < N[b]')")]
    [InlineData("input X[b,m], N[b]\noutput Y[b,m]\nY[b,m] = X[b,m] where m < N[m]", "N[m]", "write 'N[b]'")]
    [InlineData("input X[b,m], N[b]\noutput Y[b,m]\nY[b,m] = X[b,m] where m < N[b+1]", "N[b+1]", "write 'N[b]'")]
    [InlineData("input X[b,m]\noutput Y[b,m]\nS[b] = sum[m] X[b,m]\nY[b,m] = X[b,m] where m < S[b]", "S[b]", "computed by the cascade")]
    public void A_value_in_a_subscript_or_filter_is_read_as_declared(string text, string marked, string hint)
    {
        var d = Single(text, "KRN0031");
        AssertSpan(d, text, text.Split('\n').Length, marked);
        Assert.Contains(hint, d.Message);
    }

    [Fact]
    public void A_misspelled_keyword_is_named()
    {
        var d = Single("input X[p]\nouput Y[p]\nY[p] = X[p]", "KRN0002");
        Assert.Contains("did you mean 'output'?", d.Message);
    }

    /// <summary>Asserts that the diagnostic's span covers exactly <paramref name="marked"/> at its first occurrence on <paramref name="line"/>.</summary>
    private static void AssertSpan(Diagnostic d, string text, int line, string marked)
    {
        var lines = text.Split('\n');
        var column = lines[line - 1].IndexOf(marked, StringComparison.Ordinal) + 1;
        Assert.True(column > 0, $"'{marked}' not on line {line}");
        Assert.Equal(line, d.Span.StartLine);
        Assert.Equal(column, d.Span.StartColumn);
        Assert.Equal(marked.Length, d.Span.Length);
        Assert.Equal(marked, text.Substring(d.Span.Start, d.Span.Length));
        Assert.True(d.Span.Length > 0);
    }

    [Theory]
    [InlineData("KRN0001", Header + "Y[p] = X[p,e] $ 2", 3, "$")]
    [InlineData("KRN0002", Header + "Y[p] = X[p,e] *", 3, "")]
    [InlineData("KRN0003", Header + "Y[p] = X[p,e] * 2x", 3, "2x")]
    [InlineData("KRN0004", "input X[p]\ninput X[p]\noutput Y[p]\nY[p] = X[p]", 2, "X")]
    [InlineData("KRN0005", Header + "Y[p] = Z[p,e]", 3, "Z")]
    [InlineData("KRN0006", Header + "Y[p] = X[e,p]", 3, "e")]
    [InlineData("KRN0007", "input X[p]\noutput Y[p,q]\nY[p,q] = X[p]", 3, "q")]
    [InlineData("KRN0008", Header + "T[p] = Y[p] + X[p,e]\nY[p] = T[p]", 3, "T[p] = Y[p] + X[p,e]")]
    [InlineData("KRN0009", "input U[t]\noutput Y[t]\niterate t until t == T {\n  X[t+1] = X[t] + U[t]\n  Y[t] = X[t+1]\n}", 4, "X[t+1]")]
    [InlineData("KRN0010", "input A[p], B[p,q]\noutput Y[p]\nY[p] = A[p] / B[p,q]", 3, "A[p] / B[p,q]")]
    [InlineData("KRN0011", Header + "Y[p] = X[p,e]\nY[p] = W[e]", 4, "Y")]
    [InlineData("KRN0012", Header + "X[p,e] = W[e]\nY[p] = X[p,e]", 3, "X")]
    [InlineData("KRN0013", "input X[p]\noutput Y[p], Z[p]\nY[p] = X[p]", 2, "Z[p]")]
    [InlineData("KRN0014", Header + "Y[p] = expp(X[p,e])", 3, "expp")]
    [InlineData("KRN0015", Header + "Y[p] = X[p,e] * Q", 3, "Q")]
    [InlineData("KRN0016", "input X[m], W[e]\noutput Y[m]\npartition M -> M1 x M0 with M0 = 4\niterate m1 until m1 == M1 {\n  init S[0] = 2 * sum[e] W[e]\n  S[m1+1] = S[m1] + X[m1*M0]\n}\nY[m] = S[M1] + X[m]", 5, "sum")]
    [InlineData("KRN0017", "input X[p,e,f]\noutput Y[p]\nY[p] = max[e] X[p,e,f]", 3, "max[e")]
    [InlineData("KRN0018", "input X[p]\noutput Y[p]\nY[p*2] = X[p]", 3, "p*2")]
    [InlineData("KRN0019", "input X[m]\noutput Y[m]\npartition N -> N1 x N0\nY[m] = X[m]", 3, "N")]
    [InlineData("KRN0020", "input X[m]\noutput Y[m]\niterate q until q == Q {\n}\nY[m] = X[m]", 3, "q")]
    [InlineData("KRN0021", "input X[m]\noutput Y[m]\ninit Y[m] = X[m]", 3, "init Y[m] = X[m]")]
    [InlineData("KRN0025", "input X[p]\nkernel late\noutput Y[p]\nY[p] = X[p]", 2, "kernel late")]
    [InlineData("KRN0026", "input X[p] : f64\noutput Y[p]\nY[p] = X[p]", 1, "f64")]
    [InlineData("KRN0026", "input X[p] : i32\noutput Y[p] : i32\nY[p] = X[p]", 2, "i32")]
    [InlineData("KRN0027", "input E[p], X[e]\noutput Y[p]\nY[p] = E[p] * X[E-1-e]", 1, "E")]
    [InlineData("KRN0027", "input X[m], M0\noutput Y[m]\npartition M -> M1 x M0 with M0 = 4\nY[m] = X[m] * M0", 1, "M0")]
    [InlineData("KRN0027", "input X[m], M_size\noutput Y[m]\nM[m] = X[m] * M_size\nY[m] = M[m]", 3, "M")]
    [InlineData("KRN0002", "input X[p]\nouput Y[p]\nY[p] = X[p]", 2, "ouput")]
    [InlineData("KRN0005", Header + "Y[p] = log(sum[e] exp(Q[p,e]))", 3, "Q")]
    [InlineData("KRN0018", "input U[l,j]\noutput Y[l,j]\niterate l until l == L {\n  init S[0,j] = 0\n  S[l+1,j] = S[l,j] * 0.5 + U[l,j]\n  W[] = S[l+1,j] * U[l,j]\n}\nY[l,j] = S[l,j]", 6, "W")]
    [InlineData("KRN0002", Header + "Y[p] = (X[p,e] * 2", 3, "(")]
    [InlineData("KRN0002", Header + "Y[p] = exp(X[p,e] * 2", 3, "(")]
    [InlineData("KRN0002", "input X[m]\noutput Y[m]\npartition M -> M1 x M0 with M0 = 4\niterate m1 until m1 == M1 {\n  init S[0] = 0\n  S[m1+1] = S[m1] + 1\n", 4, "{")]
    [InlineData("KRN0027", "input X[m]\noutput Y[m]\nM[m] = X[m] + 1\nY[m] = M[m] where m < M - 1", 3, "M")]
    [InlineData("KRN0027", "input X[p]\noutput Y[p]\np[p] = X[p] + 1\nY[p] = p[p]", 3, "p")]
    [InlineData("KRN0027", "input _acc[p]\noutput Y[p]\nY[p] = _acc[p]", 1, "_acc")]
    [InlineData("KRN0028", "input U[t]\noutput Y[t]\niterate t until t == T {\n  init X[0] = 0\n  X[t+1] = X[t] + U[t]\n  Y[t] = X[t+2]\n}", 6, "Y[t] = X[t+2]")]
    [InlineData("KRN0029", "input X[p]\nY[p] = X[p]", 0, "")]
    [InlineData("KRN0030", "input X[p,e], W[q]\noutput Y[p]\nY[p] = X[p,e] where q < p", 3, "q < p")]
    [InlineData("KRN0031", Header + "Y[p] = X[p, e^2]", 3, "e^2")]
    [InlineData("KRN0032", Header + "Y[p] = X * 2", 3, "X")]
    [InlineData("KRN0006", "input X[p]\noutput Y[p]\nsize w\nY[p] = X[p]", 3, "w")]
    [InlineData("KRN0027", "input X[m]\noutput Y[m]\nsize W, M\nY[m] = X[m] where m < W", 3, "M")]
    [InlineData("KRN0002", "input X[m]\noutput Y[m]\nsize W,\nY[m] = X[m]", 3, "")]
    public void ReportsTheRightIdAtTheRightPlace(string id, string text, int line, string marked)
    {
        var d = Single(text, id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.False(string.IsNullOrWhiteSpace(d.Message));
        if (line == 0) return; // a cascade-wide error has no place
        if (marked.Length == 0)
        {
            Assert.Equal(line, d.Span.StartLine);
            return;
        }
        AssertSpan(d, text, line, marked);
    }

    [Fact]
    public void An_integer_output_says_what_to_write_and_an_integer_input_compiles()
    {
        var d = Single("input X[p] : i32\noutput Y[p] : i32\nY[p] = X[p]", "KRN0026");
        Assert.Contains("'Y' cannot be i32", d.Message);
        Assert.Contains("f32", d.Message);
        var ok = CascadeCompiler.Compile("input X[p] : i32, N : i32\noutput Y[p]\nY[p] = X[p] * N where p < X[p]");
        Assert.True(ok.Success, string.Join("\n", ok.Diagnostics));
        Assert.Equal(ElementType.Int32, ok.Cascade!.Tensor("X").ElementType);
        Assert.Equal(ElementType.Int32, ok.Cascade!.Tensor("N").ElementType);
        Assert.Contains("i32", Single("input X[p] : i64\noutput Y[p]\nY[p] = X[p]", "KRN0026").Message);
    }

    [Fact]
    public void RepeatedIndexPointsAtTheRepeat()
    {
        var d = Single("input X[p]\noutput Y[p,p]\nY[p,p] = X[p]", "KRN0022");
        Assert.Equal((2, 12, 1), (d.Span.StartLine, d.Span.StartColumn, d.Span.Length)); // the second p
    }

    [Fact]
    public void MessagesSayWhatToWriteInstead()
    {
        var d = Single("input X[p,e,f]\noutput Y[p]\nY[p] = max[e] X[p,e,f]", "KRN0017");
        Assert.Contains("max[e, f]", d.Message);
        var missingInit = Single("input U[t]\noutput Y[t]\niterate t until t == T {\n  X[t+1] = X[t] + U[t]\n  Y[t] = X[t+1]\n}", "KRN0009");
        Assert.Contains("init X[0] = ...", missingInit.Message);
    }

    [Fact]
    public void WarningsDoNotStopCompilation()
    {
        var result = CascadeCompiler.Compile("input X[p], W[p]\noutput Y[p]\nT[p] = X[p] * 2\nY[p] = X[p]");
        Assert.True(result.Success);
        Assert.Contains(result.Diagnostics, d => d.Id == "KRN0023" && d.Severity == DiagnosticSeverity.Warning);
        Assert.Contains(result.Diagnostics, d => d.Id == "KRN0024" && d.Severity == DiagnosticSeverity.Warning);
    }

    [Fact]
    public void SeveralBrokenStatementsAreAllReported()
    {
        var result = CascadeCompiler.Compile("input X[p]\noutput Y[p]\nY[p] = X[p] +\nZ = = 2\nY[p] = X[p]");
        Assert.Equal(2, result.Diagnostics.Count(d => d.Id == "KRN0002"));
    }

    [Fact]
    public void FormatIsTheCompilerStyle()
    {
        var d = Single(Header + "Y[p] = Z[p,e]", "KRN0005");
        Assert.Equal("specs/x.einsum(3,8): error KRN0005: " + d.Message, d.Format("specs/x.einsum"));
    }
}
