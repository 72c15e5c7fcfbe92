using System.Buffers;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace TieredResponseCaching.Invalidation;

/// <summary>Sends purges to a URL, as <see cref="HttpEdgePurgerOptions"/> describe; a status other than 2xx throws (and is retried).</summary>
internal sealed class HttpEdgePurger(string name, IHttpClientFactory clients, IOptionsMonitor<HttpEdgePurgerOptions> options) : IEdgePurger, INamedEdgePurger
{
    /// <summary>The prefix of the named HttpClient of each HTTP purger.</summary>
    public const string ClientPrefix = "TieredResponseCaching.EdgePurge.";

    public string Name => "HttpEdgePurger '" + name + "'";

    public async ValueTask PurgeAsync(EdgePurgeRequest request, CancellationToken cancellationToken)
    {
        var settings = options.Get(name);
        if (settings.TagsOnly && request.Tags.Count == 0)
        {
            return;
        }

        using var message = new HttpRequestMessage(settings.Method, settings.PurgeUri);
        foreach (var (header, value) in settings.Headers)
        {
            message.Headers.TryAddWithoutValidation(header, value);
        }

        if (request.Soft && settings.SoftPurgeHeader is { } soft)
        {
            message.Headers.TryAddWithoutValidation(soft, settings.SoftPurgeHeaderValue);
        }

        message.Content = settings.Content is { } content ? content(request) : JsonBody(settings, request);
        settings.ConfigureRequest?.Invoke(message, request);
        using var response = await clients.CreateClient(ClientPrefix + name).SendAsync(message, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException(
                $"The purge URL {settings.PurgeUri} answered {(int)response.StatusCode} {response.ReasonPhrase}.", null, response.StatusCode);
        }
    }

    private static ByteArrayContent? JsonBody(HttpEdgePurgerOptions settings, EdgePurgeRequest request)
    {
        if (settings.TagsProperty is null && settings.PathsProperty is null && settings.SoftProperty is null)
        {
            return null;
        }

        var buffer = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            WriteList(json, settings.TagsProperty, request.Tags);
            WriteList(json, settings.PathsProperty, request.Paths);
            if (settings.SoftProperty is { } soft)
            {
                json.WriteBoolean(soft, request.Soft);
            }

            json.WriteEndObject();
        }

        var body = new ByteArrayContent(buffer.WrittenSpan.ToArray());
        body.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return body;
    }

    private static void WriteList(Utf8JsonWriter json, string? property, IReadOnlyList<string> values)
    {
        if (property is null)
        {
            return;
        }

        json.WriteStartArray(property);
        foreach (var value in values)
        {
            json.WriteStringValue(value);
        }

        json.WriteEndArray();
    }
}
