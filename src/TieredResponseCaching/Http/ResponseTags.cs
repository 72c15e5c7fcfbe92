using TieredResponseCaching.Policies;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Http;

/// <summary>
/// The tags of one response beyond its policy's static ones: the policy's templates filled from the route values, and
/// those the app adds while it runs (<see cref="CacheTagsHttpContextExtensions.AddCacheTags"/>). One per exchange,
/// set as the request's <see cref="ICacheTagsFeature"/> while the app runs (docs/invalidation.md, "Per-response tags").
/// </summary>
/// <remarks>
/// Bounded whatever the app does (docs/design.md rule 10): at most <see cref="TagRules.MaximumTagsPerEntry"/> tags are
/// kept; past the limit, or after one invalid tag, the response is marked unstorable and later tags are ignored, so a
/// handler adding 10,000 tags costs a counter. A tag that cannot be computed would leave an entry that cannot be
/// invalidated, so any problem stops the store; the request itself never fails for it.
/// </remarks>
internal sealed class ResponseTags : ICacheTagsFeature
{
    private readonly ResolvedPolicy _policy;
    private readonly Lock _lock = new();
    private List<string>? _added;
    private int _knownAtStart = -1;
    private bool _closed;

    public ResponseTags(ResolvedPolicy policy, HttpContext context)
    {
        _policy = policy;
        foreach (var template in policy.TagTemplates)
        {
            var tag = template.Fill(context.Request.RouteValues, out var problem);
            if (tag is null)
            {
                Fail(NotCachedReason.TagTemplateUnfilled, $"the tag template '{template.Text}' could not be filled: {problem}");
                return;
            }

            AddChecked(tag);
        }
    }

    /// <summary>Why the response may not be stored because of its tags, or none.</summary>
    public NotCachedReason Problem { get; private set; }

    /// <summary>What exactly was wrong (for the log, with any tag text made printable), when <see cref="Problem"/> is set.</summary>
    public string? ProblemDetail { get; private set; }

    /// <summary>Whether a tag was added after the response started (not in the CDN fields of this response).</summary>
    public bool AddedLate { get; private set; }

    public IReadOnlyCollection<string> Tags
    {
        get
        {
            lock (_lock)
            {
                return _added is null ? [] : [.. _added];
            }
        }
    }

    public void Add(string tag)
    {
        lock (_lock)
        {
            if (_closed || Problem != NotCachedReason.None)
            {
                return;
            }

            if (TagRules.Problem(tag) is { } problem)
            {
                Fail(NotCachedReason.InvalidTag, $"the tag '{TagRules.Printable(tag)}' added by the app is not valid: {problem}");
                return;
            }

            if (AddChecked(tag) && _knownAtStart >= 0)
            {
                AddedLate = true;
            }
        }
    }

    /// <summary>The app returned: later calls (from work it left running) are ignored.</summary>
    public void Close()
    {
        lock (_lock)
        {
            _closed = true;
        }
    }

    /// <summary>
    /// The CDN fields for the tags known now, as the response starts (docs/cdn.md): the policy's own, computed once,
    /// when the response has no tags of its own.
    /// </summary>
    public HeaderField[] CdnFieldsAtStart()
    {
        lock (_lock)
        {
            _knownAtStart = _added?.Count ?? 0;
            return CdnFields(_knownAtStart);
        }
    }

    /// <summary>The CDN fields for every tag of the entry (a hit's response carries them all).</summary>
    public HeaderField[] CdnFieldsOfEntry()
    {
        lock (_lock)
        {
            return CdnFields(_added?.Count ?? 0);
        }
    }

    /// <summary>The entry's tags: the policy's, this response's, then the system tags (the path's, the URI's).</summary>
    public string[] EntryTags(string systemTag, string? secondSystemTag = null)
    {
        lock (_lock)
        {
            var added = _added?.Count ?? 0;
            var tags = new string[_policy.Tags.Length + added + (secondSystemTag is null ? 1 : 2)];
            _policy.Tags.CopyTo(tags, 0);
            _added?.CopyTo(tags, _policy.Tags.Length);
            tags[_policy.Tags.Length + added] = systemTag;
            if (secondSystemTag is not null)
            {
                tags[^1] = secondSystemTag;
            }

            return tags;
        }
    }

    private HeaderField[] CdnFields(int count)
    {
        if (count == 0 || _policy.CdnTagFields == CdnTagHeaders.None)
        {
            return _policy.CdnHeaders;
        }

        string[] tags = [.. _policy.Tags, .. _added!.GetRange(0, count)];
        HeaderField[] fields = Policies.CdnHeaders.ForTags(tags, _policy.CdnTagFields);
        return _policy.CdnCacheControl is { } cdnCacheControl ? [.. fields, cdnCacheControl] : fields;
    }

    /// <summary>Adds a valid tag unless it is there already; false when it was (or the limit was reached).</summary>
    private bool AddChecked(string tag)
    {
        if (Array.IndexOf(_policy.Tags, tag) >= 0 || _added?.Contains(tag) == true)
        {
            return false;
        }

        if (_policy.Tags.Length + (_added?.Count ?? 0) >= TagRules.MaximumTagsPerEntry)
        {
            Fail(NotCachedReason.TooManyTags, $"the response has more than {TagRules.MaximumTagsPerEntry} tags (the policy's and those the app added)");
            return false;
        }

        (_added ??= new List<string>(4)).Add(tag);
        return true;
    }

    private void Fail(NotCachedReason reason, string detail)
    {
        Problem = reason;
        ProblemDetail = detail;
        // The tags are useless now; let them go.
        _added = null;
    }
}
