return InterBert.Cli.CommandLine.Run(args);
