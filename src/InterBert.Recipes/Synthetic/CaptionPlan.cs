namespace InterBert.Synthetic;

/// <summary>
/// The structure of one caption, independent of language: its phrasing (<see cref="Kind"/>), the objects it mentions
/// in order, and for <c>relation</c> captions the relation of the first mention to the second (the rest follow as a list).
/// Kinds: <c>list</c>, <c>count</c>, <c>relation</c>, <c>scene</c>, <c>single</c>, <c>only</c>.
/// </summary>
public sealed record CaptionPlan(string Kind, IReadOnlyList<CaptionMention> Mentions, string? Relation = null);
