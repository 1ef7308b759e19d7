namespace InterBert.Data;

/// <summary>A reproducible shuffled order of examples: the same seed and epoch give the same permutation on every machine.</summary>
public static class EpochOrder
{
    /// <summary>A permutation of 0..count-1 for an epoch (Fisher-Yates with a seeded generator).</summary>
    public static int[] Permutation(int count, int seed, int epoch)
    {
        var order = Enumerable.Range(0, count).ToArray();
        // Seeded System.Random is deterministic across processes (HashCode would not be).
        var random = new Random(unchecked(seed * 1_000_003 + epoch));
        for (var i = count - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}
