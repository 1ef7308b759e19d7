using System.Security.Cryptography;
using System.Text;
using InterBert.Text;

namespace InterBert.Pretraining;

/// <summary>
/// For each caption, the captions most similar to it by TF-IDF cosine among those with similarity below a ceiling
/// and belonging to another image: the pool of hard negatives for image-text matching (paper: 30 neighbours,
/// similarity below 0.5). Built once per dataset and cached on disk, keyed by the captions' hash.
/// </summary>
public sealed class CaptionNeighbours
{
    private readonly int[][] neighbours;
    private readonly Dictionary<int, float>[] vectors;

    private CaptionNeighbours(int[][] neighbours, Dictionary<int, float>[] vectors)
    {
        this.neighbours = neighbours;
        this.vectors = vectors;
    }

    /// <summary>The neighbour caption indices of a caption (most similar first; possibly empty).</summary>
    public IReadOnlyList<int> Of(int caption) => neighbours[caption];

    /// <summary>TF-IDF cosine similarity of two captions.</summary>
    public double Similarity(int a, int b)
    {
        var (small, large) = vectors[a].Count <= vectors[b].Count ? (vectors[a], vectors[b]) : (vectors[b], vectors[a]);
        double dot = 0;
        foreach (var (term, weight) in small) if (large.TryGetValue(term, out var other)) dot += weight * other;
        return dot;
    }

    /// <summary>Builds the table; <paramref name="imageOf"/> gives each caption's image index.</summary>
    public static CaptionNeighbours Build(IReadOnlyList<string> captions, IReadOnlyList<int> imageOf, int count = 30, double ceiling = 0.5)
    {
        var vectors = Vectorise(captions);
        var n = captions.Count;
        // An inverted index over terms that are not near-universal: captions sharing only such terms are not similar.
        var postings = new Dictionary<int, List<int>>();
        for (var i = 0; i < n; i++)
            foreach (var term in vectors[i].Keys)
                (postings.TryGetValue(term, out var list) ? list : postings[term] = []).Add(i);
        var commonLimit = Math.Max(50, n / 10);
        var table = new int[n][];
        var table2 = new CaptionNeighbours(table, vectors);
        Parallel.For(0, n, i =>
        {
            var candidates = new HashSet<int>();
            foreach (var term in vectors[i].Keys)
                if (postings[term].Count <= commonLimit) candidates.UnionWith(postings[term]);
            table[i] = candidates
                .Where(j => imageOf[j] != imageOf[i])
                .Select(j => (j, s: table2.Similarity(i, j)))
                .Where(p => p.s < ceiling && p.s > 0)
                .OrderByDescending(p => p.s).ThenBy(p => p.j)
                .Take(count).Select(p => p.j).ToArray();
        });
        return table2;
    }

    /// <summary>Loads the table from <paramref name="cacheFolder"/> when the same captions were seen before, else builds and caches it.</summary>
    public static CaptionNeighbours LoadOrBuild(IReadOnlyList<string> captions, IReadOnlyList<int> imageOf, string cacheFolder, int count = 30, double ceiling = 0.5)
    {
        var key = Key(captions, imageOf, count, ceiling);
        var path = Path.Combine(cacheFolder, $"tfidf-neighbours-{key}.bin");
        var vectors = Vectorise(captions);
        if (File.Exists(path))
        {
            try
            {
                using var reader = new BinaryReader(File.OpenRead(path));
                if (reader.ReadInt32() == captions.Count)
                {
                    var table = new int[captions.Count][];
                    for (var i = 0; i < table.Length; i++)
                    {
                        table[i] = new int[reader.ReadInt32()];
                        for (var k = 0; k < table[i].Length; k++) table[i][k] = reader.ReadInt32();
                    }
                    return new CaptionNeighbours(table, vectors);
                }
            }
            catch (EndOfStreamException)
            {
                // A damaged cache is rebuilt below.
            }
        }
        var built = Build(captions, imageOf, count, ceiling);
        AtomicFile.Write(path, temporary =>
        {
            using var writer = new BinaryWriter(File.Create(temporary));
            writer.Write(captions.Count);
            foreach (var row in built.neighbours)
            {
                writer.Write(row.Length);
                foreach (var j in row) writer.Write(j);
            }
        });
        return built;
    }

    /// <summary>The default cache folder: $XDG_CACHE_HOME/interbert or ~/.cache/interbert.</summary>
    public static string DefaultCacheFolder =>
        Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "interbert");

    /// <summary>L2-normalised TF-IDF vectors (smoothed idf) over BERT's basic words, lower-cased.</summary>
    private static Dictionary<int, float>[] Vectorise(IReadOnlyList<string> captions)
    {
        var normalizer = new BertBasicNormalizer(lowerCase: true);
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        var counts = new Dictionary<int, int>[captions.Count];
        var documentFrequency = new Dictionary<int, int>();
        for (var i = 0; i < captions.Count; i++)
        {
            counts[i] = [];
            foreach (var word in normalizer.Normalize(captions[i]).Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (word.Length == 1 && BertBasicNormalizer.IsPunctuation(word[0])) continue;
                if (!vocabulary.TryGetValue(word, out var term)) vocabulary[word] = term = vocabulary.Count;
                counts[i][term] = counts[i].GetValueOrDefault(term) + 1;
            }
            foreach (var term in counts[i].Keys) documentFrequency[term] = documentFrequency.GetValueOrDefault(term) + 1;
        }
        var n = captions.Count;
        var vectors = new Dictionary<int, float>[n];
        for (var i = 0; i < n; i++)
        {
            var v = counts[i].ToDictionary(p => p.Key, p => (float)(p.Value * (Math.Log((1.0 + n) / (1.0 + documentFrequency[p.Key])) + 1)));
            var norm = MathF.Sqrt(v.Values.Sum(x => x * x));
            vectors[i] = norm > 0 ? v.ToDictionary(p => p.Key, p => p.Value / norm) : v;
        }
        return vectors;
    }

    private static string Key(IReadOnlyList<string> captions, IReadOnlyList<int> imageOf, int count, double ceiling)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"v1|{count}|{ceiling}|"));
        for (var i = 0; i < captions.Count; i++) hash.AppendData(Encoding.UTF8.GetBytes($"{imageOf[i]}\u0001{captions[i]}\u0002"));
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }
}
