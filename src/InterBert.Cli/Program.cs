InterBert.Modeling.NativeAllocator.KeepTensorMemory();
return InterBert.Cli.CommandLine.Run(args);
