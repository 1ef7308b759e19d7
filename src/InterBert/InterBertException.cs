namespace InterBert;

/// <summary>
/// An error caused by the user's input (a file, an option, a dataset line) whose message is a complete,
/// one-line explanation naming what is wrong; the command line prints it without a stack trace.
/// </summary>
public class InterBertException : Exception
{
    /// <summary>Creates the error with its one-line message.</summary>
    public InterBertException(string message) : base(message) { }

    /// <summary>Creates the error with its one-line message and the underlying cause.</summary>
    public InterBertException(string message, Exception inner) : base(message, inner) { }
}
