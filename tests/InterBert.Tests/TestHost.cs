using System.Runtime.CompilerServices;
using InterBert.Training;
using InterBert.Workflows;

namespace InterBert.Tests;

/// <summary>The tests run the library as the command line does: with PostgreSQL indexes and each run's plots.</summary>
internal static class TestHost
{
    [ModuleInitializer]
    internal static void AddEveryPart()
    {
        PostgresIndexBackend.Register();
        TrainingPlots.Enable();
    }
}
