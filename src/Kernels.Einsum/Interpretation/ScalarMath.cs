using System;

namespace Kernels.Einsum.Interpretation;

/// <summary>The unary functions of the language in double precision, written for accuracy (the oracle), not speed.</summary>
public static class ScalarMath
{
    public static double Log1P(double x)
    {
        // Exact-rounding correction: log(w) * x / (w - 1) cancels the error of forming w = 1 + x.
        var w = 1.0 + x;
        return w == 1.0 ? x : Math.Log(w) * x / (w - 1.0);
    }

    public static double Softplus(double x) => x > 20 ? x : double.IsNaN(x) ? x : Log1P(Math.Exp(x));

    public static double Sigmoid(double x)
    {
        if (x >= 0) return 1.0 / (1.0 + Math.Exp(-x));
        var e = Math.Exp(x);
        return e / (1.0 + e);
    }

    public static double Silu(double x) => x * Sigmoid(x);

    public static double Relu(double x) => x > 0 || double.IsNaN(x) ? x : 0.0;

    /// <summary>GELU in its exact form, x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)).</summary>
    public static double Gelu(double x) => double.IsNaN(x) ? x : 0.5 * x * Erfc(-x / Math.Sqrt(2.0));

    /// <summary>GELU in the tanh approximation (PyTorch's approximate='tanh'): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).</summary>
    /// <remarks>Evaluated as x * sigmoid(2u), which is the same function without the cancellation of 1 + tanh(u) for negative x.</remarks>
    public static double GeluTanh(double x) => x * Sigmoid(2.0 * Math.Sqrt(2.0 / Math.PI) * (x + 0.044715 * x * x * x));

    public static double Rsqrt(double x) => 1.0 / Math.Sqrt(x);

    /// <summary>2^x (the exp2 of a cascade the compiler rewrote into base 2: Planning.Log2Scores).</summary>
    public static double Exp2(double x) => Math.Pow(2.0, x);

    public static double Erf(double x) => 1.0 - Erfc(x);

    /// <summary>Complementary error function: power series near 0, continued fraction in the tails (relative error about 1e-15).</summary>
    public static double Erfc(double x)
    {
        if (double.IsNaN(x)) return x;
        if (x < 0) return 2.0 - Erfc(-x);
        if (x < 2.0)
        {
            // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
            double sum = 0, term = x, x2 = x * x;
            for (var n = 0; n < 200; n++)
            {
                var add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
                term *= -x2 / (n + 1);
            }
            return 1.0 - 2.0 / Math.Sqrt(Math.PI) * sum;
        }
        if (x > 27) return 0.0;
        // Lentz's method for erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))).
        const double Tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (var n = 1; n < 500; n++)
        {
            var a = n / 2.0;
            d = x + a * d;
            d = d == 0 ? Tiny : d;
            c = x + a / c;
            c = c == 0 ? Tiny : c;
            d = 1.0 / d;
            var delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1.0) < 1e-16) break;
        }
        return Math.Exp(-x * x) / Math.Sqrt(Math.PI) / f;
    }
}
