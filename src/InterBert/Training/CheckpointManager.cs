using System.Text.Json;
using InterBert.Modeling;
using InterBert.Weights;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InterBert.Training;

/// <summary>
/// Checkpoints of a run in <c>RUN/checkpoints/step-N/</c>: <c>model.safetensors</c>, <c>optimizer.bin</c>,
/// <c>rng.bin</c> (the torch generator state) and <c>trainer.json</c>. A checkpoint is written into a temporary
/// folder and renamed when complete, so a crash never leaves a half checkpoint; the last K are kept.
/// </summary>
public sealed class CheckpointManager(string runFolder, int keep)
{
    /// <summary>The checkpoints folder.</summary>
    public string Folder { get; } = Path.Combine(runFolder, "checkpoints");

    /// <summary>The metadata of a checkpoint's weights: the vocabulary's casing, the precision and the pretrained keys.</summary>
    public static Dictionary<string, string> Metadata(bool lowerCase, Precision precision, IEnumerable<string> pretrainedKeys)
    {
        var metadata = new Dictionary<string, string>
        {
            [ModelVocabulary.LowerCaseKey] = lowerCase ? "true" : "false", [PrecisionNames.MetadataKey] = precision.Name(),
        };
        PretrainedKeys.Record(metadata, pretrainedKeys);
        return metadata;
    }

    /// <summary>Writes a checkpoint for <paramref name="state"/>.Step, with the objective's metadata and state, and prunes old ones.</summary>
    public string Save(InterBertBackbone model, AdamW optimizer, TrainerState state, ITrainingObjective objective)
    {
        Directory.CreateDirectory(Folder);
        var final = Path.Combine(Folder, $"step-{state.Step}");
        var temporary = Path.Combine(Folder, $".step-{state.Step}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(temporary);
        try
        {
            ModelCheckpoint.Save(model, Path.Combine(temporary, "model.safetensors"), objective.CheckpointMetadata());
            objective.SaveState(temporary);
            optimizer.save_state_dict(Path.Combine(temporary, "optimizer.bin"));
            using (var rng = get_rng_state()) File.WriteAllBytes(Path.Combine(temporary, "rng.bin"), rng.bytes.ToArray());
            File.WriteAllText(Path.Combine(temporary, "trainer.json"), JsonSerializer.Serialize(state));
            // Old checkpoints are pruned only once the new one is on disk under its final name.
            DurableFiles.ReplaceFolder(temporary, final);
        }
        finally
        {
            if (Directory.Exists(temporary)) Directory.Delete(temporary, true);
        }
        foreach (var old in Completed().SkipLast(Math.Max(1, keep))) Directory.Delete(old.Path, true);
        return final;
    }

    /// <summary>Complete checkpoints, oldest first.</summary>
    public List<(int Step, string Path)> Completed()
    {
        if (!Directory.Exists(Folder)) return [];
        return Directory.GetDirectories(Folder, "step-*")
            .Select(d => (Ok: int.TryParse(Path.GetFileName(d)["step-".Length..], out var s), Step: s, Path: d))
            .Where(c => c.Ok && File.Exists(Path.Combine(c.Path, "trainer.json")))
            .OrderBy(c => c.Step).Select(c => (c.Step, c.Path)).ToList();
    }

    /// <summary>Restores model, optimiser, generator and the objective's state from the newest complete checkpoint; returns its state, or null when there is none.</summary>
    public TrainerState? RestoreLatest(InterBertBackbone model, AdamW optimizer, ITrainingObjective objective)
    {
        var latest = Completed().LastOrDefault();
        if (latest.Path is null) return null;
        var report = ModelCheckpoint.LoadWeights(model, Path.Combine(latest.Path, "model.safetensors"));
        var missing = report.Missing.Where(k => k != Modeling.InterBertModel.LogitScaleKey).ToList();
        if (missing.Count > 0) throw new CheckpointException($"{latest.Path}: checkpoint lacks {missing.Count} weights of the model (first {missing[0]})");
        optimizer.load_state_dict(Path.Combine(latest.Path, "optimizer.bin"));
        objective.RestoreState(latest.Path);
        var rngBytes = File.ReadAllBytes(Path.Combine(latest.Path, "rng.bin"));
        using (var rng = tensor(rngBytes, dtype: ScalarType.Byte)) set_rng_state(rng);
        return JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(Path.Combine(latest.Path, "trainer.json")))
            ?? throw new CheckpointException($"{latest.Path}: empty trainer.json");
    }
}
