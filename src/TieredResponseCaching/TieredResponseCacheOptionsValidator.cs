using Microsoft.Extensions.Options;
using TieredResponseCaching.Keys;
using TieredResponseCaching.Policies;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching;

/// <summary>Checks the options when the app starts (<c>ValidateOnStart</c>); each message says what to fix.</summary>
internal sealed class TieredResponseCacheOptionsValidator : IValidateOptions<TieredResponseCacheOptions>
{
    public ValidateOptionsResult Validate(string? name, TieredResponseCacheOptions options)
    {
        var errors = new List<string>();
        if (!HttpTokens.IsToken(options.CacheName))
        {
            errors.Add($"CacheName '{options.CacheName}' must be an HTTP token (letters, digits and !#$%&'*+-.^_`|~), as Cache-Status requires.");
        }

        if (options.SizeLimit <= 0)
        {
            errors.Add($"SizeLimit must be a positive number of bytes (was {options.SizeLimit}).");
        }

        if (options.MaximumBodySize <= 0 || options.MaximumBodySize > options.SizeLimit)
        {
            errors.Add($"MaximumBodySize must be positive and at most SizeLimit ({options.SizeLimit}); was {options.MaximumBodySize}.");
        }

        if (options.MaximumKeySize is < 256 or > KeyWriter.MaximumLimit)
        {
            errors.Add($"MaximumKeySize must be between 256 and {KeyWriter.MaximumLimit} bytes (was {options.MaximumKeySize}).");
        }

        if (options.MaximumInvalidationRecords < 100)
        {
            errors.Add($"MaximumInvalidationRecords must be at least 100 (was {options.MaximumInvalidationRecords}).");
        }

        if (options.MaximumQueryParameters < 1)
        {
            errors.Add($"MaximumQueryParameters must be at least 1 (was {options.MaximumQueryParameters}).");
        }

        if (options.CollapsedRequestTimeout <= TimeSpan.Zero)
        {
            errors.Add($"CollapsedRequestTimeout must be positive (was {options.CollapsedRequestTimeout}).");
        }

        if (options.BackgroundRefreshTimeout <= TimeSpan.Zero)
        {
            errors.Add($"BackgroundRefreshTimeout must be positive (was {options.BackgroundRefreshTimeout}).");
        }

        if (options.MaximumConcurrentEagerRefreshes < 1)
        {
            errors.Add($"MaximumConcurrentEagerRefreshes must be at least 1 (was {options.MaximumConcurrentEagerRefreshes}).");
        }

        ValidateCdn(options.Cdn, errors);
        ValidateCompression(options.Compression, errors);
        var policyErrors = new List<string>();
        PolicyCompiler.Compile(options.DefaultPolicy.Clone(), "default policy", options.MaximumBodySize, policyErrors);
        errors.AddRange(policyErrors.Select(e => "DefaultPolicy: " + e));
        foreach (var (policyName, settings) in options.NamedPolicies)
        {
            policyErrors.Clear();
            var merged = options.DefaultPolicy.Clone();
            merged.OverlayWith(settings);
            PolicyCompiler.Compile(merged, policyName, options.MaximumBodySize, policyErrors);
            errors.AddRange(policyErrors.Select(e => $"Policy '{policyName}': {e}"));
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void ValidateCompression(CompressionOptions compression, List<string> errors)
    {
        if (compression.BrotliQuality is < 0 or > 11)
        {
            errors.Add($"Compression.BrotliQuality must be between 0 and 11 (was {compression.BrotliQuality}).");
        }

        if (compression.MinimumBodySize < 0)
        {
            errors.Add($"Compression.MinimumBodySize must not be negative (was {compression.MinimumBodySize}).");
        }

        if (!Enum.IsDefined(compression.GzipLevel))
        {
            errors.Add($"Compression.GzipLevel must be a CompressionLevel (was {compression.GzipLevel}).");
        }

        foreach (var type in compression.MimeTypes)
        {
            if (string.IsNullOrWhiteSpace(type) || type.Contains(';', StringComparison.Ordinal))
            {
                errors.Add($"Compression.MimeTypes must hold media types without parameters ('application/json'); '{type}' is not one.");
            }
        }
    }

    private static void ValidateCdn(CdnOptions cdn, List<string> errors)
    {
        if ((cdn.TagHeaders & ~(CdnTagHeaders.CacheGroups | CdnTagHeaders.SurrogateKey | CdnTagHeaders.CacheTag | CdnTagHeaders.XKey)) != 0)
        {
            errors.Add($"Cdn.TagHeaders holds an unknown field ({cdn.TagHeaders}); combine CacheGroups, SurrogateKey, CacheTag and XKey.");
        }

        if (cdn.PurgeTimeout <= TimeSpan.Zero)
        {
            errors.Add($"Cdn.PurgeTimeout must be positive (was {cdn.PurgeTimeout}).");
        }

        if (cdn.PurgeRetryDelay <= TimeSpan.Zero || cdn.MaximumPurgeRetryDelay < cdn.PurgeRetryDelay)
        {
            errors.Add($"Cdn.PurgeRetryDelay must be positive and at most Cdn.MaximumPurgeRetryDelay (were {cdn.PurgeRetryDelay} and {cdn.MaximumPurgeRetryDelay}).");
        }

        if (cdn.MaximumPurgeAttempts < 1)
        {
            errors.Add($"Cdn.MaximumPurgeAttempts must be at least 1 (was {cdn.MaximumPurgeAttempts}).");
        }

        if (cdn.MaximumPurgeBatchSize < 1)
        {
            errors.Add($"Cdn.MaximumPurgeBatchSize must be at least 1 (was {cdn.MaximumPurgeBatchSize}).");
        }

        if (cdn.MaximumPendingPurges < 1)
        {
            errors.Add($"Cdn.MaximumPendingPurges must be at least 1 (was {cdn.MaximumPendingPurges}).");
        }
    }
}
