// The command line with the measurements added: `bench features|train|memory|attention|retrieval|allreduce|search|serve`.
// Benchmarks print figures and are not part of the interbert tool; ./interbert bench runs them from a checkout.
return InterBert.Cli.CommandLine.Run(args, InterBert.Benchmarks.BenchCommand.Create());
