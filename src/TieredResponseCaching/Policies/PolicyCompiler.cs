using System.Globalization;
using System.Text;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Policies;

/// <summary>Turns merged <see cref="CachePolicyOptions"/> into a <see cref="ResolvedPolicy"/>, or says what to fix.</summary>
internal static class PolicyCompiler
{
    public const string AllQueryKeys = "*";

    /// <summary>The <c>AllowCookies</c> entry that allows every cookie.</summary>
    public const string AllCookies = "*";

    private static readonly TimeSpan DefaultDuration = TimeSpan.FromSeconds(60);

    /// <summary>Merges the built-in defaults, the default policy, a named policy and endpoint overrides, in that order.</summary>
    public static CachePolicyOptions Merge(TieredResponseCacheOptions options, string? policyName, CachePolicyOptions? overrides)
    {
        var merged = options.DefaultPolicy.Clone();
        if (policyName is not null)
        {
            if (!options.NamedPolicies.TryGetValue(policyName, out var named))
            {
                throw new InvalidOperationException(
                    $"No cache policy is named '{policyName}'. Add it with options.AddPolicy(\"{policyName}\", p => ...) in AddTieredResponseCache.");
            }

            merged.OverlayWith(named);
        }

        if (overrides is not null)
        {
            merged.OverlayWith(overrides);
        }

        return merged;
    }

    /// <summary>
    /// Compiles <paramref name="settings"/>; returns <c>null</c> and fills <paramref name="errors"/> when they are invalid.
    /// <paramref name="routeParameters"/> are the endpoint's route parameters, which tag templates may name; <c>null</c>
    /// when the policy is not compiled for an endpoint (options), where only a template's syntax is checked.
    /// </summary>
    public static ResolvedPolicy? Compile(
        CachePolicyOptions settings,
        string endpointName,
        long defaultMaximumBodySize,
        List<string> errors,
        CacheProtocol protocol = CacheProtocol.Rest,
        bool grpcStreaming = false,
        IReadOnlyDictionary<string, ResolvedPolicy>? operations = null,
        CdnTagHeaders tagHeaders = CdnTagHeaders.CacheGroups,
        Diagnostics.EndpointStats? stats = null,
        IReadOnlyCollection<string>? routeParameters = null,
        bool ignorePathCase = false,
        CompressionSettings? compression = null)
    {
        var start = errors.Count;
        var noStore = settings.NoStore ?? false;
        var duration = settings.Duration ?? DefaultDuration;
        var swr = settings.StaleWhileRevalidate ?? TimeSpan.Zero;
        var sie = settings.StaleIfError ?? TimeSpan.Zero;
        var varyByUser = settings.VaryByUser ?? false;
        var originDirected = settings.OriginDirected ?? false;

        if (originDirected && protocol != CacheProtocol.Rest)
        {
            errors.Add("OriginDirected() applies to HTTP endpoints (REST and proxies), not to GraphQL or gRPC ones.");
        }

        if (!noStore && !originDirected && duration <= TimeSpan.Zero)
        {
            errors.Add($"Duration must be positive (was {duration}); use NoStore to turn caching off.");
        }

        if (swr < TimeSpan.Zero)
        {
            errors.Add($"StaleWhileRevalidate must not be negative (was {swr}).");
        }

        if (sie < TimeSpan.Zero)
        {
            errors.Add($"StaleIfError must not be negative (was {sie}).");
        }

        var eager = settings.EagerRefresh ?? 0;
        if (eager != 0 && !(eager is > 0 and < 1))
        {
            errors.Add($"EagerRefresh must be a fraction of Duration greater than 0 and less than 1, such as 0.8 (was {eager.ToString(CultureInfo.InvariantCulture)}); use 0 to turn it off.");
        }

        if (settings.SharedMaxAge is { } sMaxAge && sMaxAge < TimeSpan.Zero)
        {
            errors.Add($"SharedMaxAge must not be negative (was {sMaxAge}).");
        }

        if (varyByUser && settings.Visibility == CacheVisibility.Public)
        {
            errors.Add("A policy that varies by user cannot be Public: its entries belong to one user. Remove Public() or VaryByUser().");
        }

        var maximumBodySize = settings.MaximumBodySize ?? defaultMaximumBodySize;
        if (maximumBodySize <= 0)
        {
            errors.Add($"MaximumBodySize must be positive (was {maximumBodySize}).");
        }

        var statusCodes = settings.StatusCodes?.ToArray() ?? [200];
        foreach (var status in statusCodes)
        {
            if (status is < 200 or > 599 or 206 or 304)
            {
                errors.Add($"Status code {status} cannot be cached: use final statuses from 200 to 599 except 206 and 304.");
            }
        }

        var queryKeys = settings.VaryByQuery ?? [AllQueryKeys];
        var allQueryKeys = queryKeys.Contains(AllQueryKeys);
        foreach (var key in queryKeys)
        {
            if (string.IsNullOrEmpty(key))
            {
                errors.Add("VaryByQuery holds an empty key.");
            }
        }

        var headers = (settings.VaryByHeader ?? []).Select(h => h?.Trim().ToLowerInvariant() ?? "").Distinct().Order(StringComparer.Ordinal).ToArray();
        foreach (var header in headers)
        {
            if (!HttpTokens.IsToken(header))
            {
                errors.Add($"VaryByHeader holds '{header}', which is not a valid header name.");
            }
        }

        var allowCookies = (settings.AllowCookies ?? []).Distinct(StringComparer.Ordinal).ToArray();
        foreach (var cookie in allowCookies)
        {
            if (cookie != AllCookies && !HttpTokens.IsToken(cookie))
            {
                errors.Add($"AllowCookies holds '{cookie}', which is not a cookie name (RFC 6265 §4.1.1: a token); use \"*\" to allow every cookie.");
            }
        }

        var routeValues = (settings.VaryByRouteValue ?? []).Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.Ordinal).ToArray();
        var allTags = (settings.Tags ?? []).Distinct(StringComparer.Ordinal).ToArray();
        var tags = allTags.Where(tag => !TagTemplate.IsTemplate(tag)).ToArray();
        foreach (var tag in tags)
        {
            if (!TagRules.IsValid(tag))
            {
                errors.Add(TagRules.Error(tag));
            }
        }

