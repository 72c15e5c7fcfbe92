using System.Security.Claims;
using System.Text;
using System.Text.Unicode;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;
using TieredResponseCaching.Keys;
using TieredResponseCaching.Policies;

namespace TieredResponseCaching.Tests.Keys;

/// <summary>
/// The canonical REST key: equal for requests the app cannot tell apart where the design says so, and never equal
/// for requests it can (docs/design.md rule 1). Built directly on <see cref="DefaultHttpContext"/>.
/// </summary>
public class RestKeyTests
{
    private const int MaximumKeySize = 8 * 1024;
    private const int MaximumQueryParameters = 128;

    [Fact]
    public void Head_and_get_of_the_same_resource_share_a_key()
    {
        var policy = Policy();

        Assert.Equal(Key(Request(method: "GET"), policy), Key(Request(method: "HEAD"), policy));
        Assert.NotEqual(Key(Request(method: "GET"), policy), Key(Request(method: "POST"), policy));
    }

    [Fact]
    public void Scheme_and_host_are_compared_without_regard_to_case_but_the_port_counts()
    {
        var policy = Policy();

        Assert.Equal(Key(Request(scheme: "HTTP", host: "Example.COM"), policy), Key(Request(scheme: "http", host: "example.com"), policy));
        Assert.NotEqual(Key(Request(scheme: "https"), policy), Key(Request(scheme: "http"), policy));
        Assert.NotEqual(Key(Request(host: "example.com:8080"), policy), Key(Request(host: "example.com"), policy));
    }

    [Theory]
    [InlineData("?p=%2f", "?p=%2F")]
    [InlineData("?p=a+b", "?p=a%20b")]
    [InlineData("?p=%41", "?p=A")]
    [InlineData("?%70=1", "?p=1")]
    [InlineData("?p=%C3%A4", "?p=%c3%a4")]
    [InlineData("?p=%zz", "?p=%25zz")]
    [InlineData("?p=%", "?p=%25")]
    [InlineData("?&p=1&&", "?p=1")]
    [InlineData("?p", "?p=")]
    [InlineData("", "?")]
    [InlineData("?p=%ff", "?p=%25ff")]
    [InlineData("?p=%C3%28", "?p=%25C3(")]
    public void Query_encodings_of_the_same_text_share_a_key(string first, string second)
    {
        var policy = Policy();

        Assert.Equal(Key(Request(query: first), policy), Key(Request(query: second), policy));
    }

    [Theory]
    [InlineData("?p=%2B", "?p=+")]
    [InlineData("?a=1%26b%3D2", "?a=1&b=2")]
    [InlineData("?a%3Db=c", "?a=b%3Dc")]
    [InlineData("?a=1&b=2", "?a=1&b=2&c")]
    [InlineData("?a=%01%02b", "?a=b")]
    [InlineData("?a=", "")]
    [InlineData("?a=1", "?A=1")]
    [InlineData("?p=%ff", "?p=%FF")]
    [InlineData("?p=%ED%A0%80", "?p=%ed%a0%80")]
    [InlineData("?p=%E2%82", "?p=%e2%82")]
    [InlineData("?p=%C3%A4", "?p=%C3%84")]
    public void Query_strings_the_app_reads_differently_never_share_a_key(string first, string second)
    {
        var policy = Policy();

        Assert.NotEqual(Key(Request(query: first), policy), Key(Request(query: second), policy));
    }

    [Fact]
    public void Query_parameters_are_sorted_by_name_and_repeated_names_keep_their_order()
    {
        var policy = Policy();

        Assert.Equal(Key(Request(query: "?b=1&a=2"), policy), Key(Request(query: "?a=2&b=1"), policy));
        Assert.Equal(Key(Request(query: "?a=1&b=0&a=2"), policy), Key(Request(query: "?b=0&a=1&a=2"), policy));
        Assert.NotEqual(Key(Request(query: "?a=1&a=2"), policy), Key(Request(query: "?a=2&a=1"), policy));
    }

