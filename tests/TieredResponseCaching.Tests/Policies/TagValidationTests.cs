using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Options;
using TieredResponseCaching.Tests.Infrastructure;

namespace TieredResponseCaching.Tests.Policies;

/// <summary>One tag set for every layer: tags are checked when the app starts and when they are invalidated.</summary>
public sealed class TagValidationTests
{
    [Theory]
    [InlineData("two words", "it holds a space at index 3")]
    [InlineData("a,b", "it holds a comma at index 1")]
    [InlineData("say\"hi\"", "it holds a quote at index 3")]
    [InlineData("back\\slash", "it holds a backslash at index 4")]
    [InlineData("tab\there", "it holds a control character at index 3")]
    [InlineData("café", "it holds the non-ASCII character 'é' at index 3")]
    [InlineData("", "it is empty")]
    public async Task An_invalid_policy_tag_stops_the_start_with_what_is_wrong_and_what_to_use(string tag, string problem)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => CacheHost.StartAsync(
            app => app.MapGet("/", () => "root"),
            options => options.AddPolicy("tagged", p => p.Tags(tag))));

        Assert.Contains($"Policy 'tagged': Tag '{tag}' is not valid: {problem}; use 1 to 128 visible ASCII characters", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_tag_longer_than_128_characters_stops_the_start()
    {
        var tag = new string('t', 129);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => CacheHost.StartAsync(
            app => app.MapGet("/long", () => "long").CacheFor(TimeSpan.FromMinutes(1), p => p.Tags(tag))));

        Assert.Contains("The cache policy of endpoint '/long' is invalid: Tag 'ttt", error.Message, StringComparison.Ordinal);
        Assert.Contains("is not valid: it is 129 characters long, 128 at most", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_policy_with_more_than_32_tags_stops_the_start()
    {
        var tags = Enumerable.Range(1, 33).Select(i => $"tag-{i}").ToArray();
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => CacheHost.StartAsync(
            app => app.MapGet("/", () => "root"),
            options => options.DefaultPolicy.Tags = tags));

        Assert.Contains("DefaultPolicy: A policy has 33 tags, 32 at most", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tags_with_every_allowed_kind_of_character_are_accepted_and_sent_as_they_are()
    {
        const string tag = "Product:42/v1.0_a-b+c~d!e#f$g%h&i'j*k(l)m;n=o?p@q[r]s^t`uv|wx<y>z";
        await using var host = await CacheHost.StartAsync(
            app => app.MapGet("/odd", () => "odd").CacheFor(TimeSpan.FromMinutes(1), p => p.Tags(tag)),
            options => options.Cdn.TagHeaders = CdnTagHeaders.CacheGroups | CdnTagHeaders.CacheTag);

        using var response = await host.Client.GetAsync("/odd");
        await host.Cache.InvalidateTagAsync(tag);

        Assert.Equal("\"" + tag + "\"", Flow.FlowKit.RawHeader(response, "Cache-Groups"));
        Assert.Equal(tag, Flow.FlowKit.RawHeader(response, "Cache-Tag"));
    }

    [Theory]
    [InlineData("two words", "it holds a space at index 3")]
    [InlineData("", "it is empty")]
    public async Task Invalidating_an_invalid_tag_throws_with_what_is_wrong(string tag, string problem)
    {
        await using var host = await CacheHost.StartAsync(app => app.MapGet("/", () => "root"));

        var error = await Assert.ThrowsAsync<ArgumentException>(async () => await host.Cache.InvalidateTagAsync(tag));

        Assert.StartsWith($"Tag '{tag}' is not valid: {problem}; use 1 to 128", error.Message, StringComparison.Ordinal);
        Assert.Equal("tag", error.ParamName);
    }
}