        var templates = CompileTemplates(allTags, routeParameters, errors);
        if (allTags.Length > TagRules.MaximumTagsPerPolicy)
        {
            errors.Add($"A policy has {allTags.Length} tags, {TagRules.MaximumTagsPerPolicy} at most (the number every cache that reads Cache-Groups must support, RFC 9875). Tag broader groups.");
        }

        var rules = settings.Rules?.ToArray() ?? [];
        if (Array.Exists(rules, rule => rule is null))
        {
            errors.Add("Rules holds a null rule.");
        }

        if (originDirected && rules.Length > 0)
        {
            errors.Add("Custom rules (AddRule) apply to server-configured policies; in the origin-directed mode the origin's headers decide. Attach the rule to the endpoints' own policy, not to one an origin-directed endpoint inherits.");
        }

        if (errors.Count > start)
        {
            return null;
        }

        var isPrivate = varyByUser || settings.Visibility == CacheVisibility.Private;
        HeaderField[] cdnHeaders = CdnHeaders.ForTags(tags, tagHeaders);
        HeaderField? cdnCacheControl = null;
        if (settings.CdnCacheControl == true && !isPrivate && !originDirected && !noStore)
        {
            // RFC 9213 for the CDN alone; never for a response that belongs to one user.
            cdnCacheControl = new HeaderField(CdnHeaders.CdnCacheControl, BuildCdnCacheControl(settings.SharedMaxAge ?? duration, swr, sie));
            cdnHeaders = [.. cdnHeaders, cdnCacheControl.Value];
        }