    [Fact]
    public void Long_queries_sort_like_short_ones()
    {
        // Past 32 parameters the builder switches sorting algorithms; the result must not change.
        var policy = Policy();
        var names = Enumerable.Range(0, 60).Select(i => $"k{i:D2}").ToArray();
        var forward = "?" + string.Join("&", names.Select(n => $"{n}=1")) + "&k00=2";
        var backward = "?" + string.Join("&", names.Reverse().Select(n => $"{n}=1")) + "&k00=2";
        var swapped = "?k00=2&" + string.Join("&", names.Select(n => $"{n}=1"));

        Assert.Equal(Key(Request(query: forward), policy), Key(Request(query: backward), policy));
        Assert.NotEqual(Key(Request(query: forward), policy), Key(Request(query: swapped), policy));
    }

    [Fact]
    public void Names_that_differ_only_in_case_keep_their_relative_order()
    {
        // ASP.NET Core's query collection merges names without regard to case: ?a=1&A=2 reads a as "1,2", and
        // ?A=2&a=1 reads it as "2,1". Sorting must not turn the two into one key.
        var policy = Policy();

        Assert.NotEqual(Key(Request(query: "?a=1&A=2"), policy), Key(Request(query: "?A=2&a=1"), policy));
    }

    [Fact]
    public void Varied_query_list_filters_the_other_parameters_out()
    {
        var policy = Policy(p => p.VaryByQuery("page"));

        Assert.Equal(Key(Request(query: "?page=1&utm=a"), policy), Key(Request(query: "?utm=b&page=1"), policy));
        Assert.Equal(Key(Request(query: "?utm=b"), policy), Key(Request(query: ""), policy));
        Assert.NotEqual(Key(Request(query: "?page=1"), policy), Key(Request(query: "?page=2"), policy));
    }

    [Fact]
    public void Varied_query_names_match_without_regard_to_case_and_keep_their_spelling()
    {
        var policy = Policy(p => p.VaryByQuery("Page"));

        Assert.NotEqual(Key(Request(query: "?PAGE=1"), policy), Key(Request(query: "?PAGE=2"), policy));
        Assert.NotEqual(Key(Request(query: "?page=1"), policy), Key(Request(query: "?page=2"), policy));
        Assert.NotEqual(Key(Request(query: "?PAGE=1"), policy), Key(Request(query: "?page=1"), policy));
        Assert.NotEqual(Key(Request(query: "?pag%65=1"), policy), Key(Request(query: "?pag%65=2"), policy));
    }

    [Fact]
    public void Varied_query_names_outside_ascii_match_as_the_apps_query_collection_does()
    {
        var policy = Policy(p => p.VaryByQuery("Äpfel"));

        // The app reads Query["Äpfel"] for all of these, so each value must reach the key.
        Assert.NotEqual(Key(Request(query: "?%C3%84pfel=1"), policy), Key(Request(query: "?%C3%84pfel=2"), policy));
        Assert.NotEqual(Key(Request(query: "?%C3%A4pfel=1"), policy), Key(Request(query: "?%C3%A4pfel=2"), policy));
        Assert.Equal(Key(Request(query: "?%C3%A4pfel=1&x=1"), policy), Key(Request(query: "?%C3%A4pfel=1&x=2"), policy));
    }

    [Fact]
    public void Empty_query_list_ignores_the_query()
    {
        var policy = Policy(p => p.VaryByQuery());

        Assert.Equal(Key(Request(query: "?a=1"), policy), Key(Request(query: "?a=2&b=%zz"), policy));
    }

    [Fact]
    public void Header_value_with_a_comma_and_two_header_values_have_different_keys()
    {
        var policy = Policy(p => p.VaryByHeader("X-Tenant"));

        var one = Request(headers: new() { ["X-Tenant"] = new StringValues("a,b") });
        var two = Request(headers: new() { ["X-Tenant"] = new StringValues(["a", "b"]) });
        var swapped = Request(headers: new() { ["X-Tenant"] = new StringValues(["b", "a"]) });

        Assert.NotEqual(Key(one, policy), Key(two, policy));
        Assert.NotEqual(Key(two, policy), Key(swapped, policy));
    }

