namespace InterBert.Benchmarks;

/// <summary>What <c>bench binding</c> trains and scores.</summary>
public enum BindingTask
{
    /// <summary>Name each hidden object box from the caption (the region head).</summary>
    Naming,

    /// <summary>Score each caption above the same caption with its two objects swapped (the score head, features visible).</summary>
    Swapped,

    /// <summary>Score each caption above one naming an object not in the scene (the score head, features visible): the sanity check of matching.</summary>
    ChangedObject,
}