        return new ResolvedPolicy
        {
            EndpointName = endpointName,
            Stats = stats ?? new Diagnostics.EndpointStats(endpointName),
            NoStore = noStore,
            Duration = duration,
            StaleWhileRevalidate = swr,
            StaleIfError = sie,
            // Server-configured only: in origin-directed mode the origin decides freshness (docs/swr.md, "Eager refresh").
            EagerRefreshAfter = eager > 0 && !originDirected && !noStore ? duration * eager : TimeSpan.Zero,
            VaryByAllQueryKeys = allQueryKeys,
            VaryByQueryKeys = allQueryKeys ? [] : [.. queryKeys.Select(k => Encoding.UTF8.GetBytes(k))],
            VaryByHeaders = headers,
            VaryByRouteValues = routeValues,
            VaryByUser = varyByUser,
            AllowsAnyCookie = allowCookies.Contains(AllCookies),
            AllowedCookies = [.. allowCookies.Where(c => c != AllCookies)],
            Tags = tags,
            TagTemplates = templates,
            CdnTagFields = tagHeaders,
            CdnCacheControl = cdnCacheControl,
            IsPrivate = isPrivate,
            MaximumBodySize = maximumBodySize,
            StatusCodes = statusCodes,
            CacheControl = BuildCacheControl(isPrivate, duration, settings.SharedMaxAge, swr, sie),
            Vary = headers.Length == 0 ? null : string.Join(", ", headers),
            CdnHeaders = cdnHeaders,
            Protocol = protocol,
            IgnorePathCase = ignorePathCase,
            Rules = rules,
            GrpcStreaming = grpcStreaming,
            Operations = operations,
            OriginDirected = originDirected,
            TrustClientDirectives = settings.TrustClientDirectives ?? false,
            HeuristicFreshness = settings.HeuristicFreshness ?? false,
            StoreSetCookieResponses = settings.StoreSetCookieResponses ?? false,
            ReusePostResponses = settings.ReusePostResponses ?? false,
            TargetedCacheControl = [.. settings.TargetedCacheControl ?? []],
            // Origin-directed responses keep the origin's encoding (never re-encoded); gRPC has its own message compression.
            Compression = originDirected || protocol == CacheProtocol.Grpc ? null : compression,
        };
    }

    /// <summary>
    /// The tag templates among <paramref name="tags"/> (docs/policies.md, "Tag templates"): each must parse and, for an
    /// endpoint, name only parameters of its route, since a parameter the route never has would leave every response
    /// unstorable.
    /// </summary>
    private static TagTemplate[] CompileTemplates(string[] tags, IReadOnlyCollection<string>? routeParameters, List<string> errors)
    {
        var templates = new List<TagTemplate>();
        foreach (var tag in tags)
        {
            if (!TagTemplate.IsTemplate(tag))
            {
                continue;
            }

            if (TagTemplate.TryParse(tag, out var error) is not { } template)
            {
                errors.Add(error!);
                continue;
            }

            foreach (var parameter in template.Parameters)
            {
                if (routeParameters is not null && !routeParameters.Contains(parameter, StringComparer.OrdinalIgnoreCase))
                {
                    errors.Add(routeParameters.Count == 0
                        ? $"Tag template '{tag}' names the route parameter '{parameter}', but the route has no parameters."
                        : $"Tag template '{tag}' names the route parameter '{parameter}', which the route does not have (it has {string.Join(", ", routeParameters.Select(p => "'" + p + "'"))}).");
                }
            }

            templates.Add(template);
        }

        return [.. templates];
    }

    /// <summary>RFC 9111 §5.2.2: the response directives a policy turns into.</summary>
    private static string BuildCacheControl(bool isPrivate, TimeSpan duration, TimeSpan? sharedMaxAge, TimeSpan swr, TimeSpan sie)
    {
        var value = new StringBuilder(isPrivate ? "private" : "public");
        value.Append(CultureInfo.InvariantCulture, $", max-age={Seconds(duration)}");
        if (!isPrivate && sharedMaxAge is { } sMaxAge)
        {
            value.Append(CultureInfo.InvariantCulture, $", s-maxage={Seconds(sMaxAge)}");
        }

        return AppendStaleWindows(value, swr, sie);
    }

    /// <summary>
    /// RFC 9213 §2: the Cache-Control directives for the CDN alone, the shared lifetime and the stale windows (RFC 5861).
    /// A CDN that honours the field ignores <c>Cache-Control</c>, so it carries everything the CDN needs.
    /// </summary>
    private static string BuildCdnCacheControl(TimeSpan sharedLifetime, TimeSpan swr, TimeSpan sie) =>
        AppendStaleWindows(new StringBuilder().Append(CultureInfo.InvariantCulture, $"max-age={Seconds(sharedLifetime)}"), swr, sie);

    private static string AppendStaleWindows(StringBuilder value, TimeSpan swr, TimeSpan sie)
    {
        if (swr > TimeSpan.Zero)
        {
            value.Append(CultureInfo.InvariantCulture, $", stale-while-revalidate={Seconds(swr)}");
        }

        if (sie > TimeSpan.Zero)
        {
            value.Append(CultureInfo.InvariantCulture, $", stale-if-error={Seconds(sie)}");
        }

        return value.ToString();
    }

    private static long Seconds(TimeSpan value) => (long)Math.Ceiling(value.TotalSeconds);
}