    [Fact]
    public void Varied_header_names_match_without_regard_to_case_and_absence_differs_from_empty()
    {
        var policy = Policy(p => p.VaryByHeader("X-Tenant"));

        var lower = Request(headers: new() { ["x-tenant"] = "a" });
        var upper = Request(headers: new() { ["X-TENANT"] = "a" });
        var empty = Request(headers: new() { ["X-Tenant"] = "" });

        Assert.Equal(Key(lower, policy), Key(upper, policy));
        Assert.NotEqual(Key(empty, policy), Key(Request(), policy));
        Assert.NotEqual(Key(lower, policy), Key(Request(), policy));
    }

    [Fact]
    public void Header_values_that_look_like_length_prefixes_cannot_forge_another_key()
    {
        var policy = Policy(p => p.VaryByHeader("X-A", "X-B"));

        // Written naively as "a" then "b", these would be the bytes of the second request's single value.
        var two = Request(headers: new() { ["X-A"] = "a", ["X-B"] = "b" });
        var forged = Request(headers: new() { ["X-A"] = "a\u0001\u0002b" });
        var moved = Request(headers: new() { ["X-B"] = new StringValues(["a", "b"]) });

        var keys = new[] { Key(two, policy), Key(forged, policy), Key(moved, policy) };
        Assert.Equal(3, keys.Distinct(ByteArrayComparer.Instance).Count());
    }

    [Fact]
    public void Control_characters_in_varied_headers_are_keyed_as_they_are()
    {
        var policy = Policy(p => p.VaryByHeader("X-Tenant"));

        var plain = Key(Request(headers: new() { ["X-Tenant"] = "ab" }), policy);
        var withNul = Key(Request(headers: new() { ["X-Tenant"] = "a\0b" }), policy);
        var withNewline = Key(Request(headers: new() { ["X-Tenant"] = "a\r\nb" }), policy);

        Assert.Equal(3, new[] { plain, withNul, withNewline }.Distinct(ByteArrayComparer.Instance).Count());
    }

    [Fact]
    public void Path_base_and_path_split_at_different_points_have_different_keys()
    {
        var policy = Policy();

        var keys = new[]
        {
            Key(Request(pathBase: "/a", path: "/b/c"), policy),
            Key(Request(pathBase: "/a/b", path: "/c"), policy),
            Key(Request(pathBase: "", path: "/a/b/c"), policy),
        };

        Assert.Equal(3, keys.Distinct(ByteArrayComparer.Instance).Count());
    }

    [Fact]
    public void Lone_surrogate_text_does_not_collide_with_the_replacement_character()
    {
        var policy = Policy(p => p.VaryByHeader("X-Tenant"));

        Assert.NotEqual(Key(Request(path: "/x\uD800"), policy), Key(Request(path: "/x\uFFFD"), policy));
        Assert.NotEqual(Key(Request(path: "/x\uD800"), policy), Key(Request(path: "/x\uDC00"), policy));
        Assert.NotEqual(
            Key(Request(headers: new() { ["X-Tenant"] = "\uDC00" }), policy),
            Key(Request(headers: new() { ["X-Tenant"] = "\uFFFD" }), policy));
    }

    [Fact]
    public void Lone_surrogate_in_the_query_is_refused_as_invalid()
    {
        var status = Build(Request(query: "?q=\uD800"), Policy());

        Assert.Equal(KeyStatus.InvalidQuery, status);
    }

    [Fact]
    public void Route_values_form_the_key_when_varied_and_absence_differs_from_empty()
    {
        var policy = Policy(p => p.VaryByRouteValue("id"));

        Assert.NotEqual(Key(Request(routeValues: new() { ["id"] = "1" }), policy), Key(Request(routeValues: new() { ["id"] = "2" }), policy));
        Assert.NotEqual(Key(Request(routeValues: new() { ["id"] = "" }), policy), Key(Request(), policy));
        Assert.Equal(Key(Request(routeValues: new() { ["id"] = 7 }), policy), Key(Request(routeValues: new() { ["id"] = "7" }), policy));
        Assert.Equal(Key(Request(routeValues: new() { ["other"] = "x" }), policy), Key(Request(), policy));
    }

