using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace TieredResponseCaching.Diagnostics;

/// <summary>
/// The handlers of <c>MapTieredResponseCacheAdmin</c>: invalidation by tag or by path over HTTP, each call logged with
/// who made it. They answer JSON: <c>{"invalidated":"tag","target":"products"}</c>, or 400 with <c>{"error":"..."}</c>.
/// </summary>
internal static class AdminEndpoints
{
    public static async Task InvalidateTagAsync(HttpContext context)
    {
        var tag = context.Request.RouteValues["tag"] as string ?? "";
        var runtime = context.RequestServices.GetRequiredService<CacheRuntime>();
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

    private static Task AcceptAsync(HttpContext context, CacheRuntime runtime, string kind, string target)
    {
        Log.AdminInvalidation(runtime.Logger, Caller(context), context.Connection.RemoteIpAddress?.ToString() ?? "-", kind, target);
        return WriteAsync(context, StatusCodes.Status200OK, writer =>
        {
            writer.WriteString("invalidated", kind);
            writer.WriteString("target", target);
        });
    }

    private static Task RefuseAsync(HttpContext context, CacheRuntime runtime, string kind, string target, string error)
    {
        Log.AdminInvalidationRefused(runtime.Logger, Caller(context), context.Connection.RemoteIpAddress?.ToString() ?? "-", kind, target, error);
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
