using InterBert.Search;

namespace InterBert.Workflows;

/// <summary>How the index job writes an index of a backend other than the folder index (<see cref="IndexJob.Register"/>; InterBert.Postgres adds PostgreSQL).</summary>
public interface IIndexJobBackend
{
    /// <summary>The backend's name, as <c>--backend</c> gives it (<c>postgres</c>).</summary>
    string Name { get; }

    /// <summary>Builds, appends to or removes from an index of this backend (the options name it by their connection).</summary>
    ImageIndex.BuildResult Index(IndexJobOptions options, WorkflowHost host, CancellationToken cancel);

    /// <summary>Brings an index of this backend in line with a folder of photos (<see cref="FolderIndexUpdate"/>: <c>index --update</c>), in one change.</summary>
    FolderIndexUpdate.Result Update(IndexJobOptions options, WorkflowHost host, CancellationToken cancel);
}
