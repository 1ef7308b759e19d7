namespace InterBert.Data;

/// <summary>One VCR-style question: the image, the question, 4 answers and 4 rationales with the right ones' indices.</summary>
public sealed record MultipleChoiceItem(
    string ImageId, LinkedText Question, IReadOnlyList<LinkedText> Answers, IReadOnlyList<LinkedText> Rationales, int AnswerLabel, int RationaleLabel);
