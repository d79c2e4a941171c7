using Kernels.Einsum;
using Kernels.Hardware.Fpga;
using Kernels.Hardware.Pim;
using Kernels.Hardware.Spatial;
using Kernels.Hardware.Targets;
using Kernels.Hardware.Tests;

namespace Kernels.Generators.Tests;

/// <summary>The hardware models on the 200 random valid cascades: each one is costed without an exception, and the figures are finite and consistent.</summary>
public class RandomCascadeHardwareTests
{
    [Fact]
    public void Every_model_costs_every_random_cascade()
    {
        var failures = new List<string>();
        foreach (var c in RandomCascades.Generate(200, seed: 20261123))
        {
            var cascade = CascadeCompiler.Compile(c.Spec).Cascade!;
            var sizes = c.Sizes[0];
            void Check(string model, Action run)
            {
                try { run(); }
                catch (Exception ex) { failures.Add($"{c.Name} on {model}: {ex.GetType().Name}: {ex.Message}\n{c.Spec}"); }
            }
            foreach (var name in SpatialPresets.Names)
                Check(name, () =>
                {
                    var r = SpatialArrayModel.Evaluate(cascade, sizes, SpatialPresets.Get(name), 4);
                    Assert.True(double.IsFinite(r.LatencySeconds) && r.LatencySeconds >= 0, $"latency {r.LatencySeconds}");
                    Assert.True(double.IsFinite(r.EnergyPj) && r.EnergyPj >= 0, $"energy {r.EnergyPj}");
                    Assert.InRange(r.Util2D, 0, 1);
                    Assert.InRange(r.Util1D, 0, 1);
                });
            Check("fpga", () =>
            {
                var e = HlsEstimator.Estimate(cascade, sizes, 2);
                Assert.True(e.LatencyCycles >= 0 && e.Dsp >= 0 && e.Lut >= 0);
            });
            Check("pim", () =>
            {
                var p = PimPlacement.Place(cascade, sizes, 4);
                Assert.True(double.IsFinite(p.Seconds) && p.Seconds >= 0);
            });
        }
        Assert.True(failures.Count == 0, $"{failures.Count} failures:\n\n" + string.Join("\n\n", failures.Select(f => f.Split("\nkernel")[0]).Take(20)));
    }

    /// <summary>The FPGA sink is a sink like the others: its emitted C++ for random cascades, run as a C simulation, matches the interpreter.</summary>
    [Fact]
    public void Emitted_hls_for_random_cascades_matches_the_interpreter_in_c_simulation()
    {
        // Every third cascade of the 200: the set still has filters, partitions and iteration blocks (asserted), and g++ runs 67 times.
        var cases = RandomCascades.Generate(200, seed: 20261123).Where((_, i) => i % 3 == 0).ToList();
        Assert.True(cases.Count(c => c.Spec.Contains("iterate")) >= 5 && cases.Count(c => c.Spec.Contains("where")) >= 5 && cases.Count(c => c.Spec.Contains("partition")) >= 5);
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.ForEach(cases, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, (c, _, i) =>
        {
            var cascade = CascadeCompiler.Compile(c.Spec).Cascade!;
            var sizes = c.Sizes[0];
            var inputs = KernelBench.RandomInputs(cascade, sizes, seed: 11 + (int)i, c.InputScale);
            c.Apply(inputs, sizes);
            try
            {
                var expected = Kernels.Einsum.Interpretation.ReferenceInterpreter.Run(cascade, sizes, inputs);
                var failure = HlsSimulation.Compare(expected, HlsSimulation.Run(HlsEmitter.Emit(cascade, sizes, new HlsOptions(ReuseFactor: 2)), inputs), RandomCascadeTests.Tolerance);
                if (failure is not null) failures.Add($"{c.Name} {KernelBench.Show(sizes)}: {failure}\n{c.Spec}");
            }
            catch (Exception ex)
            {
                failures.Add($"{c.Name}: {ex.GetType().Name}: {string.Join("\n", ex.Message.Split('\n').Take(6))}\n{c.Spec}");
            }
        });
        Assert.True(failures.IsEmpty, $"{failures.Count} of {cases.Count} differ:\n\n" + string.Join("\n\n", failures.Take(6)));
    }
}
