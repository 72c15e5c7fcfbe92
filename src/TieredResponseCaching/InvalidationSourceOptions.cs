namespace TieredResponseCaching;

/// <summary>
/// How the host that reads every <see cref="IInvalidationSource"/> restarts a source that failed. Configure with
/// <c>services.Configure&lt;InvalidationSourceOptions&gt;(...)</c>.
/// </summary>
public sealed class InvalidationSourceOptions
{
    /// <summary>The delay before the first restart of a failed source; it doubles with each failure in a row. Default 1 s.</summary>
    public TimeSpan InitialRestartDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The longest delay between restarts. Default 30 s. A source that ran at least this long before it failed
    /// counts as healthy: its next restart waits <see cref="InitialRestartDelay"/> again.
    /// </summary>
    public TimeSpan MaximumRestartDelay { get; set; } = TimeSpan.FromSeconds(30);
}
