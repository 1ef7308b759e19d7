using InterBert.Benchmarks;

namespace InterBert.Tests.Synthetic;

/// <summary>The toy scenes of <c>bench binding</c>: the caption's relation word decides which box is its subject.</summary>
public sealed class BindingScenesTests
{
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    public void TheSubjectIsTheLeftBoxWithLeftAndTheRightBoxWithRight(bool fixedRelation, bool visible)
    {
        var batch = new BindingScenes(8, fixedRelation, visible, seed: 3).Next(400);
        var features = batch.Image.Features.data<float>().ToArray();
        var (relations, subjectFirst) = (new HashSet<long>(), 0);
        for (var i = 0; i < 400; i++)
        {
            var caption = batch.Captions.Skip(i * BindingScenes.CaptionLength).Take(BindingScenes.CaptionLength).ToArray();
            var (subject, relation, @object) = (caption[2] - BindingScenes.FirstObjectWord, caption[5], caption[8] - BindingScenes.FirstObjectWord);
            relations.Add(relation);
            // The swapped caption names the same two objects the other way round, the rest unchanged.
            var swapped = batch.SwappedText.InputIds[i].data<long>().ToArray();
            Assert.Equal(caption.Select((token, t) => t == 2 ? caption[8] : t == 8 ? caption[2] : token), swapped);
            // The changed caption names, as its subject, an object that is in neither box.
            var changed = batch.ChangedText.InputIds[i].data<long>().ToArray();
            Assert.Equal(caption.Where((_, t) => t != 2), changed.Where((_, t) => t != 2));
            Assert.DoesNotContain(changed[2] - BindingScenes.FirstObjectWord, new[] { subject, @object });
            Assert.InRange(changed[2] - BindingScenes.FirstObjectWord, 0, 7);
            var (a, b) = (i * 2, i * 2 + 1);
            Assert.Equal(new[] { subject, @object }.Order(), new[] { batch.Targets[a], batch.Targets[b] }.Order());
            Assert.NotEqual(subject, @object);
            var leftBox = batch.ObjectCentres[a] < batch.ObjectCentres[b] ? a : b;
            Assert.Equal(relation == BindingScenes.Left ? subject : @object, batch.Targets[leftBox]);
            // Scene i's object boxes are rows 2 and 3 of its [global ; whole image ; A ; B] sequence.
            Assert.Equal((i * 4L + 2, i * 4L + 3), (batch.ObjectRows[a], batch.ObjectRows[b]));
            if (batch.Targets[a] == subject) subjectFirst++;
            for (var k = 0; k < 2; k++)
            for (var f = 0; f < BindingScenes.FeatureSize; f++)
                Assert.Equal(visible && f == batch.Targets[i * 2 + k] ? 1f : 0f, features[((i * 3) + 1 + k) * BindingScenes.FeatureSize + f]);
        }
        Assert.Equal(fixedRelation ? [BindingScenes.Left] : new[] { BindingScenes.Left, BindingScenes.Right }, relations.Order());
        // Neither the box order nor anything else gives the subject away: it is the first box about half the time.
        Assert.InRange(subjectFirst, 150, 250);
    }
}