    [Fact]
    public void Without_vary_by_user_the_user_is_not_part_of_the_key()
    {
        var policy = Policy();

        Assert.Equal(Key(Request(), policy), Key(Request(user: User(ClaimTypes.NameIdentifier, "alice")), policy));
    }

    [Fact]
    public void Vary_by_user_separates_anonymous_and_each_authenticated_user()
    {
        var policy = Policy(p => p.VaryByUser());

        var anonymous = Key(Request(), policy);
        var alice = Key(Request(user: User(ClaimTypes.NameIdentifier, "alice")), policy);
        var aliceAgain = Key(Request(user: User(ClaimTypes.NameIdentifier, "alice")), policy);
        var bob = Key(Request(user: User(ClaimTypes.NameIdentifier, "bob")), policy);
        var aliceElsewhere = Key(Request(user: User(ClaimTypes.NameIdentifier, "alice", authenticationType: "Other")), policy);

        Assert.Equal(alice, aliceAgain);
        Assert.Equal(4, new[] { anonymous, alice, bob, aliceElsewhere }.Distinct(ByteArrayComparer.Instance).Count());
    }

    [Fact]
    public void Vary_by_user_takes_the_name_identifier_then_sub_then_the_name()
    {
        var policy = Policy(p => p.VaryByUser());

        var byNameIdentifier = Request(user: new ClaimsPrincipal(new ClaimsIdentity(
            [new Claim(ClaimTypes.NameIdentifier, "id-1"), new Claim("sub", "sub-1"), new Claim(ClaimTypes.Name, "name-1")], "Test")));
        var sameNameIdentifier = Request(user: new ClaimsPrincipal(new ClaimsIdentity(
            [new Claim(ClaimTypes.NameIdentifier, "id-1"), new Claim("sub", "sub-2"), new Claim(ClaimTypes.Name, "name-2")], "Test")));
        var bySub = Request(user: new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", "sub-1"), new Claim(ClaimTypes.Name, "name-1")], "Test")));
        var sameSub = Request(user: new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", "sub-1"), new Claim(ClaimTypes.Name, "name-2")], "Test")));
        var byName = Request(user: User(ClaimTypes.Name, "name-1"));
        var otherName = Request(user: User(ClaimTypes.Name, "name-2"));

        Assert.Equal(Key(byNameIdentifier, policy), Key(sameNameIdentifier, policy));
        Assert.Equal(Key(bySub, policy), Key(sameSub, policy));
        Assert.NotEqual(Key(byName, policy), Key(otherName, policy));
    }

    [Fact]
    public void Vary_by_user_refuses_an_authenticated_user_without_an_identifier()
    {
        var policy = Policy(p => p.VaryByUser());
        var nobody = Request(user: new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Email, "a@example.com")], "Test")));

        Assert.Equal(KeyStatus.NoUserIdentifier, Build(nobody, policy));
    }

    [Fact]
    public void Key_over_the_size_limit_is_refused_as_too_large()
    {
        var policy = Policy(p => p.VaryByHeader("X-Tenant"));

        Assert.Equal(KeyStatus.TooLarge, Build(Request(path: "/" + new string('p', 300)), policy, maximumKeySize: 256));
        Assert.Equal(KeyStatus.TooLarge, Build(Request(query: "?q=" + new string('q', 300)), policy, maximumKeySize: 256));
        Assert.Equal(KeyStatus.TooLarge, Build(Request(headers: new() { ["X-Tenant"] = new string('h', 300) }), policy, maximumKeySize: 256));
        Assert.Equal(KeyStatus.TooLarge, Build(Request(path: "/" + new string('\u00e9', 200)), policy, maximumKeySize: 256));
        Assert.Equal(KeyStatus.Ok, Build(Request(path: "/" + new string('p', 100)), policy, maximumKeySize: 256));
    }

    [Fact]
    public void Key_that_just_fits_is_built_and_one_byte_more_is_too_large()
    {
        var policy = Policy();
        var fits = 0;
        for (var length = 1; length < 300; length++)
        {
            if (Build(Request(path: "/" + new string('p', length)), policy, maximumKeySize: 256) == KeyStatus.Ok)
            {
                fits = length;
            }
        }

        Assert.InRange(fits, 200, 255);
        Assert.Equal(KeyStatus.TooLarge, Build(Request(path: "/" + new string('p', fits + 1)), policy, maximumKeySize: 256));
    }

    [Fact]
    public void More_varied_query_parameters_than_allowed_are_refused_but_filtered_ones_do_not_count()
    {
        Assert.Equal(KeyStatus.TooManyQueryParameters, Build(Request(query: "?a=1&b=2&c=3"), Policy(), maximumQueryParameters: 2));
        Assert.Equal(KeyStatus.Ok, Build(Request(query: "?a=1&b=2"), Policy(), maximumQueryParameters: 2));
        Assert.Equal(KeyStatus.Ok, Build(Request(query: "?a=1&b=2&c=3&d=4"), Policy(p => p.VaryByQuery("a")), maximumQueryParameters: 2));
    }

    [Fact]
    public void Key_written_after_a_refused_one_on_the_same_thread_is_unaffected()
    {
        // The builder reuses per-thread buffers: a refusal half way through must leave nothing behind.
        var policy = Policy();
        var before = Key(Request(query: "?a=1"), policy);
        Assert.Equal(KeyStatus.TooManyQueryParameters, Build(Request(query: "?a=1&b=2&c=3"), policy, maximumQueryParameters: 2));
        Assert.Equal(KeyStatus.TooLarge, Build(Request(query: "?a=" + new string('x', 300)), policy, maximumKeySize: 256));

        Assert.Equal(before, Key(Request(query: "?a=1"), policy));
    }

    [Fact]
    public void Percent_decoding_leaves_malformed_escapes_literal()
    {
        var buffer = new byte[32];

        Assert.Equal("%zz"u8.ToArray(), buffer.AsSpan(0, RestKeyBuilder.PercentDecode("%zz", buffer)).ToArray());
        Assert.Equal("%"u8.ToArray(), buffer.AsSpan(0, RestKeyBuilder.PercentDecode("%", buffer)).ToArray());
        Assert.Equal("%4"u8.ToArray(), buffer.AsSpan(0, RestKeyBuilder.PercentDecode("%4", buffer)).ToArray());
        Assert.Equal("a/ b"u8.ToArray(), buffer.AsSpan(0, RestKeyBuilder.PercentDecode("a%2f+b", buffer)).ToArray());
        Assert.Equal(-1, RestKeyBuilder.PercentDecode("\uD800", buffer));
    }

    [Fact]
    public void Query_decoding_agrees_with_the_apps_query_parsing()
    {
        string[] tokens =
        [
            "%", "%%", "%4", "%zz", "%41", "%2B", "%20", "%00", "%7F", "a", "A", "+", "=", "\u00e9", "\U0001F600",
            "%C3", "%c3", "%A4", "%a4", "%84", "%28", "%FF", "%ff", "%C0", "%ED", "%A0", "%80", "%E2", "%82", "%AC",
            "%F0", "%9F", "%98", "%F4%90%80%80", "%EF%BF%BD", "%EF%BB%BF",
        ];
        var random = new Random(1234);
        var buffer = new byte[1024];
        for (var n = 0; n < 5000; n++)
        {
            var text = string.Concat(Enumerable.Range(0, random.Next(1, 9)).Select(_ => tokens[random.Next(tokens.Length)]));
            var app = QueryHelpers.ParseQuery("?q=" + text)["q"].ToString();

            var length = RestKeyBuilder.PercentDecode(text, buffer);

            Assert.True(Utf8.IsValid(buffer.AsSpan(0, length)), $"'{text}' decoded to bytes that are not UTF-8.");
            Assert.True(Encoding.UTF8.GetString(buffer, 0, length) == app, $"'{text}' decoded differently from the app's '{app}'.");
        }
    }

    [Fact]
    public void Requests_with_equal_keys_are_read_identically_by_the_app()
    {
        // docs/design.md rule 1 as a property: random queries, grouped by key, each group holding one reading only.
        string[] names = ["a", "A", "b", "%61", "%41", "\u00e4", "\u00c4", "%C3%A4", "%C3%84", "%FF", "%ff", "%25FF", "a+b", "a%20b", "a%2Bb"];
        string[] values = ["1", "2", "", "%", "%zz", "%25zz", "%FF", "%ff", "%C3%A4", "%c3%a4", "%C3%28", "+", "%2B", "%26", "%3D"];
        var policies = new[] { Policy(), Policy(p => p.VaryByQuery("a", "\u00c4")) };
        var random = new Random(4321);
        foreach (var policy in policies)
        {
            var readings = new Dictionary<string, (string Query, string Reading)>();
            for (var n = 0; n < 3000; n++)
            {
                var query = "?" + string.Join("&", Enumerable.Range(0, random.Next(1, 5))
                    .Select(_ => names[random.Next(names.Length)] + "=" + values[random.Next(values.Length)]));
                var key = Convert.ToHexString(Key(Request(query: query), policy));
                var reading = Reading(query, policy);
                if (readings.TryGetValue(key, out var earlier))
                {
                    Assert.True(earlier.Reading == reading, $"'{query}' and '{earlier.Query}' share a key, but the app reads '{reading}' and '{earlier.Reading}'.");
                }
                else
                {
                    readings[key] = (query, reading);
                }
            }
        }

        static string Reading(string query, ResolvedPolicy policy)
        {
            // What an app can read: the parameters the policy varies by, as ASP.NET Core's query collection has them.
            var parsed = QueryHelpers.ParseQuery(query);
            var read = policy.VaryByAllQueryKeys ? parsed : parsed.Where(p => p.Key.Equals("a", StringComparison.OrdinalIgnoreCase) || p.Key.Equals("\u00c4", StringComparison.OrdinalIgnoreCase));
            return string.Join("&", read.OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase).Select(p => $"{p.Key}={string.Join("|", p.Value.ToArray())}"));
        }
    }

    private static ResolvedPolicy Policy(Action<CachePolicyBuilder>? configure = null)
    {
        var builder = new CachePolicyBuilder();
        builder.Duration(TimeSpan.FromSeconds(60));
        configure?.Invoke(builder);
        var errors = new List<string>();
        var policy = PolicyCompiler.Compile(builder.Options, "test", 4 * 1024 * 1024, errors);
        Assert.Empty(errors);
        return policy!;
    }

    private static DefaultHttpContext Request(
        string method = "GET",
        string scheme = "http",
        string host = "example.com",
        string pathBase = "",
        string path = "/items",
        string query = "",
        Dictionary<string, StringValues>? headers = null,
        Dictionary<string, object?>? routeValues = null,
        ClaimsPrincipal? user = null)
    {
        var context = new DefaultHttpContext();
        var request = context.Request;
        request.Method = method;
        request.Scheme = scheme;
        request.Host = new HostString(host);
        request.PathBase = new PathString(pathBase);
        request.Path = new PathString(path);
        request.QueryString = new QueryString(query);
        foreach (var (name, value) in headers ?? [])
        {
            request.Headers[name] = value;
        }

        foreach (var (name, value) in routeValues ?? [])
        {
            request.RouteValues[name] = value;
        }

        if (user is not null)
        {
            context.User = user;
        }

        return context;
    }

    private static ClaimsPrincipal User(string claimType, string value, string authenticationType = "Test") =>
        new(new ClaimsIdentity([new Claim(claimType, value)], authenticationType));

    private static KeyStatus Build(HttpContext context, ResolvedPolicy policy, int maximumKeySize = MaximumKeySize, int maximumQueryParameters = MaximumQueryParameters) =>
        RestKeyBuilder.Build(context, policy, maximumKeySize, maximumQueryParameters, out _);

    private static byte[] Key(HttpContext context, ResolvedPolicy policy)
    {
        var status = RestKeyBuilder.Build(context, policy, MaximumKeySize, MaximumQueryParameters, out var key);
        Assert.Equal(KeyStatus.Ok, status);
        return key.ToArray();
    }

    private sealed class ByteArrayComparer : IEqualityComparer<byte[]>
    {
        public static readonly ByteArrayComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj) => obj.Length;
    }
}
