-- wrk script: GET /bulletin/ID with ids drawn at random from the pages of a
-- generated store (bench/gen-pages.pl names page k "p%07d").
--
--   BENCH_PAGES=N   the number of pages
--   BENCH_DIST      zipf (default) or uniform
--   BENCH_ZIPF_S    the Zipf exponent, default 1.0: rank r is drawn with
--                   probability proportional to 1 / r^s
--   BENCH_SEED      the random seed, default 1
--   BENCH_RING      how many requests are drawn, default 32768
--   BENCH_STOP      stop after this many responses (a cold run: each
--                   request of the ring at most once; wrk still waits
--                   for the end of its -d), default never
--
-- The requests are drawn once, in init, into a ring that request() walks,
-- so that drawing costs wrk nothing while it measures.  The ring is not
-- larger because LuaJIT (OpenResty's, as Debian ships it) hashes a long
-- string from 16 samples at places it draws at random when it starts: when
-- they miss the id, every request string collides with every other, and
-- interning n of them takes n * n / 2 comparisons (131,072 took 80 s).
-- Rank r is page
-- (r - 1) * 7919 % N, so that the hot pages lie scattered over the store
-- rather than side by side.  Headers come from wrk's -H options.

local pages = tonumber(os.getenv("BENCH_PAGES") or "10")
local dist = os.getenv("BENCH_DIST") or "zipf"
local s = tonumber(os.getenv("BENCH_ZIPF_S") or "1.0")
local seed = tonumber(os.getenv("BENCH_SEED") or "1")

local ring_size = tonumber(os.getenv("BENCH_RING") or "32768")
local stop = tonumber(os.getenv("BENCH_STOP") or "0")
local responses = 0
local ring = {}
local next_req = 0

local function zipf_cdf(n)
    local cdf, sum = {}, 0
    for r = 1, n do
        sum = sum + 1 / r ^ s
        cdf[r] = sum
    end
    for r = 1, n do
        cdf[r] = cdf[r] / sum
    end
    return cdf
end

local function zipf_rank(cdf, n)
    local u, lo, hi = math.random(), 1, n
    while lo < hi do
        local mid = math.floor((lo + hi) / 2)
        if cdf[mid] < u then
            lo = mid + 1
        else
            hi = mid
        end
    end
    return lo
end

function init(args)
    local cdf

    math.randomseed(seed)

    if dist == "zipf" then
        cdf = zipf_cdf(pages)
    end

    for i = 0, ring_size - 1 do
        local rank
        if dist == "zipf" then
            rank = zipf_rank(cdf, pages)
        else
            rank = math.random(pages)
        end
        local page = (rank - 1) * 7919 % pages
        ring[i] = wrk.format(nil, string.format("/bulletin/p%07d", page))
    end
end

function request()
    local req = ring[next_req]
    next_req = (next_req + 1) % ring_size
    return req
end

if stop > 0 then
    function response(status, headers, body)
        responses = responses + 1
        if responses >= stop then
            wrk.thread:stop()
        end
    end
end
