using System.Runtime.CompilerServices;

namespace Kernels.Runtime;

/// <summary>
/// One float: the width generated kernels use for loop tails and where no SIMD is accelerated. Its
/// transcendental functions are <see cref="KernelMath"/>'s, computed in double and rounded once.
/// </summary>
public readonly struct F32(float value) : ISimdFloat<F32>
{
    public readonly float Value = value;

    public static int Count => 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static unsafe F32 Load(float* source) => new(*source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static unsafe F32 Load(int* source) => new(*source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static unsafe void Store(float* destination, F32 value) => *destination = value.Value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Create(float value) => new(value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Affine(float start, float step) => new(start);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 operator +(F32 l, F32 r) => new(l.Value + r.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 operator -(F32 l, F32 r) => new(l.Value - r.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 operator *(F32 l, F32 r) => new(l.Value * r.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 operator /(F32 l, F32 r) => new(l.Value / r.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 operator -(F32 x) => new(-x.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Max(F32 l, F32 r) => new(KernelMath.Max(l.Value, r.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Min(F32 l, F32 r) => new(KernelMath.Min(l.Value, r.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Abs(F32 x) => new(System.MathF.Abs(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Sqrt(F32 x) => new(System.MathF.Sqrt(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Exp(F32 x) => new(KernelMath.Exp(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Exp2(F32 x) => new(KernelMath.Exp2(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Exp2NonPositive(F32 x) => new(KernelMath.Exp2(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Clamp(F32 x, float low, float high) => new(float.IsNaN(x.Value) ? x.Value : System.Math.Clamp(x.Value, low, high));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 MultiplyAdd(F32 a, F32 b, F32 c) => new(System.MathF.FusedMultiplyAdd(a.Value, b.Value, c.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Round(F32 x) => new(System.MathF.Round(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 ScaleB(F32 x, F32 n) => new(System.MathF.ScaleB(x.Value, (int)System.MathF.Floor(n.Value)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Log(F32 x) => new(KernelMath.Log(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 EqualMask(F32 l, F32 r) => new(l.Value == r.Value ? System.BitConverter.Int32BitsToSingle(-1) : 0f);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Select(F32 m, F32 t, F32 f) => System.BitConverter.SingleToInt32Bits(m.Value) != 0 ? t : f;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float SumAcross(F32 x) => x.Value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MaxAcross(F32 x) => x.Value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float MinAcross(F32 x) => x.Value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float ProductAcross(F32 x) => x.Value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float GetLane(F32 x, int lane) => x.Value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 DivideOrZero(F32 l, F32 r) => new(KernelMath.DivideOrZero(l.Value, r.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Rsqrt(F32 x) => new(KernelMath.Rsqrt(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Relu(F32 x) => new(KernelMath.Relu(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Sigmoid(F32 x) => new(KernelMath.Sigmoid(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Silu(F32 x) => new(KernelMath.Silu(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Softplus(F32 x) => new(KernelMath.Softplus(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Tanh(F32 x) => new(KernelMath.Tanh(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Gelu(F32 x) => new(KernelMath.Gelu(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 GeluTanh(F32 x) => new(KernelMath.GeluTanh(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Erf(F32 x) => new(KernelMath.Erf(x.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Pow(F32 x, F32 y) => new(KernelMath.Pow(x.Value, y.Value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Square(F32 x) => new(x.Value * x.Value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static F32 Cube(F32 x) => new(x.Value * x.Value * x.Value);
}
