using InterBert.Modeling;
using InterBert.Training;

namespace InterBert.Tasks;

/// <summary>Everything a retrieval fine-tuning run needs (see <see cref="RetrievalFineTuning.Run"/>).</summary>
public sealed record RetrievalFineTuningSetup
{
    /// <summary>The model to fine-tune (trained in place).</summary>
    public required InterBertModel Model { get; init; }
    /// <summary>Training captions with their images' features.</summary>
    public required PreparedPairs Train { get; init; }
    /// <summary>Held-out pairs, validated after each epoch (the best by mean recall is kept); null to skip.</summary>
    public PreparedPairs? Validation { get; init; }
    /// <summary>The schedule.</summary>
    public required TrainingOptions Training { get; init; }
    /// <summary>Run folder: best/last weights, metrics.jsonl, checkpoints.</summary>
    public required string RunFolder { get; init; }
    /// <summary>The vocabulary file's bytes, written beside the weights.</summary>
    public required byte[] Vocabulary { get; init; }
    /// <summary>Whether the vocabulary lower-cases.</summary>
    public bool LowerCase { get; init; } = true;
    /// <summary>Keys of the weights that came pretrained (their learning rate takes the multiplier).</summary>
    public IReadOnlySet<string> PretrainedKeys { get; init; } = new HashSet<string>();
    /// <summary>Steps between hard-negative mining (0: every epoch).</summary>
    public int MineEvery { get; init; }
    /// <summary>Weight of the image-text contrastive loss (0: off); with <see cref="RerankerLists"/>, the first stage's, recorded in the weights but not trained.</summary>
    public double ContrastiveWeight { get; init; }
    /// <summary>
    /// Train the re-ranker alone, on lists (0: off, the 4-way loss): each training caption's photo and its this many
    /// minus one nearest other training photos by the first stage's vectors, the candidates a search re-ranks, scored by
    /// the cross-modal head with cross-entropy over the list. The first stage is held fixed (so the lists are mined once):
    /// only the joint pass's own layers (the model's interaction must be untied) and the score head train, and every
    /// weight the search vectors use stays bit-identical. No contrastive loss runs; a step is joint passes only.
    /// </summary>
    public int RerankerLists { get; init; }
    /// <summary>Share of wrong-caption pairs taken from the image's own known-false captions.</summary>
    public double OwnNegativeRate { get; init; }
    /// <summary>The kind of own known-false captions the corpus was given (e.g. <c>relation</c>); null: all (for the fingerprint).</summary>
    public string? OwnNegativeKind { get; init; }
    /// <summary>
    /// Draw each caption's wrong image and each image's wrong caption within the batch in proportion to the contrastive
    /// similarity (<see cref="SimilarityNegatives"/>, ALBEF's sampling) instead of at random; needs <see cref="ContrastiveWeight"/> above 0.
    /// </summary>
    public bool SimilarityNegatives { get; init; }
    /// <summary>
    /// Wrong images per example beyond the 4-way loss's own (0: the paper's four pairs): each example scores its caption
    /// against this many more images of other photos, drawn within the batch by similarity with
    /// <see cref="SimilarityNegatives"/> (without repeats) or else at random, and the softmax runs over 4 + this many
    /// pairs, closer to re-ranking a caption's nearest photos.
    /// </summary>
    public int ExtraNegatives { get; init; }
    /// <summary>
    /// Captions in the contrastive loss per step (0: the step's examples alone): the examples plus captions drawn at
    /// random from the rest of the training split, so that each caption's vector is told apart from more images than
    /// the batch's (the first stage's loss, CLIP's lesson: more negatives per step). With <see cref="SimilarityNegatives"/>
    /// the wrong images and captions are drawn among all of them.
    /// </summary>
    public int ContrastiveBatchSize { get; init; }
    /// <summary>
    /// Train the cross-modal score as a correction to the first stage: the ranking loss runs over each pair's score plus
    /// its scaled unimodal cosine (held fixed), the sum the re-ranking with similarity ranks by; needs <see cref="ContrastiveWeight"/> above 0.
    /// </summary>
    public bool ResidualScore { get; init; }
    /// <summary>
    /// With <see cref="ContrastiveBatchSize"/>: the other captions' vectors, and those of the photos only they bring,
    /// are computed without gradient (negatives only), a forward pass where a forward and backward one was.
    /// </summary>
    public bool FixedContrastiveOthers { get; init; }

    /// <summary>Weight of the word-region matching loss (<see cref="Modeling.TokenRegionMatching"/>, contrasted over the contrastive batch; 0: off).</summary>
    public double WordRegionWeight { get; init; }
    /// <summary>
    /// Mine each caption's hard images by its text vector against every training image (the first stage's own
    /// confusions) rather than by its image's nearest images.
    /// </summary>
    public bool MineByText { get; init; }
    /// <summary>Continue the run in <see cref="RunFolder"/> from its last checkpoint, exactly.</summary>
    public bool Resume { get; init; }
    /// <summary>The processes training together; null when not launched by MPI.</summary>
    public Distributed.ProcessGroup? Group { get; init; }
}
