using System.Text;
using Microsoft.Extensions.Options;
using Npgsql;

namespace TieredResponseCaching.PostgreSql;

/// <summary>Checks the options when the app starts; each message says what to fix.</summary>
internal sealed class PostgreSqlInvalidationOptionsValidator : IValidateOptions<PostgreSqlInvalidationOptions>
{
    /// <summary>PostgreSQL's NAMEDATALEN − 1: a longer channel name is truncated by the server, so it would not match.</summary>
    private const int MaximumChannelBytes = 63;

    public ValidateOptionsResult Validate(string? name, PostgreSqlInvalidationOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            errors.Add("PostgreSqlInvalidationOptions.ConnectionString is required.");
        }
        else
        {
            try
            {
                _ = new NpgsqlConnectionStringBuilder(options.ConnectionString);
            }
            catch (ArgumentException exception)
            {
                errors.Add($"PostgreSqlInvalidationOptions.ConnectionString is not a valid Npgsql connection string: {exception.Message}");
            }
        }

        if (options.Channels.Count == 0)
        {
            errors.Add("PostgreSqlInvalidationOptions.Channels must name at least one channel (the first argument of pg_notify).");
        }

        foreach (var channel in options.Channels)
        {
            if (string.IsNullOrEmpty(channel) || Encoding.UTF8.GetByteCount(channel) > MaximumChannelBytes || channel.Contains('\0', StringComparison.Ordinal))
            {
                errors.Add($"Channel '{channel}' must be 1 to {MaximumChannelBytes} bytes long.");
            }
        }

        foreach (var tag in options.InvalidateOnReconnect)
        {
            try
            {
                InvalidationEvent.ForTag(tag);
            }
            catch (ArgumentException exception)
            {
                errors.Add($"InvalidateOnReconnect: {exception.Message}");
            }
        }

        if (options.KeepAliveInterval < TimeSpan.FromSeconds(1))
        {
            errors.Add($"KeepAliveInterval must be at least 1 s (was {options.KeepAliveInterval}).");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
