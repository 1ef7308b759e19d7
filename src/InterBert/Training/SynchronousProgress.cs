namespace InterBert.Training;

/// <summary>
/// An <see cref="IProgress{T}"/> that calls its handler at once on the reporting thread (<see cref="Progress{T}"/>
/// posts to a thread pool, so reports could arrive out of order or after the work ended).
/// </summary>
public sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    /// <inheritdoc/>
    public void Report(T value) => report(value);
}
