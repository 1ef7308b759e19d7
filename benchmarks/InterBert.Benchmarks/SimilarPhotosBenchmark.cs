using System.CommandLine;
using System.Numerics.Tensors;
using InterBert.Cli;
using InterBert.Data;
using InterBert.Search;

namespace InterBert.Benchmarks;

/// <summary>
/// <c>bench similar</c>: what "more like this" means on a captioned collection. For each photo of a folder index that
/// the dataset captions, its nearest other photos by image vector; how often they share a content word of their
/// captions with it, and the mean overlap of the two photos' caption words, next to the same for random pairs.
/// </summary>
public static class SimilarPhotosBenchmark
{
    // Words that say nothing about what a photo shows.
    private static readonly HashSet<string> StopWords = new(StringComparer.Ordinal)
    {
        "a", "an", "the", "and", "or", "of", "in", "on", "at", "to", "is", "are", "with", "his", "her", "its", "their", "for", "by",
        "while", "from", "into", "as", "it", "that", "this", "some", "two", "three", "one", "other", "near", "up", "down", "out",
        "over", "through", "each", "there", "has", "have", "be", "being", "who", "they", "he", "she", "them", "front", "next",
    };

    /// <summary>Creates the measurement.</summary>
    public static Command Create()
    {
        var index = new Option<string>("--index") { Description = "a folder index of captioned photos", Required = true };
        var dataset = new Option<string>("--dataset") { Description = "the dataset whose captions describe the indexed photos", Required = true };
        var neighbours = new Option<int>("--neighbours") { Description = "nearest other photos per photo", DefaultValueFactory = _ => 5 }.AtLeast(1);
        var command = new Command("similar", "What 'more like this' finds: how often a photo's nearest other photos share a caption word with it, against random pairs") { index, dataset, neighbours };
        command.SetAction(CommandLine.Guarded(parse =>
        {
            using var opened = ImageIndex.Open(parse.GetValue(index)!);
            var words = DatasetReader.Read(parse.GetValue(dataset)!).DistinctBy(i => i.Id).ToDictionary(i => i.Id, i => ContentWords(i.Captions));
            var positions = Enumerable.Range(0, opened.Images.Count).Where(p => words.ContainsKey(opened.Images[p].Id)).ToList();
            if (positions.Count < 2) throw new InterBertException($"{parse.GetValue(dataset)}: captions for fewer than two of the index's photos");
            var k = Math.Min(parse.GetValue(neighbours), positions.Count - 1);
            HashSet<string> Of(int position) => words[opened.Images[position].Id];
            double nearestShare = 0, nearestOverlap = 0, firstShare = 0;
            var pairs = 0;
            foreach (var position in positions)
            {
                var vector = opened.Vector(position).ToArray();
                var nearest = positions.Where(p => p != position).Select(p => (p, TensorPrimitives.Dot(vector, opened.Vector(p))))
                    .OrderByDescending(n => n.Item2).ThenBy(n => n.p).Take(k).Select(n => n.p).ToList();
                for (var rank = 0; rank < nearest.Count; rank++)
                {
                    var shared = Of(position).Overlaps(Of(nearest[rank]));
                    nearestShare += shared ? 1 : 0;
                    nearestOverlap += Jaccard(Of(position), Of(nearest[rank]));
                    if (rank == 0) firstShare += shared ? 1 : 0;
                    pairs++;
                }
            }
            // Chance: every pair of distinct photos.
            double randomShare = 0, randomOverlap = 0;
            long randomPairs = 0;
            for (var a = 0; a < positions.Count; a++)
                for (var b = a + 1; b < positions.Count; b++)
                {
                    randomShare += Of(positions[a]).Overlaps(Of(positions[b])) ? 1 : 0;
                    randomOverlap += Jaccard(Of(positions[a]), Of(positions[b]));
                    randomPairs++;
                }
            Console.WriteLine($"bench similar: {positions.Count} captioned photos of {opened.Images.Count}, {k} nearest others each (image vectors, cosine)");
            Console.WriteLine($"  share a caption content word with the photo: nearest {100 * firstShare / positions.Count:F1}%, {k} nearest {100 * nearestShare / pairs:F1}%, random pairs {100 * randomShare / randomPairs:F1}%");
            Console.WriteLine($"  caption-word overlap (Jaccard): {k} nearest {nearestOverlap / pairs:F3}, random pairs {randomOverlap / randomPairs:F3} ({nearestOverlap / pairs / (randomOverlap / randomPairs):F1}x)");
            return 0;
        }));
        return command;
    }

    /// <summary>The lower-cased words of a photo's captions, without stop words and words of one or two letters.</summary>
    private static HashSet<string> ContentWords(IEnumerable<string> captions) => captions
        .SelectMany(c => c.ToLowerInvariant().Split(' ', ',', '.', ';', '!', '?', '"', '\'', '-', '(', ')', '\t'))
        .Where(w => w.Length > 2 && !StopWords.Contains(w)).ToHashSet(StringComparer.Ordinal);

    private static double Jaccard(HashSet<string> a, HashSet<string> b)
    {
        var shared = a.Count(b.Contains);
        var union = a.Count + b.Count - shared;
        return union == 0 ? 0 : (double)shared / union;
    }
}
