using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Invalidation;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Operations;

/// <summary>
/// The handlers of <c>MapTieredResponseCacheAdmin</c>: invalidation by tag or by path over HTTP, each call logged with
/// who made it. They answer JSON: <c>{"invalidated":"tag","target":"products"}</c>, or 400 with <c>{"error":"..."}</c>.
/// </summary>
/// <remarks>
/// Against cross-site request forgery (docs/operations.md): a page on another site can make its visitors' browsers POST
/// a form or plain text, with their cookies, but not <c>application/json</c> without a CORS preflight, and a browser
/// names the page's origin in <c>Origin</c>. So a call must be <c>application/json</c> (415 otherwise) and its
/// <c>Origin</c>, when it has one, must be the app's own or one of <see cref="TieredResponseCacheOptions.AdminAllowedOrigins"/>
/// (403 otherwise). A call without <c>Origin</c> comes from no browser page (curl, a script) and is not refused for it.
/// </remarks>
internal static class AdminEndpoints
{
    private const string JsonMediaType = "application/json";

    public static async Task InvalidateTagAsync(HttpContext context)
    {
        var tag = context.Request.RouteValues["tag"] as string ?? "";
        var runtime = context.RequestServices.GetRequiredService<CacheRuntime>();
        if (!await CheckCrossSiteAsync(context, runtime))
        {
            return;
        }

        var cache = context.RequestServices.GetRequiredService<ITieredResponseCache>();
        try
        {
            await cache.InvalidateTagAsync(tag, context.RequestAborted);
        }
        catch (ArgumentException e)
        {
            await RefuseAsync(context, runtime, "tag", tag, e.Message);
            return;
        }

        await AcceptAsync(context, runtime, "tag", tag);
    }

    /// <summary>Body: <c>{"path":"/products/42"}</c>, what <see cref="ITieredResponseCache.InvalidateAsync"/> takes.</summary>
    public static async Task InvalidateKeyAsync(HttpContext context)
    {
        var runtime = context.RequestServices.GetRequiredService<CacheRuntime>();
        if (!await CheckCrossSiteAsync(context, runtime))
        {
            return;
        }

        string? path = null;
        try
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted);
            if (body.RootElement.ValueKind == JsonValueKind.Object
                && body.RootElement.TryGetProperty("path", out var value) && value.ValueKind == JsonValueKind.String)
            {
                path = value.GetString();
            }
        }
        catch (JsonException)
        {
        }

        if (string.IsNullOrEmpty(path) || path[0] != '/')
        {
            await RefuseAsync(context, runtime, "path", path ?? "", "The body must be JSON like {\"path\":\"/products/42\"}, with a path that starts with '/'.");
            return;
        }

        var cache = context.RequestServices.GetRequiredService<ITieredResponseCache>();
        await cache.InvalidateAsync(new PathString(path), context.RequestAborted);
        await AcceptAsync(context, runtime, "path", path);
    }

    /// <summary>Refuses (and logs) a call a page on another site could have made; true when the call may go on.</summary>
    private static async Task<bool> CheckCrossSiteAsync(HttpContext context, CacheRuntime runtime)
    {
        var request = context.Request;
        if (!IsJson(request.ContentType))
        {
            await RefuseCrossSiteAsync(context, runtime, StatusCodes.Status415UnsupportedMediaType, "The admin API takes only Content-Type: application/json.");
            return false;
        }

        var origins = request.Headers.Origin;
        if (origins.Count == 0)
        {
            return true;
        }

        if (origins.Count == 1 && IsAllowedOrigin(origins[0], request, runtime.Options.AdminAllowedOrigins))
        {
            return true;
        }

        await RefuseCrossSiteAsync(context, runtime, StatusCodes.Status403Forbidden, "The call comes from a page of another origin; list it in AdminAllowedOrigins to allow it.");
        return false;
    }

    /// <summary><c>application/json</c>, with any parameters (<c>charset</c>): a media type a cross-site form cannot send.</summary>
    private static bool IsJson(string? contentType)
    {
        if (contentType is null)
        {
            return false;
        }

        var semicolon = contentType.IndexOf(';', StringComparison.Ordinal);
        var mediaType = (semicolon < 0 ? contentType.AsSpan() : contentType.AsSpan(0, semicolon)).Trim();
        return mediaType.Equals(JsonMediaType, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The app's own origin (scheme and host as the app sees them), or one the options list; <c>null</c> never.</summary>
    private static bool IsAllowedOrigin(string? origin, HttpRequest request, IList<string> allowed)
    {
        if (string.IsNullOrEmpty(origin))
        {
            return false;
        }

        var own = request.Scheme + "://" + request.Host.Value;
        if (origin.Equals(own, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        foreach (var candidate in allowed)
        {
            if (candidate is not null && origin.AsSpan().Equals(candidate.AsSpan().TrimEnd('/'), StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static Task RefuseCrossSiteAsync(HttpContext context, CacheRuntime runtime, int status, string error)
    {
        var request = context.Request;
        Log.AdminCallRefused(runtime.OperationsLogger, Caller(context), context.Connection.RemoteIpAddress?.ToString() ?? "-", request.Path.Value ?? "",
            request.ContentType ?? "(none)", request.Headers.Origin.ToString() is { Length: > 0 } origin ? origin : "(none)", error);
        return WriteAsync(context, status, writer => writer.WriteString("error", error));
    }

    private static Task AcceptAsync(HttpContext context, CacheRuntime runtime, string kind, string target)
    {
        Log.AdminInvalidation(runtime.OperationsLogger, Caller(context), context.Connection.RemoteIpAddress?.ToString() ?? "-", kind, target);
        return WriteAsync(context, StatusCodes.Status200OK, writer =>
        {
            writer.WriteString("invalidated", kind);
            writer.WriteString("target", target);
        });
    }

    private static Task RefuseAsync(HttpContext context, CacheRuntime runtime, string kind, string target, string error)
    {
        Log.AdminInvalidationRefused(runtime.OperationsLogger, Caller(context), context.Connection.RemoteIpAddress?.ToString() ?? "-", kind, target, error);
        return WriteAsync(context, StatusCodes.Status400BadRequest, writer => writer.WriteString("error", error));
    }

    private static string Caller(HttpContext context) =>
        context.User.Identity is { IsAuthenticated: true } identity ? identity.Name ?? "(authenticated, no name)" : "(anonymous)";

    private static async Task WriteAsync(HttpContext context, int status, Action<Utf8JsonWriter> write)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }

        await response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }
}
