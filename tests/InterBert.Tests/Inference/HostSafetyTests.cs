using InterBert.Data;
using InterBert.Inference;
using InterBert.Modeling;
using InterBert.Weights;

namespace InterBert.Tests.Inference;

public sealed class HostSafetyTests : IDisposable
{
    private readonly TempFolder folder = new();

    public void Dispose() => folder.Dispose();

    [Fact]
    public void ManyThreadsOnOnePipelineWhileAnotherThreadCollects()
    {
        var model = folder.File("model");
        TorchSharp.torch.manual_seed(3);
        using (var tiny = new InterBertModel(InterBertConfig.Tiny))
            ModelFolder.Save(tiny, model, MiniLmOnnxReader.ReadVocabularyBytes(), lowerCase: true, new Dictionary<string, string> { ["finetune_task"] = "retrieval" });
        using var pipeline = InterBertPipeline.Load(model);
        var photo = Directory.GetFiles(SharedData.Path("data", "coco-sample", "images")).Order(StringComparer.Ordinal).First();
        var regions = pipeline.ExtractRegions(photo);
        string[] captions = ["a man riding a wave", "two dogs in the snow", "a plate of food"];
        var texts = captions.Select(pipeline.EmbedText).ToArray();
        var image = pipeline.EmbedImage(regions);
        var scores = captions.Select(c => pipeline.Score(c, [regions])[0]).ToArray();
        using var stop = new CancellationTokenSource();
        var collections = 0;
        var collector = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                var garbage = new byte[64][];
                for (var k = 0; k < garbage.Length; k++) garbage[k] = new byte[4096];
                GC.Collect();
                GC.WaitForPendingFinalizers();
                collections++;
            }
        }) { IsBackground = true };
        collector.Start();
        var failures = 0;
        var calls = 0;
        var workers = Enumerable.Range(0, 6).Select(w => new Thread(() =>
        {
            for (var n = 0; n < 150; n++)
            {
                var c = (w + n) % captions.Length;
                try
                {
                    var ok = (n % 3) switch
                    {
                        0 => pipeline.EmbedText(captions[c]).SequenceEqual(texts[c]),
                        1 => pipeline.EmbedImage(regions).SequenceEqual(image),
                        _ => pipeline.Score(captions[c], [regions])[0] == scores[c],
                    };
                    if (!ok) Interlocked.Increment(ref failures);
                }
                catch (Exception e)
                {
                    Console.WriteLine(e.Message);
                    Interlocked.Increment(ref failures);
                }
                Interlocked.Increment(ref calls);
            }
        })).ToList();
        workers.ForEach(t => t.Start());
        workers.ForEach(t => t.Join());
        stop.Cancel();
        collector.Join();
        Console.WriteLine($"calls {calls}, failures {failures}, collections {collections}");
        Assert.Equal(0, failures);
    }
}
