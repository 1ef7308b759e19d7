namespace InterBert.Search;

/// <summary>The index's database cannot be reached just now (stopped, restarting, out of connections); the web service answers 503 and tries again on the next request.</summary>
public sealed class IndexUnavailableException(string message, Exception inner) : InterBertException(message, inner);
