using System.Text.RegularExpressions;

namespace InterBert.Tests.Architecture;

/// <summary>The front door and the manual: a short README with the two commands first, and no relative link in the README or docs/ that leads nowhere.</summary>
public sealed partial class DocumentationTests
{
    private static IEnumerable<string> Pages() =>
        new[] { Path.Combine(SharedData.RepositoryRoot, "README.md") }.Concat(Directory.GetFiles(Path.Combine(SharedData.RepositoryRoot, "docs"), "*.md").Order(StringComparer.Ordinal));

    /// <summary>GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens.</summary>
    private static string Anchor(string heading) => NotAnchorCharacter().Replace(heading.Trim().ToLowerInvariant(), "").Replace(' ', '-');

    [Fact]
    public void EveryRelativeLinkResolvesToAFileAndAHeading()
    {
        var broken = new List<string>();
        var checkedLinks = 0;
        foreach (var page in Pages())
        {
            var text = File.ReadAllText(page);
            // Links inside code are not links.
            var prose = CodeBlock().Replace(text, "");
            foreach (Match link in Link().Matches(prose))
            {
                var target = link.Groups[1].Value;
                if (Scheme().IsMatch(target)) continue;
                checkedLinks++;
                var hash = target.IndexOf('#');
                var (file, anchor) = hash < 0 ? (target, null) : (target[..hash], target[(hash + 1)..]);
                var path = file.Length == 0 ? page : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(page)!, Uri.UnescapeDataString(file)));
                if (!File.Exists(path) && !Directory.Exists(path)) { broken.Add($"{Path.GetFileName(page)}: {target} (no such file)"); continue; }
                if (anchor is null || !path.EndsWith(".md", StringComparison.Ordinal)) continue;
                var anchors = Heading().Matches(CodeBlock().Replace(File.ReadAllText(path), "")).Select(h => Anchor(h.Groups[1].Value)).ToHashSet();
                if (!anchors.Contains(anchor)) broken.Add($"{Path.GetFileName(page)}: {target} (no such heading)");
            }
        }
        Assert.True(checkedLinks > 40, $"only {checkedLinks} links found");
        Assert.True(broken.Count == 0, "broken links:\n" + string.Join('\n', broken));
    }

    [Fact]
    public void TheReadmeIsShortWithTheTwoCommandsFirstAndLinksIntoTheManual()
    {
        var path = Path.Combine(SharedData.RepositoryRoot, "README.md");
        Assert.True(new FileInfo(path).Length < 12 * 1024, $"README.md is {new FileInfo(path).Length} bytes; the manual belongs in docs/");
        var text = File.ReadAllText(path);
        var firstBlock = CodeBlock().Match(text).Value;
        Assert.Contains("./interbert demo", firstBlock);
        Assert.Contains("./scripts/test.sh", firstBlock);
        foreach (var page in Directory.GetFiles(Path.Combine(SharedData.RepositoryRoot, "docs"), "*.md"))
            Assert.Contains($"(docs/{Path.GetFileName(page)}", text);
    }

    [GeneratedRegex(@"(?<!\!)\[[^\]]*\]\(([^)\s]+)\)")]
    private static partial Regex Link();

    [GeneratedRegex(@"^[a-z][a-z0-9+.-]*:", RegexOptions.IgnoreCase)]
    private static partial Regex Scheme();

    [GeneratedRegex(@"(?ms)^```.*?^```")]
    private static partial Regex CodeBlock();

    [GeneratedRegex(@"(?m)^#+ (.+)$")]
    private static partial Regex Heading();

    [GeneratedRegex(@"[^\w\- ]")]
    private static partial Regex NotAnchorCharacter();
}
