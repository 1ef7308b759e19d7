namespace InterBert.Workflows;

/// <summary>Progress of a workflow's stage: work done of the total, and a short status line.</summary>
public readonly record struct WorkflowProgress(double Done, double Total, string Status);
