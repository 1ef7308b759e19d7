namespace InterBert.Data;

/// <summary>One example of a GLUE-style classification set: a sentence, an optional second sentence, and its label.</summary>
public sealed record LabelledText(string Text, string? Pair, string Label);
