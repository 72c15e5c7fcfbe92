using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using TieredResponseCaching.Keys;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Tests.Flow;
using TieredResponseCaching.Tests.Infrastructure;
using TieredResponseCaching.Tests.Policies;

namespace TieredResponseCaching.Tests.Keys;

/// <summary>
/// UseCaseSensitivePaths (docs/keys.md, "Path case"): spellings of a path that differ in case share an entry only when the
/// option is off; invalidation by path removes every spelling either way.
/// </summary>
public class PathCaseTests
{
    private const string Miss = "TieredResponseCache; fwd=uri-miss";

    [Fact]
    public async Task Paths_that_differ_in_case_have_their_own_entries_by_default()
    {
        var runs = new RunCounter();
        await using var host = await StartAsync(runs, caseSensitive: null);

        using var lower = await host.Client.GetAsync("/users/abc");
        using var upper = await host.Client.GetAsync("/Users/ABC");
        using var lowerAgain = await host.Client.GetAsync("/users/abc");

        Assert.Equal("abc #1", await lower.Body());
        Assert.Equal("ABC #2", await upper.Body());
        Assert.Equal(Miss, upper.CacheStatus());
        Assert.Equal("abc #1", await lowerAgain.Body());
    }

    [Fact]
    public async Task Paths_that_differ_in_case_share_one_entry_when_UseCaseSensitivePaths_is_off()
    {
        var runs = new RunCounter();
        await using var host = await StartAsync(runs, caseSensitive: false);

        using var lower = await host.Client.GetAsync("/users/abc");
        using var upper = await host.Client.GetAsync("/USERS/ABC");

        Assert.Equal("abc #1", await lower.Body());
        Assert.Equal("abc #1", await upper.Body());
        Assert.Equal("TieredResponseCache; hit; ttl=60", upper.CacheStatus());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Invalidating_a_path_removes_every_spelling_of_it_whatever_the_option(bool caseSensitive)
    {
        var runs = new RunCounter();
        await using var host = await StartAsync(runs, caseSensitive);
        using var lower = await host.Client.GetAsync("/users/abc");
        using var upper = await host.Client.GetAsync("/Users/ABC");
        using var other = await host.Client.GetAsync("/users/xyz");

        await host.Cache.InvalidateAsync("/USERS/Abc");

        using var lowerAfter = await host.Client.GetAsync("/users/abc");
        using var upperAfter = await host.Client.GetAsync("/Users/ABC");
        using var otherAfter = await host.Client.GetAsync("/users/xyz");
        Assert.StartsWith(Miss, lowerAfter.CacheStatus(), StringComparison.Ordinal);
        Assert.Equal(caseSensitive ? Miss : "TieredResponseCache; hit; ttl=60", upperAfter.CacheStatus());
        Assert.Equal("TieredResponseCache; hit; ttl=60", otherAfter.CacheStatus());
    }

    [Theory]
    [InlineData("/stra\u00dfe/\u00e9t\u00e9", "/STRA\u00dfE/\u00c9T\u00c9")]
    [InlineData("/items", "/ITEMS")]
    [InlineData("/\u0434\u043e\u043c", "/\u0414\u041e\u041c")]
    public void Keys_ignoring_path_case_fold_as_routing_compares_paths(string path, string otherSpelling)
    {
        Assert.Equal(path, otherSpelling, ignoreCase: true);

        Assert.Equal(Key(path, ignoreCase: true), Key(otherSpelling, ignoreCase: true));
        Assert.NotEqual(Key(path, ignoreCase: false), Key(otherSpelling, ignoreCase: false));
        Assert.NotEqual(Key(path, ignoreCase: true), Key(path + "x", ignoreCase: true));
    }

    [Fact]
    public void A_lone_surrogate_in_a_path_still_keys_apart_from_its_replacement_when_case_is_ignored()
    {
        Assert.NotEqual(Key("/x\uD800", ignoreCase: true), Key("/x\uFFFD", ignoreCase: true));
        Assert.Equal(Key("/a\uD800", ignoreCase: true), Key("/A\uD800", ignoreCase: true));
    }

    private static Task<CacheHost> StartAsync(RunCounter runs, bool? caseSensitive) =>
        CacheHost.StartAsync(
            app => app.MapGet("/users/{id}", (string id) => $"{id} #{runs.Next()}").CacheFor(),
            options =>
            {
                if (caseSensitive is { } value)
                {
                    options.UseCaseSensitivePaths = value;
                }
            });

    private static byte[] Key(string path, bool ignoreCase)
    {
        var errors = new List<string>();
        var policy = PolicyCompiler.Compile(new CachePolicyOptions(), "test", 1024 * 1024, errors, ignorePathCase: ignoreCase)!;
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Scheme = "http";
        context.Request.Host = new HostString("example.com");
        context.Request.Path = path;
        Assert.Equal(KeyStatus.Ok, RestKeyBuilder.Build(context, policy, 8 * 1024, 128, out var key));
        return key.ToArray();
    }
}
