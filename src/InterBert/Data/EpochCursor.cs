namespace InterBert.Data;

/// <summary>Reads examples in epoch order: position p of the run is example <c>Permutation(epoch = p / n)[p % n]</c>, so any position can be found again on resume.</summary>
public sealed class EpochCursor(int count, int seed)
{
    private int cachedEpoch = -1;
    private int[] permutation = [];

    /// <summary>The example indices at run positions <paramref name="start"/> .. start + length - 1.</summary>
    public List<int> Take(long start, int length)
    {
        if (count == 0) throw new InvalidOperationException("no examples");
        var result = new List<int>(length);
        for (var p = start; p < start + length; p++)
        {
            var epoch = (int)(p / count);
            if (epoch != cachedEpoch)
            {
                permutation = EpochOrder.Permutation(count, seed, epoch);
                cachedEpoch = epoch;
            }
            result.Add(permutation[p % count]);
        }
        return result;
    }
}
