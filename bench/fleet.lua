-- wrk script for bench/fleet.pl: bench/ids.lua's Zipf ids, paced to a rate.
--
--   FLEET_IDS_LUA   the path of bench/ids.lua (its BENCH_* settings apply:
--                   BENCH_PAGES, BENCH_SEED, ...)
--   FLEET_RATE      requests a second, this wrk process (all its threads)
--   FLEET_THREADS   wrk's -t, which the script cannot see (default 1)
--   FLEET_START     when to send the first request, ms since the epoch
--   FLEET_SECONDS   how long to send; no request is sent after
--                   FLEET_START + FLEET_SECONDS, so that with wrk's -d
--                   longer than that, nothing is in flight when wrk stops
--                   and the requests it counts are every request it sent
--
-- wrk has no rate option; it calls delay() before each request of a
-- connection and waits that many ms.  Each thread hands out send times a
-- fixed interval apart, one per call: a connection waits for the next free
-- time, so the thread's connections together send at the rate as long as
-- there are enough of them (a connection waits for its response before it
-- calls delay() again).  A thread that falls behind (the machine is busy)
-- does not catch up by more than a burst of 50 ms: the rate it achieves is
-- what done() prints, and what fleet.pl reports.
--
-- done() prints one line per thread:
--   fleet-wrk: thread N sent S first_ms F last_ms L behind_ms B
-- (B: the schedule's time given up to the 50 ms bound)

dofile(assert(os.getenv("FLEET_IDS_LUA"), "FLEET_IDS_LUA is not set"))

local ffi = require("ffi")

ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } fleet_timespec_t;
int clock_gettime(int clock, fleet_timespec_t *ts);
]]

local ts = ffi.new("fleet_timespec_t")

local function now_ms()
    ffi.C.clock_gettime(0, ts)              -- CLOCK_REALTIME: fleet.pl's
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local rate = tonumber(os.getenv("FLEET_RATE") or "1000")
local nthreads = tonumber(os.getenv("FLEET_THREADS") or "1")
local start = tonumber(os.getenv("FLEET_START") or "0")
local seconds = tonumber(os.getenv("FLEET_SECONDS") or "10")
local finish = start + seconds * 1000
local catch_up = 50                         -- ms

-- the main state's: the threads, for done()
local threads = {}
local counter = 1

function setup(thread)
    thread:set("thread_id", counter)
    counter = counter + 1
    table.insert(threads, thread)
end

-- a thread's (globals, for done() to get)
local interval, next_send
local delayed = false           -- wrk calls request() once before any
                                -- delay() to check it: not a request sent
sent, first_ms, last_ms, behind_ms = 0, 0, 0, 0

local ids_init = init

function init(args)
    ids_init(args)
    interval = 1000 * nthreads / rate
    next_send = start + (thread_id - 1) * interval / nthreads
end

function delay()
    local now = now_ms()
    delayed = true
    if next_send >= finish then
        return 3600 * 1000                  -- done: this connection idles
    end
    if next_send < now - catch_up then
        behind_ms = behind_ms + (now - catch_up - next_send)
        next_send = now - catch_up
    end
    local at = next_send
    next_send = next_send + interval
    if at > now then
        return math.floor(at - now)
    end
    return 0
end

local ids_request = request

function request()
    if not delayed then
        return ids_request()
    end
    local now = now_ms()
    if sent == 0 then
        first_ms = now
    end
    last_ms = now
    sent = sent + 1
    return ids_request()
end

function done(summary, latency, requests)
    for _, t in ipairs(threads) do
        io.write(string.format(
            "fleet-wrk: thread %d sent %d first_ms %.3f last_ms %.3f"
            .. " behind_ms %.3f\n", t:get("thread_id"), t:get("sent"),
            t:get("first_ms"), t:get("last_ms"), t:get("behind_ms")))
    end
end
