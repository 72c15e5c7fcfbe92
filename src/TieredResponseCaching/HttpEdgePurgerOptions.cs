namespace TieredResponseCaching;

/// <summary>
/// An <see cref="IEdgePurger"/> that calls a purge URL: a CDN's purge API (Fastly, Cloudflare), a Varnish <c>PURGE</c>
/// endpoint, or a relay of your own. Register with <c>services.AddHttpEdgePurger(o => ...)</c>; examples in docs/cdn.md.
/// </summary>
/// <remarks>
/// By default the request is <c>POST {PurgeUri}</c> with a JSON body <c>{"tags":[...],"paths":[...],"soft":true}</c>.
/// Rename or drop the body's properties, add headers (an API token), mark soft purges with a header, or replace the body
/// and adjust the request entirely. Any status other than 2xx counts as a failure and is retried.
/// </remarks>
public sealed class HttpEdgePurgerOptions
{
    /// <summary>The absolute http or https URI the purge is sent to. Required.</summary>
    public Uri? PurgeUri { get; set; }

    /// <summary>The request method. Default <c>POST</c>; Varnish setups usually use <c>PURGE</c>.</summary>
    public HttpMethod Method { get; set; } = HttpMethod.Post;

    /// <summary>Headers sent with every purge, such as an API token (<c>Fastly-Key</c>, <c>Authorization</c>).</summary>
    public IDictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// A header that marks a soft purge, sent only when the purge is soft (<see cref="CdnOptions.SoftPurge"/>), such as
    /// <c>Fastly-Soft-Purge</c>. Default none.
    /// </summary>
    public string? SoftPurgeHeader { get; set; }

    /// <summary>The value of <see cref="SoftPurgeHeader"/>. Default <c>1</c>.</summary>
    public string SoftPurgeHeaderValue { get; set; } = "1";

    /// <summary>The JSON body's property holding the tags (<c>surrogate_keys</c> for Fastly); <c>null</c> leaves them out. Default <c>tags</c>.</summary>
    public string? TagsProperty { get; set; } = "tags";

    /// <summary>The JSON body's property holding the invalidated paths; <c>null</c> leaves them out. Default <c>paths</c>.</summary>
    public string? PathsProperty { get; set; } = "paths";

    /// <summary>The JSON body's property holding the soft flag; <c>null</c> leaves it out. Default <c>soft</c>.</summary>
    public string? SoftProperty { get; set; } = "soft";

    /// <summary>
    /// Skip purges that carry no tag (those of path invalidations), for purge APIs that only know tags. Default <c>false</c>.
    /// </summary>
    public bool TagsOnly { get; set; }

    /// <summary>Replaces the JSON body: returns the content for a purge, or <c>null</c> for none.</summary>
    public Func<EdgePurgeRequest, HttpContent?>? Content { get; set; }

    /// <summary>Adjusts each request before it is sent (a header carrying the tags, a URI per purge...).</summary>
    public Action<HttpRequestMessage, EdgePurgeRequest>? ConfigureRequest { get; set; }
}
