using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Kernels.Benchmarks.SoftmaxBenchmarks).Assembly).Run(args);
