InterBert.Modeling.NativeAllocator.KeepTensorMemory();
// The command line takes every part: PostgreSQL indexes (--backend postgres, postgres:// locations) and each run's plots.
InterBert.Workflows.PostgresIndexBackend.Register();
InterBert.Training.TrainingPlots.Enable();
return InterBert.Cli.CommandLine.Run(args);
