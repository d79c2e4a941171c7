using System.Diagnostics;
using System.Globalization;
using ILGPU;
using ILGPU.Runtime;
using Kernels.Gpu;

namespace Kernels.Cli.Run;

/// <summary>
/// <c>kernels run --device gpu</c>: the built-in kernels' ILGPU code (GpuBuiltIns) on the best accelerator this machine
/// has (CUDA, then OpenCL, then ILGPU's CPU accelerator), inputs and outputs resident on it, timed over launches, each
/// result compared with the CPU kernel's on the same inputs.
/// </summary>
internal static class GpuRun
{
    /// <summary>Shapes for the CPU accelerator, which emulates a GPU thread by thread: the defaults of a real GPU would take minutes there.</summary>
    public static readonly RunShapes EmulatedDefaults = new(Heads: 2, SequenceLength: 128, HeadDim: 32, SoftmaxRows: 64, SoftmaxColumns: 1024, LinearLength: 128, Channels: 64, ScanLength: 128, StateSize: 16);

    private sealed record Case(string Kernel, string Shape, double Flops, double Bytes, Action<Accelerator> Gpu, Func<float[]> GpuResult, Func<float[]> Cpu);

    public static int Execute(IReadOnlyList<string> names, RunShapes shapes, bool explicitShapes, double minTime, TextWriter stdout, TextWriter stderr)
    {
        using var context = GpuContext.Open();
        if (context.Kind == AcceleratorType.CPU && !explicitShapes) shapes = EmulatedDefaults;
        stdout.WriteLine($"device: {context.Description}{(context.Kind == AcceleratorType.CPU ? " (no GPU found: ILGPU's CPU accelerator emulates one; small shapes unless given)" : "")}");
        stdout.WriteLine("schedule: " + Kernels.Einsum.Loops.GpuSchedule.Default + " (docs/gpu.md)");
        var emulated = context.Kind == AcceleratorType.CPU;
        var bandwidth = GpuLimits.CopyBandwidth(context.Accelerator, emulated ? 2 : 1024);
        var peak = GpuLimits.FmaPeak(context.Accelerator, emulated ? 64 : 4096);
        stdout.WriteLine(Invariant($"limits (measured now): copy {bandwidth:F2} GB/s, FMA {peak:F1} GFLOP/s"));
        var failed = false;
        foreach (var name in names)
        {
            var buffers = new List<IDisposable>();
            try
            {
                var c = Make(name, shapes, context.Accelerator, buffers);
                c.Gpu(context.Accelerator); // compiles the kernels
                var seconds = Time(() => c.Gpu(context.Accelerator), minTime);
                var expected = c.Cpu();
                var cpuSeconds = Time(() => c.Cpu(), minTime);
                var actual = c.GpuResult();
                var scale = Math.Max(1e-30, expected.Max(x => Math.Abs(x)));
                var error = expected.Select((x, i) => Math.Abs(x - actual[i]) / scale).DefaultIfEmpty(0).Max();
                var ok = error <= 1e-3;
                failed |= !ok;
                var gflops = c.Flops / seconds / 1e9;
                var gbps = c.Bytes / seconds / 1e9;
                stdout.WriteLine(Invariant($"{c.Kernel,-24} {c.Shape,-34} {Duration(seconds),10}  {gflops,8:F1} GFLOP/s ({gflops / peak:P1} of FMA)  {gbps,7:F2} GB/s ({gbps / bandwidth:P1} of copy)  CPU kernel {Duration(cpuSeconds)} ({cpuSeconds / seconds:F2}x)  max error vs CPU {error:G2} {(ok ? "ok" : "FAILED")}"));
            }
            finally
            {
                foreach (var b in buffers) b.Dispose();
            }
        }
        return failed ? 1 : 0;
    }

    private static Case Make(string name, RunShapes s, Accelerator acc, List<IDisposable> owned)
    {
        ArrayView<float> Put(float[] data)
        {
            var view = GpuKernels.Scratch<float>(acc, data.Length, owned);
            view.CopyFromCPU(data);
            return view;
        }
        float[] Get(ArrayView<float> view)
        {
            var data = new float[view.Length];
            view.CopyToCPU(data);
            return data;
        }
        var random = new Random(7);
        float[] R(long n, double scale = 1) => Enumerable.Range(0, (int)n).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale)).ToArray();
        switch (name)
        {
            case "Attention.MultiHead":
            case "Attention.Causal":
            {
                int h = s.Heads, l = s.SequenceLength, d = s.HeadDim;
                var causal = name == "Attention.Causal";
                var (q, k, v) = (R((long)h * l * d), R((long)h * l * d), R((long)h * l * d));
                var (gq, gk, gv) = (Put(q), Put(k), Put(v));
                var gav = GpuKernels.Scratch<float>(acc, (long)h * l * d, owned);
                var av = new float[(long)h * l * d];
                Action<Accelerator> gpu = causal
                    ? a => GpuBuiltIns.CausalAttentionGpu.Run(a, gq, gk, gv, gav, 1, h, l, d, l, d, 1)
                    : a => GpuBuiltIns.AttentionGpu.Run(a, gq, gk, gv, gav, 1, h, l, d, l, d);
                return new Case(name, $"B=1 H={h} L={l} D={d}", 4.0 * h * l * l * d / (causal ? 2 : 1), 16.0 * h * l * d, gpu, () => Get(gav), () =>
                {
                    Attention.Forward(q, k, v, av, AttentionShape.MultiHead(1, h, l, l, d), new AttentionOptions(Causal: causal));
                    return av;
                });
            }
            case "Softmax.Rows":
            {
                int rows = s.SoftmaxRows, cols = s.SoftmaxColumns;
                var x = R((long)rows * cols, 10);
                var gx = Put(x);
                var gy = GpuKernels.Scratch<float>(acc, x.Length, owned);
                var y = new float[x.Length];
                return new Case(name, $"{rows}x{cols}", 4.0 * rows * cols, 8.0 * rows * cols, a => GpuBuiltIns.SoftmaxGpu.Run(a, gx, gy, rows, cols), () => Get(gy), () =>
                {
                    Softmax.Rows(x, y, rows, cols);
                    return y;
                });
            }
            case "LinearAttention.Causal":
            {
                int h = s.Heads, t = s.LinearLength, d = s.HeadDim;
                var (q, k, v) = (R((long)h * t * d), R((long)h * t * d), R((long)h * t * d));
                var slopes = Enumerable.Range(0, h).Select(i => (float)Math.Pow(2, -8.0 * (i + 1) / h)).ToArray();
                var (gq, gk, gv, gs) = (Put(q), Put(k), Put(v), Put(slopes));
                var go = GpuKernels.Scratch<float>(acc, q.Length, owned);
                var o = new float[q.Length];
                return new Case(name, $"B=1 H={h} T={t} D={d}", 4.0 * h * t * 64 * d + 4.0 * h * t * d * d, 16.0 * h * t * d, a => GpuBuiltIns.LinearAttentionGpu.Run(a, gq, gk, gv, gs, go, 1, h, t, d, d), () => Get(go), () =>
                {
                    LinearAttention.Causal(q, k, v, o, 1, h, t, d, d, slopes);
                    return o;
                });
            }
            default:
            {
                int ch = s.Channels, l = s.ScanLength, n = s.StateSize;
                var (u, delta, z) = (R((long)ch * l), R((long)ch * l), R((long)ch * l));
                var a0 = R((long)ch * n).Select(x => -0.5f - Math.Abs(x)).ToArray();
                var (b, c) = (R((long)n * l), R((long)n * l));
                var (skip, bias) = (R(ch), R(ch, 0.5));
                var x0 = new float[(long)ch * n];
                var views = new[] { u, delta, a0, b, c, skip, z, bias, x0 }.Select(Put).ToArray();
                var gy = GpuKernels.Scratch<float>(acc, u.Length, owned);
                var gxl = GpuKernels.Scratch<float>(acc, x0.Length, owned);
                var y = new float[u.Length];
                return new Case("SelectiveScan.Forward", $"B=1 D={ch} L={l} N={n}", 9.0 * ch * l * n, 4.0 * (4.0 * ch * l + 2.0 * n * l), acc2 =>
                    GpuBuiltIns.SelectiveScanGpu.Run(acc2, views[0], views[1], views[2], views[3], views[4], views[5], views[6], views[7], views[8], gy, gxl, 1, ch, l, n, ch), () => Get(gy), () =>
                {
                    SelectiveScan.Forward(u, delta, a0, b, c, skip, z, bias, y, new SelectiveScanShape(1, ch, l, n));
                    return y;
                });
            }
        }
    }

    private static double Time(Action run, double minTime)
    {
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < 3 || (total.Elapsed.TotalSeconds < minTime && times.Count < 100))
        {
            var watch = Stopwatch.StartNew();
            run();
            times.Add(watch.Elapsed.TotalSeconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    private static string Duration(double seconds) => seconds >= 1 ? Invariant($"{seconds:F2} s") : seconds >= 1e-3 ? Invariant($"{seconds * 1e3:F2} ms") : Invariant($"{seconds * 1e6:F1} us");

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
