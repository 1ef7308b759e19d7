using Microsoft.Playwright;

namespace InterBert.Tests.Search;

/// <summary>The search page in headless Chromium (Debian's package, driven by Playwright).</summary>
[Collection("Search")]
public sealed class BrowserSearchTests(SearchFixture fixture)
{
    /// <summary>Where Debian installs Chromium (scripts/setup-browser.sh); INTERBERT_CHROMIUM overrides it.</summary>
    private static string ChromiumPath => Environment.GetEnvironmentVariable("INTERBERT_CHROMIUM") ?? "/usr/bin/chromium";

    [Fact]
    public async Task TypingAQueryShowsResultImages()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} not found: run scripts/setup-browser.sh (Debian's chromium package)");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            // As root in a sandboxed machine without network: no sandbox, no background connections.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1100, Height = 800 } });
        await page.GotoAsync(fixture.ServerAddress + "/");
        await page.FillAsync("#q", "一个红色的圆");
        await page.PressAsync("#q", "Enter");
        await page.WaitForSelectorAsync("img.result", new PageWaitForSelectorOptions { Timeout = 30_000 });
        // Wait until the first result image has actually loaded and decoded.
        await page.WaitForFunctionAsync("() => { const i = document.querySelector('img.result'); return i && i.complete && i.naturalWidth > 0; }", null, new PageWaitForFunctionOptions { Timeout = 30_000 });
        var images = await page.Locator("img.result").CountAsync();
        Assert.True(images >= 1);
        Assert.Equal(224, await page.EvalOnSelectorAsync<int>("img.result", "i => i.naturalWidth"));
        Assert.Contains("results in", await page.InnerTextAsync("#status"));
        // "More like this" on the first result: photos by image vector, the clicked one not among them.
        var first = await page.EvalOnSelectorAsync<string>("img.result", "i => i.alt");
        await page.ClickAsync("button.similar");
        await page.WaitForFunctionAsync("() => document.querySelector('#status').textContent.includes('like ')", null, new PageWaitForFunctionOptions { Timeout = 30_000 });
        await page.WaitForSelectorAsync("img.result", new PageWaitForSelectorOptions { Timeout = 30_000 });
        Assert.Contains($"like {first}", await page.InnerTextAsync("#status"));
        var similar = await page.EvalOnSelectorAllAsync<string[]>("img.result", "all => all.map(i => i.alt)");
        Assert.NotEmpty(similar);
        Assert.DoesNotContain(first, similar);
        // A photo chosen as a file: uploaded, and the page shows the photos nearest to it.
        var scene = Path.Combine(fixture.Folder, "scenes", "images", first + ".png");
        await page.SetInputFilesAsync("#photo", scene);
        await page.WaitForFunctionAsync("() => document.querySelector('#status').textContent.includes('.png')", null, new PageWaitForFunctionOptions { Timeout = 30_000 });
        Assert.Matches(@"^\d+ results in [\d.]+ ms like scene-\d+\.png$", (await page.InnerTextAsync("#status")).Trim());
        Assert.True(await page.Locator("img.result").CountAsync() >= 1);
        var screenshot = Environment.GetEnvironmentVariable("INTERBERT_SCREENSHOT") ?? Path.Combine(fixture.Folder, "search-page.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        Assert.True(new FileInfo(screenshot).Length > 10_000);
    }
}
