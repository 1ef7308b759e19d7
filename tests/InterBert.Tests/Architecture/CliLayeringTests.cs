using System.Text.RegularExpressions;

namespace InterBert.Tests.Architecture;

public sealed partial class CliLayeringTests
{
    // The types that train, evaluate, index or run a pipeline: the command line calls Workflows instead.
    [GeneratedRegex(@"\b(Trainer|PretrainingRun|RetrievalFineTuning|MultipleChoiceTask|TextClassificationTraining|TwoStageRetrievalEvaluation|RetrievalScorer|HardNegativeEvaluation|PreparedPairs|CaptionCorpus|ImageIndex\.Build|PretrainingSetup|RegionMasker|SegmentMasker)\b")]
    private static partial Regex LogicTypes();

    [Fact]
    public void TheCommandLineParsesOptionsAndCallsWorkflowsWithoutTrainingOrEvaluationLogic()
    {
        var cli = Path.Combine(SharedData.RepositoryRoot, "src", "InterBert.Cli");
        var offenders = Directory.EnumerateFiles(cli, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (File: Path.GetRelativePath(cli, f), Line: i + 1, Text: line)))
            .Where(l => LogicTypes().IsMatch(l.Text))
            .Select(l => $"{l.File}:{l.Line}: {l.Text.Trim()}")
            .ToList();
        Assert.True(offenders.Count == 0, string.Join("\n", offenders));
        // The check itself finds such a use.
        Assert.Matches(LogicTypes(), "var result = RetrievalFineTuning.Run(model, train, null);");
    }
}
