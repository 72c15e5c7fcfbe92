using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using TieredResponseCaching.Diagnostics;
using TieredResponseCaching.Storage;

namespace TieredResponseCaching.Redis;

/// <summary>
/// The Redis side of the tag invalidation records: the sorted set <c>{prefix}tags</c> (member = tag, score = Unix
/// milliseconds), bounded whatever the traffic (docs/tiers.md, "Invalidation records are bounded"): at most
/// <see cref="TagInvalidations.MaximumRecords"/> members, the oldest dropped past it with the member
/// <see cref="FloorMember"/> keeping their newest time, read back in pages of <see cref="ReadPageSize"/>, and repaired
/// when the key holds another type.
/// </summary>
internal sealed class RedisTagRecords(RedisConnection connection, TagInvalidations tags, ILogger logger)
{
    /// <summary>Records read from Redis per call.</summary>
    internal const int ReadPageSize = 500;

    /// <summary>
    /// The member of the records' sorted set whose score is the floor: every entry created before it counts as
    /// invalidated. No tag starts with a space, so no tag can be mistaken for it.
    /// </summary>
    internal const string FloorMember = " floor";

    // ARGV[1] is the cap and ARGV[2] now (ms) in both scripts. They first repair the key if it holds another type
    // (the records it held are lost: the floor becomes now, so no entry they would have killed survives), then keep
    // the set within the cap: the oldest records go and the floor rises to the newest of them (a set grown before
    // there was a cap is trimmed by its first reader). `repaired` is the type found, else false (nil); `dropped` the
    // number of records dropped.
    private const string BoundScript = """
        local repaired = false
        local kind = redis.call('TYPE', KEYS[1]).ok
        if kind ~= 'zset' and kind ~= 'none' then
          redis.call('DEL', KEYS[1])
          redis.call('ZADD', KEYS[1], ARGV[2], ' floor')
          repaired = kind
        end
        local function bound()
          local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[1])
          if excess <= 0 then
            return 0
          end
          local newest = redis.call('ZRANGE', KEYS[1], excess, excess, 'WITHSCORES')
          local floor = tonumber(newest[2])
          local previous = redis.call('ZSCORE', KEYS[1], ' floor')
          if previous and tonumber(previous) > floor then
            floor = tonumber(previous)
          end
          redis.call('ZREMRANGEBYRANK', KEYS[1], 0, excess)
          redis.call('ZADD', KEYS[1], floor, ' floor')
          return excess + 1
        end

        """;

    // ARGV: cap, now (ms), tag, time (ms). Adds the record. Answers { repaired, dropped }.
    private const string WriteScript = BoundScript + """
        redis.call('ZADD', KEYS[1], 'GT', ARGV[4], ARGV[3])
        return { repaired, bound() }
        """;

    // ARGV: cap, now (ms), from (ms), members to skip at that score, page size. Answers { repaired, dropped, page }.
    private const string ReadScript = BoundScript + """
        local dropped = bound()
        return { repaired, dropped, redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[3], '+inf', 'WITHSCORES', 'LIMIT', ARGV[4], ARGV[5]) }
        """;

    private readonly RedisKey _key = connection.Prefix + "tags";

    /// <summary>Adds a record (or raises its time), keeping the set within the cap; false when Redis did not take it.</summary>
    public async Task<bool> WriteAsync(string tag, double milliseconds, long nowMilliseconds)
    {
        var (ok, result) = await connection.RunAsync(
            db => db.ScriptEvaluateAsync(WriteScript, [_key], [tags.MaximumRecords, nowMilliseconds, tag, milliseconds]), "tags-write");
        if (ok && result is { Resp2Type: ResultType.Array, Length: >= 2 })
        {
            ReportBounds(result[0], result[1]);
        }

        return ok;
    }

    /// <summary>
    /// Reads the records from <paramref name="minMilliseconds"/> on into the node's records, page by page (each page one
    /// call under the operation timeout), <paramref name="toTicks"/> converting their times; false when a page could not
    /// be read.
    /// </summary>
    public async Task<bool> ReadAsync(long minMilliseconds, long nowMilliseconds, Func<double, long> toTicks)
    {
        // Pages follow the scores (times): the next page starts at the last score read, skipping the members already
        // read at that score, so records trimmed meanwhile shift nothing. The floor covers whatever the cap drops while
        // we read; the page count is bounded by the cap.
        var from = (double)minMilliseconds;
        var skip = 0;
        for (var pages = tags.MaximumRecords / ReadPageSize + 2; pages > 0; pages--)
        {
            var (ok, result) = await connection.RunAsync(
                db => db.ScriptEvaluateAsync(ReadScript, [_key], [tags.MaximumRecords, nowMilliseconds, from, skip, ReadPageSize]), "tags-read");
            if (!ok || result is null || result.Resp2Type != ResultType.Array || result.Length < 3)
            {
                return false;
            }

            ReportBounds(result[0], result[1]);
            var page = result[2];
            for (var i = 0; i + 1 < page.Length; i += 2)
            {
                var member = page[i].ToString();
                var score = (double)page[i + 1];
                if (member == FloorMember)
                {
                    tags.RaiseFloor(toTicks(score));
                }
                else
                {
                    tags.Record(member, toTicks(score));
                }

                skip = score == from ? skip + 1 : 1;
                from = score;
            }

            if (page.Length / 2 < ReadPageSize)
            {
                break;
            }
        }

        return true;
    }

    // What a script did to keep the set sound: the type it replaced (nil when none), the records it dropped.
    private void ReportBounds(RedisResult repaired, RedisResult dropped)
    {
        if (!repaired.IsNull && repaired.ToString() is { Length: > 0 } type)
        {
            Log.InvalidationRecordsRepaired(logger, _key.ToString(), type);
        }

        if (!dropped.IsNull && (long)dropped is var count and > 0)
        {
            Log.RedisInvalidationRecordsTrimmed(logger, (int)count, tags.MaximumRecords);
        }
    }
}
