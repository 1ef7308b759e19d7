namespace InterBert.Data;

/// <summary>A caption one change away from an image's truth: its text, the index of the true caption it came from, and what changed (<c>attribute</c> or <c>relation</c>).</summary>
public sealed record HardNegativeCaption(string Raw, int TrueSentence, string Changed);
