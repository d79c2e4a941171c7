using System.CommandLine;
using Kernels.Cli;

return CliApp.Run(args, Console.Out, Console.Error);
