using Microsoft.Extensions.Options;
using Npgsql;

namespace TieredResponseCaching.PostgreSql;

/// <summary>Checks the logical replication options when the app starts; each message says what to fix.</summary>
internal sealed class PostgreSqlLogicalReplicationOptionsValidator : IValidateOptions<PostgreSqlLogicalReplicationOptions>
{
    public ValidateOptionsResult Validate(string? name, PostgreSqlLogicalReplicationOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            errors.Add("PostgreSqlLogicalReplicationOptions.ConnectionString is required.");
        }
        else
        {
            try
            {
                _ = new NpgsqlConnectionStringBuilder(options.ConnectionString);
            }
            catch (ArgumentException exception)
            {
                errors.Add($"PostgreSqlLogicalReplicationOptions.ConnectionString is not a valid Npgsql connection string: {exception.Message}");
            }
        }

        if (!TableRule.IsName(options.Publication))
        {
            errors.Add($"Publication '{options.Publication}' must be 1 to 63 bytes long.");
        }

        // Slot names are stricter than other names: lower-case letters, digits and underscores.
        if (string.IsNullOrEmpty(options.Slot) || options.Slot.Length > 63 || !options.Slot.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_'))
        {
            errors.Add($"Slot '{options.Slot}' must be 1 to 63 lower-case letters, digits and underscores (PostgreSQL's rule for replication slot names).");
        }

        if (options.LeaseDuration < TimeSpan.FromSeconds(1))
        {
            errors.Add($"LeaseDuration must be at least 1 s (was {options.LeaseDuration}).");
        }

        if (options.Tables.Count == 0)
        {
            errors.Add("Declare at least one table: options.Table(\"products\", \"id\").Tags(\"product:{id}\", \"products\").");
        }

        TableRule.Compile(options.Tables, errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
