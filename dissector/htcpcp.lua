-- htcpcp.lua: Wireshark dissector for HTCPCP (RFC 2324) and its tea extension HTCPCP-TEA (RFC 7168).
--
-- Part of the htcpcp project; see README.md next to this file for installation, ports, Decode As,
-- the statistics, the field list and example filters.  Written for Wireshark 3.x/4.x and Lua 5.2,
-- 5.3 and 5.4: no integer division operator, no bit32, no regex library (plain Lua patterns).
--
-- Design:
--  * TCP reassembly with pinfo.desegment_offset/desegment_len in a loop over the Tvb, so one
--    segment can hold several messages (pipelining) and one message can span many segments.
--    The end of a head is found with one search; framing needs only Content-Length and
--    Transfer-Encoding, found in the lower-cased head with plain searches.  Header lines are
--    taken apart one by one only when a tree is built, each with bounded work.
--  * What a capture repeats (start lines, heads, header lines, request targets) is taken apart
--    once per distinct string, in bounded caches (memoize), and the results are shared.
--  * Every decision (this connection is HTCPCP, this connection is TLS, this request pairs with
--    that response) is made once, on the first pass, and stored by frame; later passes only read
--    it, so one pass and two passes (tshark -2, the GUI) show the same packets.
--  * Requests and responses are paired in order per TCP connection: connections are keyed by
--    their address/port pair, and a postdissector that reads the TCP header (section 7b) starts
--    a new one at a SYN and notices data the capture lost.
--  * A later pass without a tree only replays what the first pass showed (columns, reassembly
--    requests); display work is done only when a tree is built.
--  * Every string taken from the packet is made valid UTF-8 (invalid bytes and control characters
--    become U+FFFD) before it becomes a field value, a label, a column or an expert text.

local htcpcp = Proto("htcpcp", "Hyper Text Coffee Pot Control Protocol")

local ONE_MORE = DESEGMENT_ONE_MORE_SEGMENT or 0x0fffffff
local UNTIL_FIN = 0x0ffffffe -- DESEGMENT_UNTIL_FIN is not exported to Lua in Wireshark 4.0
local MAX_LENGTH = 64 * 1024 * 1024 -- never ask TCP to buffer more than this for one body
local MAX_START_LINE = 8192
local MAX_HEAD = 1024 * 1024 -- a head without its empty line after this many bytes is not waited for

local find, sub, byte, match, lower = string.find, string.sub, string.byte, string.match, string.lower
local char, concat, floor = string.char, table.concat, math.floor
-- TreeItem's and Tvb's methods, called as functions: t:add() would first ask the item's
-- metatable for "add", a call of its own (about a sixth of what a tree item costs).
local add_item, add_expert = TreeItem.add, TreeItem.add_proto_expert_info
local set_generated, set_hidden = TreeItem.set_generated, TreeItem.set_hidden
local tvb_raw, tvb_len = Tvb.raw, Tvb.len

---------------------------------------------------------------------------------------------
-- Text from the packet: valid UTF-8 only
---------------------------------------------------------------------------------------------

local REPLACEMENT = "\239\191\189" -- U+FFFD
local SUSPECT = "[^ -~]" -- a control character (tab too), DEL or a byte >= 0x80: one range

-- The length of the valid UTF-8 sequence at s[i] (a lead byte >= 0x80), or nil.
local function utf8_sequence(s, i)
    local c = byte(s, i)
    local n, lo, hi
    if c >= 0xC2 and c <= 0xDF then
        n, lo, hi = 2, 0x80, 0xBF
    elseif c >= 0xE0 and c <= 0xEF then
        n = 3
        lo = (c == 0xE0) and 0xA0 or 0x80
        hi = (c == 0xED) and 0x9F or 0xBF
    elseif c >= 0xF0 and c <= 0xF4 then
        n = 4
        lo = (c == 0xF0) and 0x90 or 0x80
        hi = (c == 0xF4) and 0x8F or 0xBF
    else
        return nil
    end
    local second = byte(s, i + 1)
    if not second or second < lo or second > hi then return nil end
    for k = i + 2, i + n - 1 do
        local b = byte(s, k)
        if not b or b < 0x80 or b > 0xBF then return nil end
    end
    return n
end

-- s with every byte that is not part of valid, printable UTF-8 replaced by U+FFFD (tabs stay).
-- Nothing is dropped, so the text is never cut short.
local function clean(s)
    if not find(s, SUSPECT) then return s end
    local out, i, n = {}, 1, #s
    while i <= n do
        local c = byte(s, i)
        if c < 0x80 then
            if (c < 32 and c ~= 9) or c == 127 then
                out[#out + 1] = REPLACEMENT
            else
                out[#out + 1] = char(c)
            end
            i = i + 1
        else
            local len = utf8_sequence(s, i)
            if len then
                out[#out + 1] = sub(s, i, i + len - 1)
                i = i + len
            else
                out[#out + 1] = REPLACEMENT
                i = i + 1
            end
        end
    end
    return concat(out)
end

-- f(s) for strings s that a capture repeats (start lines, heads, header lines, request
-- targets), each computed once: the results for arguments of at most max_len bytes (default
-- MAX_MEMO_LEN) are kept, up to MAX_MEMO of them, after which the cache starts again (a result
-- is shared, never changed).
local MAX_MEMO, MAX_MEMO_LEN = 2048, 512
local function memoize(f, max_len)
    local cache, n, longest = {}, 0, max_len or MAX_MEMO_LEN
    return function(s)
        local v = cache[s]
        if v == nil then
            v = f(s)
            if #s <= longest then
                if n == MAX_MEMO then
                    cache, n = {}, 0
                end
                cache[s] = v
                n = n + 1
            end
        end
        return v
    end
end

---------------------------------------------------------------------------------------------
-- Protocol constants
---------------------------------------------------------------------------------------------

local status_phrases = {
    [100] = "Continue", [200] = "OK", [201] = "Created", [202] = "Accepted",
    [204] = "No Content", [300] = "Multiple Options", [301] = "Moved Permanently",
    [303] = "See Other", [304] = "Not Modified", [400] = "Bad Request",
    [401] = "Unauthorized", [403] = "Forbidden", [404] = "Not Found",
    [405] = "Method Not Allowed", [406] = "Not Acceptable", [408] = "Request Timeout",
    [409] = "Conflict", [413] = "Content Too Large", [414] = "URI Too Long",
    [415] = "Unsupported Media Type", [418] = "I'm a teapot",
    [431] = "Request Header Fields Too Large", [500] = "Internal Server Error",
    [501] = "Not Implemented", [503] = "Service Unavailable",
    [505] = "Version Not Supported",
}

-- HTCPCP's methods (RFC 2324 section 2.1, RFC 7168) ...
local htcpcp_methods = {
    BREW = true, POST = true, GET = true, HEAD = true, PROPFIND = true, WHEN = true,
}
-- ... and the other HTTP methods a pot server may be sent.  A request line needs one of these.
local known_methods = {
    BREW = true, POST = true, GET = true, HEAD = true, PROPFIND = true, WHEN = true,
    OPTIONS = true, PUT = true, DELETE = true, PATCH = true, TRACE = true, CONNECT = true,
}

-- Every proper prefix of a method or a version name, to know whether a line cut short by the
-- end of a segment may still become a start line.
local start_prefixes = {}
do
    local words = { "HTCPCP-TEA/", "HTCPCP/", "HTTP/" }
    for m in pairs(known_methods) do words[#words + 1] = m end
    for _, w in ipairs(words) do
        for k = 1, #w do start_prefixes[sub(w, 1, k)] = true end
    end
end

local known_versions = {
    ["HTCPCP/1.0"] = true, ["HTCPCP/1.1"] = true, ["HTCPCP-TEA/1.0"] = true,
    ["HTTP/1.0"] = true, ["HTTP/1.1"] = true,
}

-- Content types that carry a coffee-message-body ("start" / "stop").
local command_types = {
    ["message/coffeepot"] = true,             -- RFC 2324 section 4
    ["application/coffee-pot-command"] = true, -- RFC 2324 section 2.1.1 as printed; the lab
    ["message/teapot"] = true,               -- RFC 7168
}

local function percent_decode(s)
    if not find(s, "%", 1, true) then return s end
    return (s:gsub("%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end

-- RFC 2324 section 3 coffee schemes (as printed, with the errata variants of the
-- Catalan/French form) and RFC 7168's tea, indexed by their lower-cased decoded bytes.
local schemes = {}
do
    local list = {
        { "koffie", "Afrikaans, Dutch" }, { "q%C3%A6hv%C3%A6", "Azerbaijani" },
        { "%D9%82%D9%87%D9%88%D8%A9", "Arabic" }, { "akeita", "Basque" },
        { "koffee", "Bengali" }, { "kahva", "Bosnian" }, { "kafe", "Bulgarian, Czech" },
        { "caf%C3%E8", "Catalan, French, Galician (as printed in RFC 2324)" },
        { "caf%C3%E9", "Catalan, French, Galician (erratum 3492)" },
        { "caf%C3%A9", "Catalan, French, Galician" }, { "caf%C3%A8", "Catalan" },
        { "%E5%92%96%E5%95%A1", "Chinese" }, { "kava", "Croatian" },
        { "k%C3%A1va", "Czech" }, { "kaffe", "Danish, Norwegian, Swedish" },
        { "coffee", "English" }, { "kafo", "Esperanto" }, { "kohv", "Estonian" },
        { "kahvi", "Finnish" }, { "%4Baffee", "German" },
        { "%CE%BA%CE%B1%CF%86%CE%AD", "Greek" },
        { "%E0%A4%95%E0%A5%8C%E0%A4%AB%E0%A5%80", "Hindi" },
        { "%E3%82%B3%E3%83%BC%E3%83%92%E3%83%BC", "Japanese" },
        { "%EC%BB%A4%ED%94%BC", "Korean" }, { "%D0%BA%D0%BE%D1%84%D0%B5", "Russian" },
        { "%E0%B8%81%E0%B8%B2%E0%B9%81%E0%B8%9F", "Thai" },
        { "tea", "tea, RFC 7168" },
    }
    for _, entry in ipairs(list) do
        schemes[lower(percent_decode(entry[1]))] = entry[2]
    end
end

local function scheme_language(scheme)
    return schemes[lower(percent_decode(scheme))]
end

---------------------------------------------------------------------------------------------
-- 1. Fields, in the order they are registered (and listed by tshark -G fields)
---------------------------------------------------------------------------------------------

-- frametype (request/response arrows in the packet list) is missing in old 3.x releases.
local frame_type = frametype or {}

local hf = {}
local field_list = {}
local function field(name, protofield)
    hf[name] = protofield
    field_list[#field_list + 1] = protofield
end

local S, U32, U16 = ProtoField.string, ProtoField.uint32, ProtoField.uint16
field("request", ProtoField.bool("htcpcp.request", "Request", base.NONE, nil, nil,
    "The message is a request"))
field("response", ProtoField.bool("htcpcp.response", "Response", base.NONE, nil, nil,
    "The message is a response"))
field("request_line", S("htcpcp.request_line", "Request line", 
    "The whole request line"))
field("method", S("htcpcp.request.method", "Method", 
    "Request method: BREW, POST, GET, HEAD, PROPFIND, WHEN, ..."))
field("uri", S("htcpcp.request.uri", "Request URI", "The request target"))
field("uri_scheme", S("htcpcp.request.uri.scheme", "URI scheme", 
    "Coffee scheme as sent (one of RFC 2324's languages, or tea)"))
field("uri_host", S("htcpcp.request.uri.host", "URI host", 
    "Host named in the request URI"))
field("uri_port", U16("htcpcp.request.uri.port", "URI port", base.DEC, nil, nil,
    "Port named in the request URI"))
field("uri_pot", S("htcpcp.request.uri.pot", "Pot designator", 
    "Pot named in the URI path, e.g. pot-0"))
field("uri_variety", S("htcpcp.request.uri.variety", "Tea variety", 
    "RFC 7168 tea variety named in the URI path"))
field("uri_query", S("htcpcp.request.uri.query", "URI query", 
    "Query string of the request URI"))
field("uri_addition", S("htcpcp.request.uri.addition", "Addition in URI", 
    "One addition named in the URI query, percent-decoded"))
field("request_version", S("htcpcp.request.version", "Request version", 
    "Protocol version of the request"))
field("status_line", S("htcpcp.status_line", "Status line", 
    "The whole status line"))
field("response_version", S("htcpcp.response.version", "Response version", 
    "Protocol version of the response"))
field("code", U16("htcpcp.response.code", "Status code", base.DEC, status_phrases, nil,
    "Response status code"))
field("phrase", S("htcpcp.response.phrase", "Reason phrase", 
    "Reason phrase as sent"))
field("request_number", U32("htcpcp.request_number", "Request number", base.DEC, nil, nil,
    "Number of the request in its connection, from 1 (on a response: of its request)"))
field("prev_request_in", ProtoField.framenum("htcpcp.prev_request_in",
    "Previous request in frame", base.NONE, nil, nil,
    "Frame of the previous request on the same connection"))
field("next_request_in", ProtoField.framenum("htcpcp.next_request_in",
    "Next request in frame", base.NONE, nil, nil,
    "Frame of the next request on the same connection"))
field("request_in", ProtoField.framenum("htcpcp.request_in", "Request in frame", base.NONE,
    frame_type.REQUEST, nil, "On a response: the frame of its request"))
field("response_in", ProtoField.framenum("htcpcp.response_in", "Response in frame",
    base.NONE, frame_type.RESPONSE, nil, "On a request: the frame of its response"))
field("time", ProtoField.relative_time("htcpcp.time", "Time since request",
    "On a response: time since its request, from the frames' absolute timestamps"))
field("header", S("htcpcp.header", "Header", "One header line as sent"))
field("accept_additions", S("htcpcp.accept_additions", "Accept-Additions", 
    "The Accept-Additions header's value (RFC 2324 section 2.2.2.1)"))
field("addition", S("htcpcp.accept_additions.addition", "Addition", 
    "One addition asked for in Accept-Additions"))
field("addition_q", ProtoField.double("htcpcp.accept_additions.q", "Quality value (q)",
    "The addition's q value; q=0 excludes it"))
field("addition_param", S("htcpcp.accept_additions.param", "Addition parameter", 
    "A parameter of an addition other than q"))
field("content_type", S("htcpcp.content_type", "Content-Type", 
    "Content-Type header value"))
field("content_length", U32("htcpcp.content_length", "Content-Length", base.DEC, nil, nil,
    "Content-Length header value"))
field("transfer_encoding", S("htcpcp.transfer_encoding", "Transfer-Encoding", 
    "Transfer-Encoding header value"))
field("safe", S("htcpcp.safe", "Safe", 
    "Safe header value: yes, no or if-user-awake (RFC 2324 section 2.2.1.1)"))
field("use_pot", S("htcpcp.use_pot", "Use-Pot", "The lab's Use-Pot header value"))
field("alternates", S("htcpcp.alternates", "Alternates", 
    "RFC 7168 Alternates header value"))
field("alternate", S("htcpcp.alternates.uri", "Alternate URI", 
    "One variant URI listed in Alternates"))
field("retry_after", S("htcpcp.retry_after", "Retry-After", 
    "Retry-After header value"))
field("allow", S("htcpcp.allow", "Allow", "Allow header value"))
field("host", S("htcpcp.host", "Host header", "Host header value"))
field("server", S("htcpcp.server", "Server", "Server header value"))
field("user_agent", S("htcpcp.user_agent", "User-Agent", 
    "User-Agent header value"))
field("date", S("htcpcp.date", "Date", "Date header value"))
field("connection", S("htcpcp.connection", "Connection", 
    "Connection header value"))
field("expect", S("htcpcp.expect", "Expect", "Expect header value"))
field("accept", S("htcpcp.accept", "Accept", "Accept header value"))
field("body", S("htcpcp.body", "Body", "The message body (de-chunked)"))
field("body_length", U32("htcpcp.body.length", "Body length", base.DEC, nil, nil,
    "Length of the body in bytes"))
field("command", S("htcpcp.command", "Coffee-pot command", 
    "start or stop, when the body is a coffee-message-body (RFC 2324 section 4)"))
field("chunk_size", U32("htcpcp.chunk_size", "Chunk size", base.DEC, nil, nil,
    "Size of one chunk of a chunked body; the last one is 0"))
field("chunk_extension", S("htcpcp.chunk_extension", "Chunk extension", 
    "A chunk's extension (;name=value)"))
field("chunk_data", ProtoField.bytes("htcpcp.chunk_data", "Chunk data", base.NONE,
    "The data of one chunk"))
field("continuation_of", ProtoField.framenum("htcpcp.continuation_of",
    "Body of the message in frame", base.NONE, nil, nil,
    "Data that is the body, sent in a later segment, of a message without a length"))
field("body_in", ProtoField.framenum("htcpcp.body_in", "Body continues in frame", base.NONE,
    nil, nil, "On a message without a length: the frame where its body went on"))
field("data", ProtoField.bytes("htcpcp.data", "Undecoded data", base.NONE,
    "Bytes that are not part of an HTCPCP message in this capture"))

htcpcp.fields = field_list

-- Header name (lower case) -> field added as a child of the htcpcp.header item.
local header_fields = {
    ["accept-additions"] = hf.accept_additions, ["content-type"] = hf.content_type,
    ["content-length"] = hf.content_length, ["transfer-encoding"] = hf.transfer_encoding,
    ["safe"] = hf.safe, ["use-pot"] = hf.use_pot, ["alternates"] = hf.alternates,
    ["retry-after"] = hf.retry_after, ["allow"] = hf.allow, ["host"] = hf.host,
    ["server"] = hf.server, ["user-agent"] = hf.user_agent, ["date"] = hf.date,
    ["connection"] = hf.connection, ["expect"] = hf.expect, ["accept"] = hf.accept,
}

---------------------------------------------------------------------------------------------
-- 2. Expert info
---------------------------------------------------------------------------------------------

local E = expert.severity
local G = expert.group
local ef = {}
local expert_list = {}
local function expert_info(name, abbrev, text, group, severity)
    ef[name] = ProtoExpert.new(abbrev, text, group, severity)
    expert_list[#expert_list + 1] = ef[name]
end

expert_info("bad_start_line", "htcpcp.expert.bad_start_line",
    "Malformed request or status line", G.MALFORMED, E.ERROR)
expert_info("not_htcpcp", "htcpcp.expert.not_htcpcp",
    "Data does not start with an HTCPCP request or status line", G.SEQUENCE, E.NOTE)
expert_info("truncated", "htcpcp.expert.truncated",
    "Incomplete message (capture ended, frame truncated or reassembly disabled)",
    G.MALFORMED, E.ERROR)
expert_info("length_too_long", "htcpcp.expert.length_too_long",
    "Content-Length runs past the next message: the body is truncated there",
    G.MALFORMED, E.ERROR)
expert_info("bad_header", "htcpcp.expert.bad_header", "Malformed header line",
    G.MALFORMED, E.WARN)
expert_info("folded_header", "htcpcp.expert.folded_header",
    "Obsolete line folding in a header", G.PROTOCOL, E.WARN)
expert_info("no_empty_line", "htcpcp.expert.no_empty_line",
    "Body follows the headers without an empty line", G.PROTOCOL, E.WARN)
expert_info("bad_content_length", "htcpcp.expert.bad_content_length",
    "Invalid Content-Length", G.MALFORMED, E.ERROR)
expert_info("length_and_chunked", "htcpcp.expert.length_and_chunked",
    "Both Content-Length and chunked Transfer-Encoding (request smuggling risk)",
    G.PROTOCOL, E.WARN)
expert_info("bad_chunk", "htcpcp.expert.bad_chunk", "Malformed chunk", G.MALFORMED, E.ERROR)
expert_info("body_without_length", "htcpcp.expert.body_without_length",
    "Body without Content-Length or chunked encoding", G.PROTOCOL, E.WARN)
expert_info("continuation", "htcpcp.expert.continuation",
    "Body of an earlier message without a length, sent in a later segment", G.SEQUENCE,
    E.WARN)
expert_info("unmatched_response", "htcpcp.expert.unmatched_response",
    "Response without a matching request", G.SEQUENCE, E.WARN)
expert_info("response_not_captured", "htcpcp.expert.response_not_captured",
    "Response not captured: a later response answers a later request", G.SEQUENCE, E.WARN)
expert_info("request_not_captured", "htcpcp.expert.request_not_captured",
    "The request of this response was not captured", G.SEQUENCE, E.WARN)
expert_info("bad_command", "htcpcp.expert.bad_command",
    "Coffee-pot body is neither \"start\" nor \"stop\"", G.PROTOCOL, E.WARN)
expert_info("bare_lf", "htcpcp.expert.bare_lf", "Line ends with a bare LF, not CRLF",
    G.PROTOCOL, E.NOTE)
expert_info("unknown_method", "htcpcp.expert.unknown_method",
    "Method is not an HTCPCP method", G.PROTOCOL, E.NOTE)
expert_info("unknown_version", "htcpcp.expert.unknown_version",
    "Version is not HTCPCP/1.0, HTCPCP/1.1, HTCPCP-TEA/1.0, HTTP/1.0 or HTTP/1.1",
    G.PROTOCOL, E.NOTE)
expert_info("unknown_scheme", "htcpcp.expert.unknown_scheme",
    "URI scheme is neither an RFC 2324 coffee scheme nor tea", G.PROTOCOL, E.NOTE)
expert_info("post_deprecated", "htcpcp.expert.post_deprecated",
    "POST is deprecated for brewing (RFC 2324 section 2.1.1); use BREW", G.DEPRECATED, E.NOTE)
expert_info("teapot", "htcpcp.expert.teapot",
    "418 I'm a teapot: coffee was asked of a teapot", G.RESPONSE_CODE, E.NOTE)
expert_info("not_acceptable", "htcpcp.expert.not_acceptable",
    "406 Not Acceptable: the pot cannot supply a requested addition", G.RESPONSE_CODE, E.NOTE)
expert_info("error_status", "htcpcp.expert.error_status", "Error status code",
    G.RESPONSE_CODE, E.NOTE)

htcpcp.experts = expert_list

---------------------------------------------------------------------------------------------
-- 3. Preferences
---------------------------------------------------------------------------------------------

htcpcp.prefs.tcp_ports = Pref.range("TCP ports", "5030",
    "TCP ports decoded as HTCPCP (other ports are found by the heuristic); also registered "
    .. "for TLS, so decrypted data on these ports is HTCPCP", 65535)
htcpcp.prefs.desegment = Pref.bool("Reassemble messages spanning several TCP segments", true,
    "Use TCP reassembly for headers and bodies split over segments (TCP's own "
    .. "\"Allow subdissector to reassemble TCP streams\" must be on too)")
htcpcp.prefs.until_fin = Pref.bool("Responses without a length end at connection close", false,
    "Reassemble a response that has neither Content-Length nor chunked encoding until the "
    .. "server closes the connection (as the lab's old server does)")
htcpcp.prefs.media = Pref.bool("Hand bodies to media-type dissectors", true,
    "Dissect bodies such as application/json or text/plain with Wireshark's dissector "
    .. "for their Content-Type")

---------------------------------------------------------------------------------------------
-- 4. Per-capture state, built on the first pass only
---------------------------------------------------------------------------------------------

-- What the first pass works with (a connection's pending requests, its last request, the
-- message whose body may continue) are small arrays: frame, time, the slot of its stored record
-- (section 4b), and on a request its number in the connection and its method.  What later
-- passes need is in the stored records only, so these live no longer than their connection
-- needs them.
local FRAME, TIME, SLOT, NUMBER, METHOD = 1, 2, 3, 4, 5

local st
local stats_wanted = false -- set by -z htcpcp,tree or in the GUI

-- The preferences, read once per capture (and when they change) instead of once per packet.
local pref_desegment, pref_until_fin, pref_media = true, false, true

local function read_prefs()
    pref_desegment = htcpcp.prefs.desegment
    pref_until_fin = htcpcp.prefs.until_fin
    pref_media = htcpcp.prefs.media
end

local function new_stats()
    return { requests = 0, responses = 0, methods = {}, codes = {}, additions = {},
        pots = {}, times = {} }
end

local function reset_state()
    st = {
        conns = {},     -- address/port pair -> connection
        base = nil,     -- absolute minus relative time of the first frame
        tracked = {},   -- source port * 65536 + destination port -> TCP header position (below)
        last_pair = {}, -- the same -> { source, destination, pair_key } of its last packet
        shared_ports = {}, -- the same -> true once other addresses have used the port pair
        syn_keys = {},  -- the same -> pair_key of its last SYN (connection_starts)
        syn_count = 0,  -- entries in syn_keys
        tracker_runs = false, -- the TCP tracker has seen a frame (it is not disabled)
        open_frame = false, -- the frame being dissected, while the tracker runs (new_call)
        open_state = 0, -- its count of items so far (save_count)
        tcp_at = false, -- where the TCP header of the last tracked frame started
        heur = {},      -- frame -> true when the heuristic took it
        tls = {},       -- frame -> true when it went to the TLS dissector
        rejected = {},  -- frame -> true when the heuristic turned it away
        records = ByteArray.new(), -- the stored records (section 4b)
        record_count = 0, -- records stored ...
        flushed_records = 0, -- ... of which in the ByteArray; the others:
        pending_records = {},
        first_record = ByteArray.new(), -- frame -> its first record (section 4b) ...
        pending_index = {}, -- ... and its entries not written there yet
        indexed_frames = 0, -- frames that first_record and pending_index cover
        info_ids = {},  -- Info text -> its number in info_texts
        info_texts = {},
        info_count = 0,
        cached_frame = false, -- the frame records.find() last read (section 4b)
        stats = new_stats(),
    }
    read_prefs()
end
reset_state()
htcpcp.init = reset_state

---------------------------------------------------------------------------------------------
-- 4b. Stored records: one per message, piece of data, and call of the dissector that showed
--     nothing or asked TCP for more, in a ByteArray outside Lua's heap.  (As Lua tables, a
--     capture's worth of records made each garbage collection walk them all, and let the
--     garbage between collections outgrow the processor's caches: every tree item cost about
--     twice as much.)  A record is RECORD_SIZE bytes, numbers little-endian, at its slot:
--       0 frame (4 bytes), 4 index within the frame (2), 6 flags (1), 7 kind (1),
--       8 Info text (4: its number in st.info_texts, 0: none; a continuation's is made from
--       its link), 12 request number (4: a request's, and on a response its request's),
--       16 link (4: a request's previous request, a response's request, the message a
--       continuation continues; a call's desegment offset), 20 next (4: a request's next
--       request; a call's desegment length), 24 a request's response (4), 28 the frame its
--       body continues in (4), 32 a response's time since its request (seconds, 4, and
--       nanoseconds, 4).
--     Frame numbers are 1-based, so 0 is "none".  st.first_record has, for each frame in
--     order, the slot of its first record plus one (4 bytes; 0: none): the first pass goes
--     through the frames in order, and a frame's records are stored one after another.
---------------------------------------------------------------------------------------------

local KIND_REQUEST, KIND_RESPONSE, KIND_DATA, KIND_CALL = 1, 2, 3, 4
local LOST = 1          -- a request whose response was not captured
local REQUEST_LOST = 2  -- a response whose request was not captured
local ANSWERS_HEAD = 4  -- a response to a HEAD request
local ASKED_TCP = 8     -- a call that asked TCP for more data

local function has_flag(flags, flag)
    return floor(flags / flag) % 2 == 1
end

-- The Info text of a piece of a body that began in an earlier frame.  (Its record keeps the
-- frame, not the text: one text per piece would fill the table of Info texts.)
local function continuation_text(frame)
    return "Continuation of frame " .. frame
end

local records = {} -- this section's functions

do
    local RECORD_SIZE = 40
    local AT_FLAGS = 6
    local AT = { next = 20, response = 24, body_in = 28 } -- where the links set later are
    -- Records are written to the ByteArray BATCH at a time; until then each is a table of its
    -- fields (from a pool, with the names of the reading view), so that the links set soon
    -- after (next request, response) cost no call.
    local BATCH = 64
    local pool = {}
    local zeros = {} -- gap of n frames without a record -> its 4 * n zero bytes (n <= BATCH)
    for n = 1, BATCH do zeros[n] = string.rep("\0", 4 * n) end

    -- The four little-endian bytes of n, as text (written out: no call per byte).
    local function u32_text(n)
        return char(n % 256, (n % 65536 - n % 256) / 256, (n % 16777216 - n % 65536) / 65536,
            (n - n % 16777216) / 16777216 % 256)
    end

    local function u32_at(s, at)
        local a, b, c, d = byte(s, at + 1, at + 4)
        return a + b * 256 + c * 65536 + d * 16777216
    end

    -- A record's RECORD_SIZE bytes in one call, with u32_text written out for each number
    -- (a frame, i index, e Info text, n number, l link, x next, p response, b body_in, s and
    -- t time): a call of u32_text per number and their concatenation cost three times as
    -- much (Lua 5.2: 1.5 against 0.5 microseconds a record).
    local function record_text(r)
        local a, i, e, n, l = r.frame, r.index, r.info, r.number, r.link
        local x, p, b, s, t = r.next, r.response, r.body_in, r.sec, r.nsec
        return char(
            a % 256, (a % 65536 - a % 256) / 256, (a % 16777216 - a % 65536) / 65536,
            (a - a % 16777216) / 16777216 % 256,
            i % 256, (i - i % 256) / 256, r.flags, r.kind,
            e % 256, (e % 65536 - e % 256) / 256, (e % 16777216 - e % 65536) / 65536,
            (e - e % 16777216) / 16777216 % 256,
            n % 256, (n % 65536 - n % 256) / 256, (n % 16777216 - n % 65536) / 65536,
            (n - n % 16777216) / 16777216 % 256,
            l % 256, (l % 65536 - l % 256) / 256, (l % 16777216 - l % 65536) / 65536,
            (l - l % 16777216) / 16777216 % 256,
            x % 256, (x % 65536 - x % 256) / 256, (x % 16777216 - x % 65536) / 65536,
            (x - x % 16777216) / 16777216 % 256,
            p % 256, (p % 65536 - p % 256) / 256, (p % 16777216 - p % 65536) / 65536,
            (p - p % 16777216) / 16777216 % 256,
            b % 256, (b % 65536 - b % 256) / 256, (b % 16777216 - b % 65536) / 65536,
            (b - b % 16777216) / 16777216 % 256,
            s % 256, (s % 65536 - s % 256) / 256, (s % 16777216 - s % 65536) / 65536,
            (s - s % 16777216) / 16777216 % 256,
            t % 256, (t % 65536 - t % 256) / 256, (t % 16777216 - t % 65536) / 65536,
            (t - t % 16777216) / 16777216 % 256)
    end

    local function flush()
        local pending = st.pending_records
        local n = #pending
        if n == 0 then return end
        local texts = {}
        for k = 1, n do
            texts[k] = record_text(pending[k])
            pool[#pool + 1] = pending[k]
            pending[k] = nil
        end
        st.records:append(ByteArray.new(concat(texts), true))
        st.flushed_records = st.flushed_records + n
        if #st.pending_index > 0 then
            st.first_record:append(ByteArray.new(concat(st.pending_index), true))
            st.pending_index = {}
        end
    end

    -- The number of an Info text (texts repeat: start lines are shared by many messages).
    local function info_number(text)
        local id = st.info_ids[text]
        if not id then
            id = st.info_count + 1
            st.info_count = id
            st.info_texts[id] = text
            st.info_ids[text] = id
        end
        return id
    end

    -- Store a record for key (frame * 65536 + index); returns its slot.
    function records.store(kind, key, info, number, link, next_link, flags, sec, nsec)
        local index = key % 65536
        local frame = (key - index) / 65536
        local r = pool[#pool]
        if r then pool[#pool] = nil else r = {} end
        r.frame, r.index, r.flags, r.kind, r.info = frame, index, flags, kind,
            info and info_number(info) or 0
        r.number, r.link, r.next, r.response, r.body_in = number, link, next_link, 0, 0
        r.sec, r.nsec = sec, nsec
        local slot = st.record_count
        st.record_count = slot + 1
        local indexed = st.indexed_frames
        if frame > indexed then
            local gap = frame - indexed - 1
            if gap > BATCH then
                flush() -- (ByteArray:set_size pads with zeros)
                st.first_record:set_size(4 * (frame - 1))
            elseif gap > 0 then
                st.pending_index[#st.pending_index + 1] = zeros[gap]
            end
            st.pending_index[#st.pending_index + 1] = u32_text(slot + 1)
            st.indexed_frames = frame
        end
        local pending = st.pending_records
        pending[#pending + 1] = r
        if #pending == BATCH then flush() end
        return slot
    end

    -- The fields of a record not yet in the ByteArray (nil: it is there).
    local function pending_of(slot)
        return st.pending_records[slot - st.flushed_records + 1]
    end

    local function set_u32(slot, at, n)
        local bytes, pos = st.records, slot * RECORD_SIZE + at
        for k = 0, 3 do
            local b = n % 256
            bytes:set_index(pos + k, b)
            n = (n - b) / 256
        end
    end

    -- Set a link of a stored record: field "next", "response" or "body_in".
    function records.set(slot, field, frame)
        local r = pending_of(slot)
        if r then r[field] = frame else set_u32(slot, AT[field], frame) end
    end

    function records.add_flag(slot, flag)
        local r = pending_of(slot)
        local flags = r and r.flags or st.records:get_index(slot * RECORD_SIZE + AT_FLAGS)
        if has_flag(flags, flag) then return end
        if r then
            r.flags = flags + flag
        else
            st.records:set_index(slot * RECORD_SIZE + AT_FLAGS, flags + flag)
        end
    end

    -- A stored record, read into one reused table (its fields are numbers, 0 for none).
    local view = {}

    function records.read(slot)
        local v = view
        local r = pending_of(slot)
        if r then
            v.frame, v.index, v.flags, v.kind, v.info = r.frame, r.index, r.flags, r.kind, r.info
            v.number, v.link, v.next, v.response = r.number, r.link, r.next, r.response
            v.body_in, v.sec, v.nsec = r.body_in, r.sec, r.nsec
            return v
        end
        local s = st.records:raw(slot * RECORD_SIZE, RECORD_SIZE)
        local i1, i2
        v.frame, i1, i2, v.flags, v.kind = u32_at(s, 0), byte(s, 5, 8)
        v.index, v.info, v.number, v.link = i1 + i2 * 256, u32_at(s, 8), u32_at(s, 12),
            u32_at(s, 16)
        v.next, v.response, v.body_in = u32_at(s, 20), u32_at(s, 24), u32_at(s, 28)
        v.sec, v.nsec = u32_at(s, 32), u32_at(s, 36)
        return v
    end

    -- A message without a stored record (one a later pass finds that the first did not).
    function records.blank(kind)
        local v = view
        v.frame, v.index, v.flags, v.kind, v.info, v.number, v.link = 0, 0, 0, kind, 0, 0, 0
        v.next, v.response, v.body_in, v.sec, v.nsec = 0, 0, 0, 0, 0
        return v
    end

    -- The stored records of the frame last asked about: their indices within the frame, slots,
    -- kinds and Info texts (a later pass asks once per call and message of a frame; the first
    -- pass never asks, and a frame's records are all stored by the end of its first pass).
    local frame_indices, frame_slots, frame_kinds, frame_infos, frame_count = {}, {}, {}, {}, 0

    local function load_frame(frame)
        st.cached_frame = frame
        frame_count = 0
        flush()
        if frame < 1 or frame > st.indexed_frames then return end
        local slot = u32_at(st.first_record:raw((frame - 1) * 4, 4), 0) - 1
        while slot >= 0 and slot < st.record_count do
            local head = st.records:raw(slot * RECORD_SIZE, 20)
            if u32_at(head, 0) ~= frame then break end
            local count = frame_count + 1
            frame_count = count
            frame_indices[count] = byte(head, 5) + byte(head, 6) * 256
            local kind, info, link = byte(head, 8), u32_at(head, 8), u32_at(head, 16)
            frame_slots[count], frame_kinds[count] = slot, kind
            if kind == KIND_DATA and link > 0 then
                frame_infos[count] = continuation_text(link)
            else
                frame_infos[count] = st.info_texts[info] or ""
            end
            slot = slot + 1
        end
    end

    -- The slot of the record with this key, its kind and its Info text (nil: there is none).
    function records.find(key)
        local index = key % 65536
        local frame = (key - index) / 65536
        if st.cached_frame ~= frame then load_frame(frame) end
        for k = 1, frame_count do
            if frame_indices[k] == index then
                return frame_slots[k], frame_kinds[k], frame_infos[k]
            end
        end
        return nil
    end
end

-- Key of the address/port pair, the same in both directions; and the two ports.
local function pair_key(pinfo)
    local sport, dport = pinfo.src_port, pinfo.dst_port
    local a = tostring(pinfo.src) .. ":" .. sport
    local b = tostring(pinfo.dst) .. ":" .. dport
    if a < b then return a .. " " .. b, sport, dport end
    return b .. " " .. a, sport, dport
end

local function port_bytes(from, to)
    return char(floor(from / 256), from % 256, floor(to / 256), to % 256)
end

-- Let the TCP tracker (section 7b) watch both directions of a port pair.
local function track_ports(sport, dport)
    local tracked = st.tracked
    local key, back = sport * 65536 + dport, dport * 65536 + sport
    if tracked[key] then return end
    local entry = { ports = port_bytes(sport, dport), at = false, to_port = dport }
    local peer = tracked[back] or { ports = port_bytes(dport, sport), at = false, to_port = sport }
    entry.peer, peer.peer = peer, entry
    tracked[key], tracked[back] = entry, peer
end

local function new_conn()
    return {
        pending = {}, head = 1, tail = 0, requests = 0, last_request = nil,
        owner = {}, seen = {}, heur_from = nil, tls_from = nil,
    }
end

-- The key of a packet's address/port pair: the one its port pair had last time.  While the TCP
-- tracker runs, only a port pair that other addresses have used too (st.shared_ports, set by
-- the tracker at a SYN, or here) is also told apart by its addresses (compared as Address
-- objects, without making text of them): asking pinfo for the addresses costs two objects.
local function conn_key(pinfo)
    local sport, dport = pinfo.src_port, pinfo.dst_port
    local ports = sport * 65536 + dport
    local last = st.last_pair[ports]
    if last and st.tracker_runs and not st.shared_ports[ports] then return last[3], sport, dport end
    local src, dst = pinfo.src, pinfo.dst
    if last and last[1] == src and last[2] == dst then return last[3], sport, dport end
    local key = pair_key(pinfo)
    if last and last[3] ~= key then
        st.shared_ports[ports], st.shared_ports[dport * 65536 + sport] = true, true
    end
    st.last_pair[ports] = { src, dst, key }
    return key, sport, dport
end

-- The connection a packet belongs to (first pass only), by its address/port pair: a TCP
-- connection, since a SYN on the pair starts a new one (section 7b); and the side of it the
-- packet comes from (its source port, or its source address when both ports are the same).
local function conn_of(pinfo)
    local key, sport, dport = conn_key(pinfo)
    local conn = st.conns[key]
    if not conn then
        conn = new_conn()
        st.conns[key] = conn
        track_ports(sport, dport)
    end
    if sport ~= dport then return conn, sport end
    return conn, tostring(pinfo.src)
end

-- One call of the dissector: the packet, the data as a string, and the count of items
-- (messages, pieces of data) this frame has shown so far, kept across the several calls TCP
-- makes for one frame and restarted at every dissection of the frame (as 2 * count + 1 once
-- the Info column has been set).  Every call takes one index for itself, then one per item:
-- keys stable across passes.  While the TCP tracker runs (a postdissector: it ends every
-- dissection of a frame) the count is kept here, in st.open_frame and st.open_state, which
-- the tracker clears; otherwise in pinfo.private, which costs an object a call.
-- The call's state lives in one table reused from call to call (a fresh one only if a call
-- were ever nested in another), which spares an allocation per packet.  Its fields are never
-- set to nil (see new_message).
local spare_call = {}

-- The texts of small counts and back, to spare a number conversion per call.
local count_texts, text_counts = {}, {}
for k = 0, 63 do
    count_texts[k] = tostring(k)
    text_counts[count_texts[k]] = k
end

local function new_call(tvb, pinfo, root, data, visited, conn, side)
    local cx = spare_call
    if cx.busy then cx = {} else spare_call.busy = true end
    local number = pinfo.number
    local priv, state = false, 0
    if st.tracker_runs then
        if st.open_frame == number then state = st.open_state else st.open_frame = number end
    else
        priv = pinfo.private
        local text = priv.htcpcp
        state = text and (text_counts[text] or tonumber(text)) or 0
    end
    local n = floor(state / 2)
    cx.tvb, cx.pinfo, cx.root, cx.tree, cx.data = tvb, pinfo, root, root.text ~= nil, data
    cx.total, cx.priv, cx.first, cx.n, cx.number = #data, priv, n, n + 1, number
    cx.visited, cx.shown, cx.conn, cx.side, cx.cols = visited, state % 2 == 1, conn or false,
        side or false, false
    cx.wait_known, cx.can_wait = false, false
    return cx
end

-- May this call ask TCP for more data?  (pinfo is asked only when a message is incomplete.)
local function may_wait(cx)
    if not cx.wait_known then
        cx.wait_known, cx.can_wait = true, pref_desegment and cx.pinfo.can_desegment > 0
    end
    return cx.can_wait
end

-- The end of a call: its state table may be reused (and holds on to nothing).
local function release(cx)
    cx.tvb, cx.pinfo, cx.root, cx.data, cx.priv = false, false, false, false, false
    cx.conn, cx.side, cx.cols, cx.busy = false, false, false, false
end

local function call_key(cx)
    return cx.number * 65536 + cx.first + 1
end

-- Key of the next item in this frame; take_key() consumes it.
local function peek_key(cx)
    return cx.number * 65536 + cx.n + 1
end

local function take_key(cx)
    cx.n = cx.n + 1
    return cx.number * 65536 + cx.n
end

-- The Info column: the first item of a frame replaces TCP's text, later ones are appended.
-- The columns are set through pinfo.cols alone (cols.info = text): a Column object for
-- cols.info costs one more object a call.
local function show_info(cx, text)
    local cols = cx.cols
    if not cols then
        cols = cx.pinfo.cols
        cols.protocol = "HTCPCP"
        cx.cols = cols
    end
    if cx.shown then
        cols.info:append(", " .. text)
    else
        cols.info = text
        cx.shown = true
    end
end

local function save_count(cx, n)
    local state = n * 2 + (cx.shown and 1 or 0)
    if cx.priv then
        cx.priv.htcpcp = count_texts[state] or tostring(state)
    else
        st.open_state = state
    end
end

-- End of a call: the item count is kept for the frame's next call, and on the first pass a
-- call that showed nothing or asked TCP for more is stored (its items are stored as they are
-- shown), so that a later pass without a tree only replays it.
local function end_call(cx, seg_offset, seg_len)
    save_count(cx, cx.n)
    if not cx.visited and (seg_len or cx.n == cx.first + 1) then
        records.store(KIND_CALL, call_key(cx), nil, 0, seg_offset or 0, seg_len or 0,
            seg_len and ASKED_TCP or 0, 0, 0)
    end
    release(cx)
end

-- How many items the call with this key showed on the first pass (nil: it was not seen).  Its
-- items have the keys right after it; the next call's key has no item record.
local function items_shown(key)
    local n = 0
    while true do
        local slot, kind = records.find(key + n + 1)
        if not slot or kind == KIND_CALL then break end
        n = n + 1
    end
    if n == 0 then
        local _, kind = records.find(key)
        if kind ~= KIND_CALL then return nil end
    end
    return n
end

-- A later pass without a tree: the columns (each item's text, kept in its record) and the
-- reassembly request of the first pass.
local function replay(cx, items)
    local key = call_key(cx)
    if items > 0 then
        local texts = {}
        for k = 1, items do
            local _, _, text = records.find(key + k)
            texts[k] = text
        end
        show_info(cx, concat(texts, ", "))
    end
    save_count(cx, cx.first + 1 + items)
    local call_slot, kind = records.find(key)
    if kind == KIND_CALL then
        local r = records.read(call_slot)
        if has_flag(r.flags, ASKED_TCP) then
            cx.pinfo.desegment_offset = r.link
            cx.pinfo.desegment_len = r.next
        end
    end
    local total = cx.total
    release(cx)
    return total
end

-- A frame's time in seconds since the first frame, from the absolute timestamps: its
-- relative time while that has the first frame as reference (exact, while a double holding
-- seconds since 1970 is only good to about 240 ns), otherwise from its absolute time.
local function time_of(pinfo)
    local abs, rel = pinfo.abs_ts, pinfo.rel_ts
    local base = st.base
    if not base then
        base = abs - rel
        st.base = base
    end
    if math.abs(abs - rel - base) < 1e-3 then return rel end
    return abs - base
end

-- Seconds between two working records.
local function elapsed(from, to)
    return to[TIME] - from[TIME]
end

-- A time in seconds as whole seconds and nanoseconds (negative times are 0).
local function split_seconds(delta)
    if delta < 0 then delta = 0 end
    local sec = floor(delta)
    local nsec = floor((delta - sec) * 1000000000 + 0.5)
    if nsec >= 1000000000 then
        sec = sec + 1
        nsec = nsec - 1000000000
    end
    return sec, nsec
end

---------------------------------------------------------------------------------------------
-- 5. Parsing helpers.  `data` is the Tvb as a string; positions are 1-based string indices
--    unless a name ends in _pos, which are 0-based Tvb offsets.
---------------------------------------------------------------------------------------------

local TOKEN = "[%w!#%$%%&'%*%+%-%.%^_`|~]"
local VERSION = "%u[%u%-]*/%d+%.%d+"
local TOKEN_NAME = "^" .. TOKEN .. "+$"
local HEADER_START = "^" .. TOKEN .. "+:"
local TOKEN_ONLY = "^" .. TOKEN .. "*$"
local AT_VERSION = "^" .. VERSION
local STATUS_PATTERN = "^()(" .. VERSION .. ") +()(%d%d%d)(.*)$"
local REQUEST_PATTERN = "^()(" .. TOKEN .. "+) +()(%S+) +()(" .. VERSION .. ") *$"

-- The line starting at index i: its text (no CR/LF), the index of its LF, whether it ended in
-- CRLF; nil when no LF follows yet.
local function read_line(data, i)
    local lf = find(data, "\n", i, true)
    if not lf then return nil end
    local stop = lf - 1
    local crlf = stop >= i and byte(data, stop) == 13
    if crlf then stop = stop - 1 end
    return sub(data, i, stop), lf, crlf
end

local function is_command_word(s)
    local word = match(s, "^%s*(%a+)%s*$")
    word = word and lower(word)
    return word == "start" or word == "stop"
end

local PROTO_LABEL = "Hyper Text Coffee Pot Control Protocol, "

-- Parse a complete first line (without its CR/LF).  Returns its parts, the indices in the line
-- where they start (p1, p2, p3: version, code, phrase; or method, target, version), its Info
-- text and the label of its protocol item in the tree, or false.  A request needs a known
-- method.  (Lines repeat: each distinct line is parsed once.)
local parse_start_line = memoize(function(line)
    local s
    local vpos, version, cpos, code, rest = match(line, STATUS_PATTERN)
    if vpos and (rest == "" or byte(rest, 1) == 32) then
        local ppos, phrase = match(rest, "^ *()(.-)%s*$")
        s = { is_request = false, version = version, code = tonumber(code), phrase = phrase,
            line = line, info = clean(line), p1 = vpos, p2 = cpos, p3 = cpos + 2 + ppos }
    else
        local mpos, method, tpos, target, vpos2, version2 = match(line, REQUEST_PATTERN)
        if not (mpos and known_methods[method]) then return false end
        s = { is_request = true, method = method, target = target, version = version2,
            line = line, info = clean(line), p1 = mpos, p2 = tpos, p3 = vpos2 }
    end
    s.tree_label = PROTO_LABEL .. s.info
    return s
end)

-- Does this complete line look like a start line gone wrong (known method or a version)?
local function looks_like_bad_start(line)
    local word = match(line, "^(%u+) ")
    return (word and known_methods[word]) or match(line, AT_VERSION) ~= nil
end

-- Could this incomplete line (no LF yet) still become a request or status line?
local function could_be_start(s)
    if #s > MAX_START_LINE then return false end
    local word, rest = match(s, "^(%u[%u%-]*/?)(.*)$")
    if not word then return false end
    if rest == "" then return start_prefixes[word] == true end
    if known_methods[word] then return byte(rest, 1) == 32 end
    return match(s, "^" .. VERSION .. "[ \r]?[%d ]*[^\n]*$") ~= nil
        or match(s, "^%u[%u%-]*/[%d%.]*$") ~= nil
end

-- Does a complete start line begin at index i?
local function starts_message(data, i)
    local line = read_line(data, i)
    return line ~= nil and parse_start_line(line) ~= false
end

-- Index of the first line after index i (exclusive) that starts a message, or nil.  Each line
-- costs one search for its LF and one anchored match.
local function find_next_start(data, i, total)
    local p = i
    while true do
        local lf = find(data, "\n", p, true)
        if not lf or lf >= total then return nil end
        p = lf + 1
        if starts_message(data, p) then return p end
    end
end

local function looks_like_header_prefix(s)
    return match(s, TOKEN_ONLY) ~= nil or match(s, HEADER_START) ~= nil
end

-- s without the blanks at its ends (linear in #s, whatever the blanks).
local function trim(s)
    local first = find(s, "[^ \t\r\n]")
    if not first then return "", #s + 1 end
    local last = #s
    while true do
        local c = byte(s, last)
        if c ~= 32 and c ~= 9 and c ~= 13 and c ~= 10 then break end
        last = last - 1
    end
    return sub(s, first, last), first
end

-- Split s on the plain separator sep.  Returns {start (1-based), trimmed text} per non-empty item.
local function split_items(s, sep)
    local out = {}
    local i = 1
    while i <= #s + 1 do
        local j = find(s, sep, i, true) or (#s + 1)
        local text, lead = trim(sub(s, i, j - 1))
        if text ~= "" then out[#out + 1] = { i + lead - 1, text } end
        i = j + 1
    end
    return out
end

-- The values of one header (lower-case name) in a lower-cased head, in order; taken from
-- `head` (the same text, not lower-cased) when it is given.
local function header_values(head_lower, name, head)
    local out = {}
    local needle = "\n" .. name .. ":"
    local i = 1
    while true do
        local s, e = find(head_lower, needle, i, true)
        if not s then return out end
        local lf = find(head_lower, "\n", e + 1, true) or (#head_lower + 1)
        out[#out + 1] = (trim(sub(head or head_lower, e + 1, lf - 1)))
        i = e + 1
    end
end


---------------------------------------------------------------------------------------------
-- Message parser: returns a description of the message at index i, or nil, bytes_needed.
---------------------------------------------------------------------------------------------

-- Index of a start line in data[b..e] (a body that ran into the next message), or nil.  The
-- next message may follow a short body directly ("startGET coffee://..."), so the search is
-- not limited to line starts.  Every start line has "HT" in it (HTCPCP, HTTP), so bodies
-- without those letters cost one search.
local EMBEDDED_REQUEST = "()(%u+) %S+ " .. VERSION .. "\r?\n"
local EMBEDDED_STATUS = "()HT[%u%-]*/%d+%.%d+ %d%d%d"

local function embedded_start(data, b, e)
    local ht = find(data, "HT", b, true)
    if not ht or ht > e then return nil end
    local best
    local p = b
    while p <= e do
        local at, word = match(data, EMBEDDED_REQUEST, p)
        if not at or at > e then break end
        for k = 1, #word do
            if known_methods[sub(word, k)] then
                best = at + k - 1
                break
            end
        end
        if best then break end
        p = at + #word
    end
    local status = match(data, EMBEDDED_STATUS, b)
    if status and status <= e and (not best or status < best) then best = status end
    return best
end

-- No empty line in the data after the start line: either the head is not complete yet, or
-- (the lab's client) the body follows the headers directly.  Returns the index where the body
-- starts and whether the head is still incomplete.
local function head_without_empty_line(data, from)
    local p = from
    while true do
        local line, lf = read_line(data, p)
        if not line then
            local partial = sub(data, p)
            local header_like = partial == "" or partial == "\r"
                or (looks_like_header_prefix(partial) and not is_command_word(partial))
            return p, header_like
        end
        local is_header = match(line, HEADER_START) ~= nil
            or ((byte(line, 1) == 32 or byte(line, 1) == 9) and p > from)
        if not is_header then return p, false end
        p = lf + 1
    end
end

-- Chunked body starting at index p.  Returns the index after the message, or nil, need.
local function parse_chunks(m, data, total, p, cx)
    local parts = {}
    while true do
        local line, lf = read_line(data, p)
        if not line then
            if may_wait(cx) then return nil, ONE_MORE end
            m.truncated = true
            return total + 1, parts
        end
        local hex, rest = match(line, "^[ \t]*(%x+)(.*)$")
        local ext = rest and trim(rest) or ""
        local digits = hex and match(hex, "^0*(%x*)$")
        local size = digits and #digits <= 15 and tonumber(digits ~= "" and digits or "0", 16)
        if not size or size > MAX_LENGTH or #line > MAX_START_LINE
            or (ext ~= "" and byte(ext, 1) ~= 59) then
            local stop = find_next_start(data, p, total) or (total + 1)
            m.bad_chunk_from, m.bad_chunk_to = p - 1, stop - 1
            return stop, parts
        end
        local chunk = { line_pos = p - 1, line_end = p - 1 + #line, size = size, ext = ext,
            data_pos = lf }
        m.chunks[#m.chunks + 1] = chunk
        if size == 0 then
            local q = lf + 1
            m.trailers_from = q
            while true do
                local tline, tlf = read_line(data, q)
                if not tline then
                    if may_wait(cx) then return nil, ONE_MORE end
                    m.truncated = true
                    q = total + 1
                    break
                end
                if tline == "" or tline == "\r" then
                    q = tlf + 1
                    break
                end
                m.trailers_to = tlf
                q = tlf + 1
            end
            chunk.stop = q - 1
            return q, parts
        end
        local data_end = lf + size -- index of the chunk's last byte
        if data_end > total then
            -- Not the exact count: TCP would then hand over exactly that many bytes and drop
            -- the rest of the segment, while the message goes on after this chunk.
            if may_wait(cx) then return nil, ONE_MORE end
            m.truncated = true
            chunk.data_end = total
            parts[#parts + 1] = sub(data, lf + 1, total)
            return total + 1, parts
        end
        chunk.data_end = data_end
        parts[#parts + 1] = sub(data, lf + 1, data_end)
        local after, after_lf = read_line(data, data_end + 1)
        if not after then
            if may_wait(cx) then return nil, ONE_MORE end
            m.truncated = true
            return total + 1, parts
        end
        if after ~= "" then
            local stop = find_next_start(data, data_end + 1, total) or (total + 1)
            m.bad_chunk_from, m.bad_chunk_to = data_end, stop - 1
            return stop, parts
        end
        chunk.stop = after_lf
        p = after_lf + 1
    end
end

-- The framing headers of a head (lower-cased): chunked?, the Content-Length (or nil), and
-- whether some Content-Length was invalid.
local function framing(head_lower)
    local chunked = false
    local _, e = find(head_lower, "\ntransfer-encoding:", 1, true)
    while e do
        local lf = find(head_lower, "\n", e + 1, true) or (#head_lower + 1)
        local c = find(head_lower, "chunked", e + 1, true)
        chunked = c ~= nil and c < lf
        _, e = find(head_lower, "\ntransfer-encoding:", e + 1, true)
    end
    local clen, bad
    _, e = find(head_lower, "\ncontent-length:", 1, true)
    while e do
        local lf = find(head_lower, "\n", e + 1, true) or (#head_lower + 1)
        local v = trim(sub(head_lower, e + 1, lf - 1))
        local n = #v <= 9 and match(v, "^%d+$") and tonumber(v)
        if n and n <= MAX_LENGTH and (clen == nil or clen == n) then
            clen = n
        else
            bad = true
        end
        _, e = find(head_lower, "\ncontent-length:", e + 1, true)
    end
    if bad then clen = nil end
    return chunked, clen, bad
end

-- The media type of the last Content-Type in a lower-cased head, or nil.
local function content_type_of(head_lower)
    local last
    local _, e = find(head_lower, "\ncontent-type:", 1, true)
    while e do
        last = e
        _, e = find(head_lower, "\ncontent-type:", e + 1, true)
    end
    return last and match(head_lower, "^[ \t]*([^;%s]*)", last + 1) or nil
end

-- What framing and the tree need of a head as sent (from the LF ending the start line to the
-- LF ending its last header line), worked out once per distinct head: the head lower-cased,
-- chunked?, the Content-Length, whether one was invalid, and the Content-Type.
local MAX_MEMO_HEAD = 2048
local head_facts = memoize(function(head)
    local head_lower = lower(head)
    local chunked, clen, bad_length = framing(head_lower)
    return { head = head, lower = head_lower, chunked = chunked, clen = clen,
        bad_length = bad_length, content_type = content_type_of(head_lower), items = false,
        items_bare_lf = false }
end, MAX_MEMO_HEAD)

-- The first empty line after index lf (the LF ending the start line): the index of the LF
-- before it and of its own LF (and the head, when it ends there), or nil.  Plain searches:
-- "\n\r\n" first, then "\n\n" only in the head it delimits (or in the rest when there is none),
-- so pipelined messages in a long segment are not rescanned to its end.
local function find_blank(data, lf)
    local crlf = find(data, "\n\r\n", lf, true)
    if crlf then
        local head = sub(data, lf, crlf)
        local bare = find(head, "\n\n", 1, true)
        if bare then return lf + bare - 1, lf + bare end
        return crlf, crlf + 2, head
    end
    local bare = find(data, "\n\n", lf, true)
    if bare then return bare, bare + 1 end
    return nil
end

-- The message being taken apart lives in one table reused from message to message (a fresh one
-- only if a dissection were ever nested in another): every field is set here, so nothing of
-- the previous message remains, and no table is made per message.  Absent facts are false,
-- never nil: a nil field would lose its slot at the next garbage collection, and setting it
-- again would rebuild the table.
local spare_message = {}

local function new_message(data, i, start, lf)
    local m = spare_message
    if m.busy then m = {} else m.busy = true end
    m.offset, m.start, m.data, m.lf = i - 1, start, data, lf
    m.facts, m.head_lower, m.head_to, m.content_type = false, false, false, false
    m.body_from, m.body_to, m.stop = false, false, false
    m.bare_lf, m.truncated, m.no_empty_line, m.leftover_from = false, false, false, false
    m.open, m.chunked, m.chunks, m.dechunked = false, false, false, false
    m.trailers_from, m.trailers_to, m.bad_chunk_from, m.bad_chunk_to = false, false, false, false
    m.bad_length, m.length_and_chunked = false, false
    m.length_too_long, m.body_without_length, m.length_item = false, false, false
    return m
end

-- The end of a message: its table may be reused (and holds on to nothing).
local function release_message(m)
    m.start, m.data, m.head_lower, m.chunks, m.dechunked = false, false, false, false, false
    m.facts = false
    m.busy = false
end

-- The message m (new_message) whose start line ends at the LF at index lf, with a CR before
-- it if crlf.  Returns m, or nil, bytes_needed.
local function parse_message(m, total, crlf, cx, no_body)
    local data, i, start, lf = m.data, m.offset + 1, m.start, m.lf
    if not crlf then m.bare_lf = true end
    local blank, blank_end, head = find_blank(data, lf)
    local body_start -- index of the body's first byte
    local head_last  -- index of the LF that ends the last header line
    if blank then
        head_last = blank
        body_start = blank_end + 1
        if blank_end - blank == 1 then m.bare_lf = true end
    else
        local p, incomplete = head_without_empty_line(data, lf + 1)
        if incomplete and total - i < MAX_HEAD and may_wait(cx) then return nil, ONE_MORE end
        if incomplete then
            m.truncated = true
        elseif p <= total then
            m.no_empty_line = p - 1
        end
        head_last = p - 1
        body_start = p
    end
    local facts = head_facts(head or sub(data, lf, head_last))
    m.facts, m.head_lower, m.head_to = facts, facts.lower, head_last
    m.content_type = facts.content_type or false
    local chunked, clen, bad_length = facts.chunked, facts.clen, facts.bad_length
    if chunked then m.chunked = true end
    if chunked and (clen ~= nil or bad_length) then m.length_and_chunked = true end
    if bad_length then m.bad_length = true end

    local stop -- index after the message
    if m.truncated then
        stop = total + 1
        m.leftover_from = body_start - 1 -- the unfinished header line, if any
    elseif no_body then
        stop = body_start
    elseif chunked then
        m.chunks = {}
        local parts
        stop, parts = parse_chunks(m, data, total, body_start, cx)
        if not stop then return nil, parts end
        m.dechunked = concat(parts)
    elseif clen then
        stop = body_start + clen
        local cut = embedded_start(data, body_start, math.min(stop, total + 1) - 1)
        if cut then
            m.length_too_long = true
            stop = cut
        elseif stop > total + 1 then
            -- Segment by segment while the body is small, so that a next message arriving
            -- before the announced length is seen (a Content-Length that is too long).
            if may_wait(cx) then
                if total - body_start < 65536 then return nil, ONE_MORE end
                return nil, stop - total - 1
            end
            m.truncated = true
            stop = total + 1
        end
        m.body_from, m.body_to = body_start - 1, stop - 1
    else
        -- Neither Content-Length nor chunked: the body (if any) runs to the next start line or
        -- to the end of the data; responses may instead run until the connection closes.
        if not start.is_request and pref_until_fin and may_wait(cx) then
            return nil, UNTIL_FIN
        end
        stop = total + 1
        if body_start <= total and not m.no_empty_line and starts_message(data, body_start) then
            stop = body_start
        elseif body_start <= total then
            stop = find_next_start(data, body_start, total) or (total + 1)
            if not m.no_empty_line then m.body_without_length = true end
        end
        m.body_from, m.body_to = body_start - 1, stop - 1
        if stop == total + 1 then m.open = true end
    end
    m.stop = stop - 1
    return m
end

---------------------------------------------------------------------------------------------
-- Rendering (only when a tree is built).  Every string value is clean()ed.
---------------------------------------------------------------------------------------------


-- An item with text from the packet; plain: the text is known to need no clean().
local function add_text(tree, protofield, range, text, plain)
    return add_item(tree, protofield, range, plain and text or clean(text))
end

-- Pot designator and tea variety from a request target (used by the tree and the statistics).
local function uri_parts(target)
    local scheme, rest = match(target, "^([^:/?#]+):(.*)$")
    local authority
    if scheme then
        authority, rest = match(rest, "^//([^/?#]*)(.*)$")
        if not authority then rest = sub(target, #scheme + 2) end
    else
        rest = target
    end
    local path, query = match(rest, "^([^?#]*)%??([^#]*)")
    return scheme, authority, path, query
end

-- A path segment (path[s..e]) as a pot or variety; pos: the Tvb offset of path's index 1.
-- A request target taken apart for the tree: cleaned texts, with their offsets (from the
-- target's first byte) and lengths.
local target_info = memoize(function(target)
    local u = { text = clean(target) }
    if target == "*" then return u end
    local scheme, authority, path, query = uri_parts(target)
    local rest_pos = 1 -- 1-based index in target where the path starts
    if scheme then
        u.scheme, u.scheme_len = clean(scheme), #scheme
        local language = scheme_language(scheme)
        local decoded = percent_decode(scheme)
        if language and decoded ~= scheme then
            u.scheme_note = " (" .. clean(decoded) .. ", " .. language .. ")"
        elseif language then
            u.scheme_note = " (" .. language .. ")"
        end
        u.tea = lower(decoded) == "tea"
        rest_pos = #scheme + 2
        if authority then
            local host, port = match(authority, "^(.-):(%d+)$")
            host = host or authority
            if host ~= "" then u.host, u.host_at, u.host_len = clean(host), rest_pos + 1, #host end
            if port and #port <= 5 and tonumber(port) <= 65535 then
                u.port, u.port_at, u.port_len = tonumber(port), rest_pos + 2 + #host, #port
            end
            rest_pos = rest_pos + 2 + #authority
        end
    end
    local s1, e1 = find(path, "[^/]+")
    if s1 then
        local first = sub(path, s1, e1)
        u.seg1, u.seg1_at, u.seg1_len = clean(percent_decode(first)), rest_pos + s1 - 2, #first
        local s2, e2 = find(path, "[^/]+", e1 + 1)
        if s2 then
            local second = sub(path, s2, e2)
            u.seg2, u.seg2_at = clean(percent_decode(second)), rest_pos + s2 - 2
            u.seg2_len = #second
        end
        u.pot_like = s2 ~= nil or match(first, "^[Pp][Oo][Tt]%-%d+$") ~= nil
    end
    if query ~= "" then
        local qat = rest_pos + #path
        u.query, u.query_at, u.query_len = clean(query), qat, #query
        u.additions = {}
        for _, item in ipairs(split_items((query:gsub("[&;]", ",")), ",")) do
            u.additions[#u.additions + 1] = { qat + item[1] - 1, #item[2],
                clean(percent_decode(item[2])) }
        end
    end
    return u
end)

-- The request target at Tvb offset base_pos: a path of one segment names a variety where the
-- scheme is tea or the body a message/teapot, otherwise a pot.
local function add_uri(tree, tvb, base_pos, target, content_type)
    local u = target_info(target)
    local t = add_item(tree, hf.uri, tvb(base_pos, #target), u.text)
    if u.scheme then
        local item = add_item(t, hf.uri_scheme, tvb(base_pos, u.scheme_len), u.scheme)
        if u.scheme_note then
            item:append_text(u.scheme_note)
        else
            add_expert(item, ef.unknown_scheme)
        end
        if u.host then add_item(t, hf.uri_host, tvb(base_pos + u.host_at, u.host_len), u.host) end
        if u.port then add_item(t, hf.uri_port, tvb(base_pos + u.port_at, u.port_len), u.port) end
    end
    if u.seg1 then
        local field = hf.uri_pot
        if not u.pot_like and (u.tea or content_type == "message/teapot") then
            field = hf.uri_variety
        end
        add_item(t, field, tvb(base_pos + u.seg1_at, u.seg1_len), u.seg1)
        if u.seg2 then
            add_item(t, hf.uri_variety, tvb(base_pos + u.seg2_at, u.seg2_len), u.seg2)
        end
    end
    if u.query then
        local qt = add_item(t, hf.uri_query, tvb(base_pos + u.query_at, u.query_len), u.query)
        for _, a in ipairs(u.additions) do
            add_item(qt, hf.uri_addition, tvb(base_pos + a[1], a[2]), a[3])
        end
    end
end

-- Accept-Additions items: {position in value, addition, {q or param parts}}.  Both RFC 2324's
-- "Cream;q=0.5, Whisky" and the lab's "whole-milk; oat milk" give one item per addition.
local additions_of = memoize(function(value)
    local out = {}
    for _, item in ipairs(split_items(value, ",")) do
        local current
        for _, part in ipairs(split_items(item[2], ";")) do
            local at = item[1] - 1 + part[1]
            local pname, pvalue = match(part[2], "^([%w%-_%.]+)%s*=%s*(.-)$")
            if pname and current then
                current.params[#current.params + 1] = { at, part[2], lower(pname), pvalue }
            else
                current = { at = at, name = part[2], params = {} }
                out[#out + 1] = current
            end
        end
    end
    return out
end)

local function add_accept_additions(tree, tvb, value, value_pos)
    local additions = additions_of(value)
    for k = 1, #additions do
        local a = additions[k]
        local ai = add_text(tree, hf.addition, tvb(value_pos + a.at - 1, #a.name), a.name)
        for _, p in ipairs(a.params) do
            local range = tvb(value_pos + p[1] - 1, #p[2])
            local q = p[3] == "q" and tonumber(p[4])
            if q then
                local qi = add_item(ai, hf.addition_q, range, q)
                if q == 0 then qi:append_text(" (excluded)") end
            else
                add_text(ai, hf.addition_param, range, p[2])
            end
        end
    end
end

local function add_alternates(tree, tvb, value, value_pos)
    for upos, uri in value:gmatch("{%s*\"()([^\"]*)\"") do
        add_text(tree, hf.alternate, tvb(value_pos + upos - 1, #uri), uri)
    end
end

-- A header name as sent -> its lower-cased form, or false when the name is not a token.
local header_lname = memoize(function(name)
    return match(name, TOKEN_NAME) ~= nil and lower(name)
end)

local function is_blank(c)
    return c == 32 or c == 9
end

-- A header line as sent (without CR/LF) taken apart: its lower-cased name (false: not a
-- header line), its value (without the blanks around it) and where that starts in the line
-- (0-based), the line and the value made valid UTF-8.
local header_line = memoize(function(line)
    local colon = find(line, ":", 1, true)
    local lname = colon and colon > 1 and header_lname(sub(line, 1, colon - 1))
    local h = { lname = lname, label = clean(line) }
    if lname then
        local vs, ve = colon + 1, #line
        while vs <= ve and is_blank(byte(line, vs)) do vs = vs + 1 end
        while ve >= vs and is_blank(byte(line, ve)) do ve = ve - 1 end
        h.value, h.value_at = sub(line, vs, ve), vs - 1
        h.clean_value = clean(h.value)
    end
    return h
end)

-- One header: its own field where it has one (labelled with the line as sent, like HTTP's
-- headers), otherwise an htcpcp.header item.  range and label are the line's (folded lines
-- included); the value starts at index vs.
local function render_header(t, tvb, m, range, label, lname, vs, value, clean_value)
    local protofield = header_fields[lname]
    if not protofield then
        add_item(t, hf.header, range, label)
    elseif lname == "content-length" then
        m.length_item = true
        local n = #value <= 9 and match(value, "^%d+$") and tonumber(value)
        if n and n <= MAX_LENGTH then
            add_item(t, protofield, range, n, label)
        else
            add_expert(add_item(t, hf.header, range, label), ef.bad_content_length)
        end
    else
        local fi = add_item(t, protofield, range, clean_value, label)
        if lname == "accept-additions" then
            add_accept_additions(fi, tvb, value, vs - 1)
        elseif lname == "alternates" then
            add_alternates(fi, tvb, value, vs - 1)
        end
    end
end

-- The header lines of data from index `from` to the LF at index `to`, each line read once and
-- in place: bare LFs, folded lines (joined to their header, each flagged) and lines without a
-- colon.  Returns one item per header, {at, len, lname, label, value, value_at, clean_value,
-- folds} with offsets from index `from` (the line, its folded lines included, without CR/LF;
-- its value; each folded line as {at, len}), and whether some line ended in a bare LF.
local function header_items(data, from, to)
    local items, bare_lf = {}, false
    local p = from
    while p <= to do
        local lf = find(data, "\n", p, true)
        local stop = lf - 1
        if stop >= p and byte(data, stop) == 13 then stop = stop - 1 else bare_lf = true end
        local h = header_line(sub(data, p, stop))
        local item = { at = p - from, len = stop - p + 1, lname = h.lname, label = h.label,
            value = h.value, value_at = h.value_at and p - from + h.value_at,
            clean_value = h.clean_value, folds = false }
        if h.lname then
            -- Obsolete folding: following lines that start with a blank continue the value.
            local value, folds = h.value, nil
            while lf < to and is_blank(byte(data, lf + 1)) do
                local next_lf = find(data, "\n", lf + 1, true)
                local next_stop = next_lf - 1
                if byte(data, next_stop) == 13 then
                    next_stop = next_stop - 1
                else
                    bare_lf = true
                end
                folds = folds or {}
                folds[#folds + 1] = { lf + 1 - from, next_stop - lf }
                value = value .. " " .. trim(sub(data, lf + 1, next_stop))
                stop, lf = next_stop, next_lf
            end
            if folds then
                item.folds, item.len, item.value = folds, stop - p + 1, value
                item.label, item.clean_value = clean(sub(data, p, stop)), clean(value)
            end
        end
        items[#items + 1] = item
        p = lf + 1
    end
    return items, bare_lf
end

-- The items of a head, taken apart once per distinct head (head_facts) and kept with it.
local function head_items(facts)
    local items = facts.items
    if not items then
        local head = facts.head
        items, facts.items_bare_lf = header_items(head, 2, #head)
        facts.items = items
    end
    return items, facts.items_bare_lf
end

-- Header items (header_items) whose offsets start at Tvb offset base_pos.
local function render_headers(t, tvb, m, items, base_pos)
    for k = 1, #items do
        local it = items[k]
        local range = tvb(base_pos + it.at, it.len)
        if it.folds then
            for _, f in ipairs(it.folds) do
                t:add_tvb_expert_info(ef.folded_header, tvb(base_pos + f[1], f[2]))
            end
        end
        if it.lname then
            render_header(t, tvb, m, range, it.label, it.lname, base_pos + it.value_at + 1,
                it.value, it.clean_value)
        else
            add_expert(add_item(t, hf.header, range, it.label), ef.bad_header)
        end
    end
end

local media_table -- Wireshark's media_type table, and whether it has a dissector for a type
local media_known = {}

-- Does a body of this Content-Type go to a media-type dissector (JSON, text)?
local function has_media(content_type)
    if not (pref_media and content_type and content_type ~= "") then return false end
    if command_types[content_type] then return false end
    local known = media_known[content_type]
    if known == nil then
        media_table = media_table or DissectorTable.get("media_type")
        known = media_table:get_dissector(content_type) ~= nil
        media_known[content_type] = known
    end
    return known
end

local function try_media(content_type, body_tvb, pinfo, tree)
    pcall(media_table.try, media_table, content_type, body_tvb, pinfo, tree)
end

-- The message's body as a string (de-chunked), or nil when it has none.
local function body_bytes(m)
    if m.chunked and m.dechunked then
        return m.dechunked ~= "" and m.dechunked or nil
    elseif m.body_from and m.body_to > m.body_from then
        return sub(m.data, m.body_from + 1, m.body_to)
    end
    return nil
end

-- plain: the line needs no clean() (a method, a version and a code never do).
local function render_start_line(t, tvb, m, content_type, plain)
    local s = m.start
    local at = m.offset - 1 -- Tvb offset of the line's index 0
    local first_line = tvb(m.offset, #s.line)
    local p1, p2, p3 = s.p1, s.p2, s.p3
    if s.is_request then
        set_hidden(add_item(t, hf.request, true))
        local lt = add_text(t, hf.request_line, first_line, s.line, plain)
        local mi = add_item(lt, hf.method, tvb(at + p1, #s.method), s.method)
        add_uri(lt, tvb, at + p2, s.target, content_type)
        local vi = add_item(lt, hf.request_version, tvb(at + p3, #s.version), s.version)
        if not htcpcp_methods[s.method] then add_expert(mi, ef.unknown_method) end
        if s.method == "POST" then add_expert(mi, ef.post_deprecated) end
        if not known_versions[s.version] then add_expert(vi, ef.unknown_version) end
        return
    end
    set_hidden(add_item(t, hf.response, true))
    local lt = add_text(t, hf.status_line, first_line, s.line, plain)
    local vi = add_item(lt, hf.response_version, tvb(at + p1, #s.version), s.version)
    local code_range = tvb(at + p2, 3)
    local ci = add_item(lt, hf.code, code_range, s.code)
    add_text(lt, hf.phrase, tvb(at + p3, #s.phrase), s.phrase, plain)
    if not known_versions[s.version] then add_expert(vi, ef.unknown_version) end
    if s.code == 418 then
        add_expert(ci, ef.teapot)
    elseif s.code == 406 then
        local available = trim(body_bytes(m) or "")
        if available ~= "" then
            ci:add_tvb_expert_info(ef.not_acceptable, code_range,
                "406 Not Acceptable: the pot cannot supply a requested addition; available: "
                .. clean(available))
        else
            add_expert(ci, ef.not_acceptable)
        end
    elseif s.code >= 400 then
        ci:add_tvb_expert_info(ef.error_status, code_range,
            "Error status " .. s.code .. " " .. clean(s.phrase))
    end
end

local function render_body(t, tvb, pinfo, root, m, content_type)
    local s = m.start
    local body_text = body_bytes(m)
    local body_range, body_tvb
    local media = body_text and has_media(content_type)
    if m.chunked and m.dechunked then
        for _, c in ipairs(m.chunks) do
            local stop = c.stop or c.data_end or c.line_end
            local ci = add_item(t, hf.chunk_size, tvb(c.line_pos, stop - c.line_pos), c.size)
            if c.ext ~= "" then
                add_text(ci, hf.chunk_extension, tvb(c.line_end - #c.ext, #c.ext), c.ext)
            end
            if c.size > 0 and c.data_end and c.data_end > c.data_pos then
                add_item(ci, hf.chunk_data, tvb(c.data_pos, c.data_end - c.data_pos))
            end
        end
        if m.trailers_to then
            local items, bare_lf = header_items(m.data, m.trailers_from, m.trailers_to)
            if bare_lf then m.bare_lf = true end
            render_headers(t, tvb, m, items, m.trailers_from - 1)
        end
        if body_text then
            body_tvb = ByteArray.new(body_text, true):tvb("De-chunked body")
            body_range = body_tvb()
        end
    elseif body_text then
        body_range = tvb(m.body_from, m.body_to - m.body_from)
        if media then body_tvb = body_range:tvb() end
    end
    if m.bad_chunk_from then
        add_expert(add_item(t, hf.data, tvb(m.bad_chunk_from, m.bad_chunk_to - m.bad_chunk_from)),
            ef.bad_chunk)
    end
    if body_range then
        local bi = add_text(t, hf.body, body_range, body_text)
        set_generated(add_item(bi, hf.body_length, #body_text))
        if m.body_without_length then add_expert(bi, ef.body_without_length) end
        if m.length_too_long then add_expert(bi, ef.length_too_long) end
        if is_command_word(body_text) then
            add_item(t, hf.command, body_range, lower(match(body_text, "^%s*(%a+)")))
        elseif s.is_request and command_types[content_type or ""]
            and (s.method == "BREW" or s.method == "POST") then
            add_expert(bi, ef.bad_command)
        end
        if media then try_media(content_type, body_tvb, pinfo, root) end
    end
    local leftover = m.leftover_from
    if leftover and m.stop > leftover then
        add_item(t, hf.data, tvb(leftover, m.stop - leftover))
    end
    if m.truncated then add_expert(t, ef.truncated) end
end

-- The links of a message's stored record (records.read).
local function render_links(t, r)
    if r.number > 0 then set_generated(add_item(t, hf.request_number, r.number)) end
    if r.kind == KIND_REQUEST then
        if r.link > 0 then set_generated(add_item(t, hf.prev_request_in, r.link)) end
        if r.next > 0 then set_generated(add_item(t, hf.next_request_in, r.next)) end
        if r.response > 0 then set_generated(add_item(t, hf.response_in, r.response)) end
        if has_flag(r.flags, LOST) then add_expert(t, ef.response_not_captured) end
    elseif has_flag(r.flags, REQUEST_LOST) then
        add_expert(t, ef.request_not_captured)
    elseif r.link > 0 then
        set_generated(add_item(t, hf.request_in, r.link))
        set_generated(add_item(t, hf.time, NSTime.new(r.sec, r.nsec)))
    else
        add_expert(t, ef.unmatched_response)
    end
    if r.body_in > 0 then set_generated(add_item(t, hf.body_in, r.body_in)) end
end

local function render_message(tvb, pinfo, root, m, rec)
    local start = m.start
    local plain_line = start.info == start.line
    local t = add_item(root, htcpcp, tvb(m.offset, m.stop - m.offset), start.tree_label)
    local content_type = m.content_type or nil
    render_start_line(t, tvb, m, content_type, plain_line)
    local items, bare_lf = head_items(m.facts)
    if bare_lf then m.bare_lf = true end
    render_headers(t, tvb, m, items, m.lf)
    if m.bad_length and not m.length_item then add_expert(t, ef.bad_content_length) end
    if m.bare_lf then add_expert(t, ef.bare_lf) end
    if m.length_and_chunked then add_expert(t, ef.length_and_chunked) end
    if m.no_empty_line then
        t:add_tvb_expert_info(ef.no_empty_line, tvb(m.no_empty_line, m.stop - m.no_empty_line))
    end
    render_body(t, tvb, pinfo, root, m, content_type)
    render_links(t, rec)
end

---------------------------------------------------------------------------------------------
-- First-pass bookkeeping: pairing, request numbers, links, statistics
---------------------------------------------------------------------------------------------

local function bump(counts, key)
    counts[key] = (counts[key] or 0) + 1
end

local function count_request(m)
    local stats = st.stats
    stats.requests = stats.requests + 1
    bump(stats.methods, m.start.method)
    local scheme, _, path = uri_parts(m.start.target)
    local pot = match(path or "", "^/*([^/]+)")
    if pot then bump(stats.pots, clean(percent_decode(pot))) end
    local head = sub(m.data, m.lf, m.head_to)
    for _, value in ipairs(header_values(m.head_lower, "accept-additions", head)) do
        for _, a in ipairs(additions_of(value)) do bump(stats.additions, clean(a.name)) end
    end
    return scheme
end

local function count_response(m, rec, req)
    local stats = st.stats
    stats.responses = stats.responses + 1
    bump(stats.codes, m.start.code)
    if req then
        local method = req[METHOD]
        local delta = elapsed(req, rec)
        local t = stats.times[method]
        if not t then
            t = { n = 0, sum = 0, min = delta, max = delta }
            stats.times[method] = t
        end
        t.n = t.n + 1
        t.sum = t.sum + delta
        if delta < t.min then t.min = delta end
        if delta > t.max then t.max = delta end
    end
end

-- Status codes that only answer an attempt to brew (RFC 2324 2.3.1 and 2.3.2, RFC 7168 2.1.1).
local brew_answers = { [300] = true, [406] = true, [418] = true }
local brew_methods = { BREW = true, POST = true }
local LOOK_AHEAD = 8 -- pending requests searched for the one a brewing answer belongs to

-- A pending request's response was not captured.
local function response_lost(req)
    if req[SLOT] then records.add_flag(req[SLOT], LOST) end
end

-- Pair a response (in frame `frame`) with the oldest pending request of its connection (1xx
-- leave it pending).  A brewing answer (300, 406, 418) skips pending requests that did not brew
-- when a later one did: their responses were not captured, and only they lose their pair.
-- Returns the request (false: none) and whether it is a stand-in for a request not captured.
local function pair_response(conn, frame, code)
    local queue = conn.pending
    local head = conn.head
    local req = queue[head] or false
    if req and brew_answers[code] and not brew_methods[req[METHOD]] then
        for k = head + 1, math.min(conn.tail, head + LOOK_AHEAD) do
            if brew_methods[queue[k][METHOD]] then
                for skipped = head, k - 1 do
                    response_lost(queue[skipped])
                    queue[skipped] = nil
                end
                head = k
                req = queue[k]
                break
            end
        end
    end
    local stand_in = req and not req[SLOT]
    if req and code >= 200 then
        queue[head] = nil
        head = head + 1
        if not stand_in then records.set(req[SLOT], "response", frame) end
    end
    conn.head = head
    return req, stand_in
end

-- First pass: store a message's record (returns its slot), pair it and link it.
local function register_message(pinfo, conn, side, m, key)
    local start = m.start
    local frame = floor(key / 65536) -- (keys: frame * 65536 + item)
    local rec, slot
    if start.is_request then
        local number = conn.requests + 1
        conn.requests = number
        local prev = conn.last_request
        slot = records.store(KIND_REQUEST, key, start.info, number, prev and prev[FRAME] or 0, 0,
            0, 0, 0)
        if prev then records.set(prev[SLOT], "next", frame) end
        rec = { frame, time_of(pinfo), slot, number, start.method }
        if not conn.request_port then conn.request_port = pinfo.src_port end
        conn.last_request = rec
        conn.tail = conn.tail + 1
        conn.pending[conn.tail] = rec
        if stats_wanted then count_request(m) end
    else
        rec = { frame, time_of(pinfo) }
        local req, stand_in = pair_response(conn, frame, start.code)
        if stand_in then
            slot = records.store(KIND_RESPONSE, key, start.info, 0, 0, 0, REQUEST_LOST, 0, 0)
            req = false
        elseif req then
            local sec, nsec = split_seconds(elapsed(req, rec))
            slot = records.store(KIND_RESPONSE, key, start.info, req[NUMBER], req[FRAME], 0,
                req[METHOD] == "HEAD" and ANSWERS_HEAD or 0, sec, nsec)
        else
            slot = records.store(KIND_RESPONSE, key, start.info, 0, 0, 0, 0, 0, 0)
        end
        rec[SLOT] = slot
        if stats_wanted then count_response(m, rec, req) end
    end
    conn.owner[side] = m.open and rec or false -- (false, not nil: see new_message)
    return slot
end

---------------------------------------------------------------------------------------------
-- 6. The dissector: a loop over the Tvb with desegment_offset/desegment_len
---------------------------------------------------------------------------------------------

-- Data that does not start a message: a later piece of a length-less body, a malformed start
-- line, the start of a message cut short, or a continuation of something not in the capture
-- (data at the start of a capture or after a gap, as HTTP calls it).  Returns the next index.
local function dissect_orphan(cx, i, line, cut_short)
    local data, total, tvb = cx.data, cx.total, cx.tvb
    local stop = find_next_start(data, i, total) or (total + 1)
    local key = take_key(cx)
    local owner, owner_frame = false, 0 -- the message whose body this continues
    if not cx.visited then
        owner = cx.conn.owner[cx.side]
        if owner then owner_frame = owner[FRAME] end
    else
        local slot = records.find(key)
        if slot then owner_frame = records.read(slot).link end
    end
    local malformed = owner_frame == 0 and not cut_short and line and #line <= MAX_START_LINE
        and looks_like_bad_start(line)
    local text
    if owner_frame > 0 then
        text = continuation_text(owner_frame)
    elseif cut_short then
        text = "Incomplete: " .. clean(sub(data, i, stop - 1))
    elseif malformed then
        text = "Malformed: " .. clean(line)
    else
        text = "Continuation"
    end
    if not cx.visited then
        records.store(KIND_DATA, key, owner_frame == 0 and text or nil, 0, owner_frame, 0, 0, 0, 0)
        if owner and not owner.body_in then
            owner.body_in = cx.number
            records.set(owner[SLOT], "body_in", cx.number)
        end
    end
    show_info(cx, text)
    local tree = cx.tree
    if not tree then return stop end
    local range = tvb(i - 1, stop - i)
    local t = add_item(cx.root, htcpcp, range)
    if owner_frame > 0 then
        t:append_text(", continuation")
        set_generated(add_item(t, hf.continuation_of, owner_frame))
        local body = sub(data, i, stop - 1)
        local bi = add_text(t, hf.body, range, body)
        set_generated(add_item(bi, hf.body_length, #body))
        add_expert(bi, ef.continuation)
        if is_command_word(body) then
            add_item(t, hf.command, range, lower(match(body, "^%s*(%a+)")))
        end
    elseif cut_short then
        t:append_text(", incomplete")
        add_expert(add_item(t, hf.data, range), ef.truncated)
    elseif malformed then
        t:append_text(", malformed start line")
        add_expert(add_item(t, hf.data, range), ef.bad_start_line)
    else
        t:append_text(", continuation")
        add_expert(add_item(t, hf.data, range), ef.not_htcpcp)
    end
    return stop
end

-- Is the message at index i a response that cannot have a body (to HEAD, 1xx, 204, 304)?
local function bodiless_response(cx, start)
    local code = start.code
    if code < 200 or code == 204 or code == 304 then return true end
    if cx.visited then
        local slot = records.find(peek_key(cx))
        return slot and has_flag(records.read(slot).flags, ANSWERS_HEAD) or false
    end
    local req = cx.conn.pending[cx.conn.head]
    return req and req[METHOD] == "HEAD" or false
end

-- Handle one message (or piece of data) at index i.  Returns the next index, or nil, need.
local function dissect_one(cx, i)
    local data, total = cx.data, cx.total
    local line, lf, crlf = read_line(data, i)
    local start = line and #line <= MAX_START_LINE and parse_start_line(line)
    if not start then
        local cut_short = false
        if not line then
            cut_short = could_be_start(sub(data, i, i + MAX_START_LINE))
            if cut_short and may_wait(cx) then return nil, ONE_MORE end
        end
        return dissect_orphan(cx, i, line, cut_short)
    end
    local no_body = not start.is_request and bodiless_response(cx, start)
    local tree = cx.tree
    local m = new_message(data, i, start, lf)
    local parsed, need = parse_message(m, total, crlf, cx, no_body)
    if not parsed then
        release_message(m)
        return nil, need
    end
    local key = take_key(cx)
    local pinfo = cx.pinfo
    local slot
    if cx.visited then
        slot = records.find(key)
    else
        slot = register_message(pinfo, cx.conn, cx.side, m, key)
    end
    if tree then
        local r = slot and records.read(slot)
            or records.blank(start.is_request and KIND_REQUEST or KIND_RESPONSE)
        render_message(cx.tvb, pinfo, cx.root, m, r)
    end
    show_info(cx, start.info)
    local stop = m.stop
    release_message(m)
    return stop + 1
end

-- The dissector proper, for data known to be HTCPCP (conn: its connection on the first pass,
-- nil on a later one).
local function dissect_htcpcp(tvb, pinfo, root, conn, side)
    local data = tvb_raw(tvb)
    local total = #data
    if total == 0 then return 0 end
    local visited = conn == nil
    local cx = new_call(tvb, pinfo, root, data, visited, conn, side)
    if visited and not cx.tree then
        local items = items_shown(call_key(cx))
        if items then return replay(cx, items) end
    end
    local i = 1
    while i <= total do
        -- Empty lines between messages are ignored, as HTTP servers do.
        local after_blank = match(data, "^[\r\n]+()", i)
        if after_blank then
            i = after_blank
        else
            local next_i, need = dissect_one(cx, i)
            if not next_i then
                pinfo.desegment_offset = i - 1
                pinfo.desegment_len = need
                end_call(cx, i - 1, need)
                return total -- not 0: TCP asserts if 0 is returned after desegment_len is set
            end
            i = next_i
        end
    end
    end_call(cx)
    return total
end

local tls_handle = Dissector.get("tls")

-- A TLS handshake record header (type 22, version 3.x).
local function starts_tls(tvb)
    if tvb:len() < 3 then return false end
    local head = tvb:raw(0, 3)
    return byte(head, 1) == 22 and byte(head, 2) == 3 and byte(head, 3) <= 4
end

local in_tls = false -- true while the TLS dissector runs for us: its data comes back decrypted

-- Entry point for the TCP (and TLS) ports in the preference.  A connection whose first data is
-- a TLS handshake (an ssl: endpoint on 5030) goes to the TLS dissector from that frame on;
-- decrypted data comes back here through tls.port (or the TLS heuristic).  The decision is
-- taken at the connection's first data only, and stored by frame.
local function dissect_port(tvb, pinfo, root)
    local visited = pinfo.visited
    if in_tls then
        if visited then return dissect_htcpcp(tvb, pinfo, root) end
        return dissect_htcpcp(tvb, pinfo, root, conn_of(pinfo))
    end
    local to_tls, conn, side
    if visited then
        if st.rejected[pinfo.number] then return 0 end
        to_tls = st.tls[pinfo.number]
    else
        conn, side = conn_of(pinfo)
        if not conn.any_data then
            conn.any_data = true
            if starts_tls(tvb) then conn.tls_from = pinfo.number end
        end
        to_tls = conn.tls_from ~= nil
        if to_tls then st.tls[pinfo.number] = true end
    end
    if to_tls then
        in_tls = true
        local ok, consumed = pcall(tls_handle.call, tls_handle, tvb, pinfo, root)
        in_tls = false
        if not ok then error(consumed, 0) end
        return consumed
    end
    return dissect_htcpcp(tvb, pinfo, root, conn, side)
end

htcpcp.dissector = dissect_port

---------------------------------------------------------------------------------------------
-- 7. Heuristics (other TCP ports, and HTCPCP inside decrypted TLS)
---------------------------------------------------------------------------------------------

-- A start line that only HTCPCP sends: a status line with an HTCPCP version, a request with a
-- known method and an HTCPCP version, BREW or WHEN with any version, or a known method with a
-- coffee or tea URI (the lab's "GET coffee://ducky HTTP/1.1").  Plain HTTP is left alone.
local function looks_like_htcpcp(line)
    if match(line, "^HTCPCP[%u%-]*/%d+%.%d+ %d%d%d") then return true end
    local method, target, version = match(line, "^(%u+) +(%S+) +(" .. VERSION .. ") *\r?$")
    if not method or not known_methods[method] then return false end
    if match(version, "^HTCPCP") or method == "BREW" or method == "WHEN" then return true end
    local scheme = match(target, "^([^:/?#]+):")
    return scheme ~= nil and scheme_language(scheme) ~= nil
end

-- The first data of one side of a connection, cut short before the end of its first line: can
-- it still become an HTCPCP start line?  (A request sent one byte per segment.)
local function may_become_htcpcp(s)
    if find(s, "\n", 1, true) or #s > MAX_START_LINE then return false end
    local word, rest = match(s, "^(%u*)(.*)$")
    if rest == "" then return word ~= "" and start_prefixes[word] == true end
    if byte(rest, 1) == 45 or byte(rest, 1) == 47 then -- HTCPCP-TEA/, HTCPCP/
        return match(s, "^HTCPCP[%u%-]*/[%d%.]* ?%d*$") ~= nil
    end
    return known_methods[word] and byte(rest, 1) == 32
end

-- The heuristic decides once, on the first pass, from which frame a connection is HTCPCP; a
-- later pass takes exactly the frames the first one took.
local function heuristic(tvb, pinfo, root, over_tcp)
    if pinfo.visited then
        if not st.heur[pinfo.number] then return false end
        dissect_htcpcp(tvb, pinfo, root)
        return true
    end
    local conn, side = conn_of(pinfo)
    if not conn.heur_from then
        -- A first line still cut short is taken tentatively (TCP then reassembles it); the
        -- connection is HTCPCP only once a whole line says so.
        local first = not conn.seen[side] or conn.tentative == side
        conn.seen[side] = true
        conn.tentative = nil
        local head = tvb:raw(0, math.min(tvb:len(), MAX_START_LINE))
        local line = match(head, "^[^\n]*\n")
        if not line then
            if not (first and pinfo.can_desegment > 0 and may_become_htcpcp(head)) then
                st.rejected[pinfo.number] = true
                return false
            end
            conn.tentative = side
        elseif looks_like_htcpcp(sub(line, 1, -2)) then
            conn.heur_from = pinfo.number
            -- Later segments come straight to dissect_port; a later pass also sends earlier
            -- frames there, which it turns away (st.rejected) as this pass did.
            if over_tcp then pinfo.conversation = htcpcp end
        else
            st.rejected[pinfo.number] = true
            return false
        end
    end
    st.heur[pinfo.number] = true
    dissect_htcpcp(tvb, pinfo, root, conn, side)
    return true
end

htcpcp:register_heuristic("tcp", function(tvb, pinfo, root)
    return heuristic(tvb, pinfo, root, true)
end)
pcall(function()
    htcpcp:register_heuristic("tls", function(tvb, pinfo, root)
        return heuristic(tvb, pinfo, root, false)
    end)
end)

---------------------------------------------------------------------------------------------
-- 7b. TCP connections.  TCP hands a payload dissector no SYN, and Wireshark 4.0's Lua has no
--     conversation API (a tcp.stream field extractor or tap would make Wireshark build a tree
--     for every packet).  A postdissector sees every frame: for the port pairs of HTCPCP
--     connections it reads the TCP header's flags from the frame's bytes (found once per
--     direction by the port numbers, checked on every frame), and a SYN without ACK starts a
--     new connection on its address/port pair: a client reusing its port gets fresh numbering
--     and pairing.  --disable-protocol htcpcp_tcp turns it off.
---------------------------------------------------------------------------------------------

local tracker = Proto("htcpcp_tcp", "HTCPCP TCP connection tracking")
local SYN, ACK = 2, 16 -- flag bits (FIN is bit 1)
local PT_TCP = 2 -- pinfo.port_type of a TCP frame
local MAX_TCP_AT = 128 -- the TCP header starts within this many bytes of the frame

-- The TCP header (14 bytes from its start: ports, numbers, offset, flags) of a frame of length
-- len whose port bytes are `ports` (port_bytes), looked for at `at` first; and where it
-- starts.  nil when there is none.
local function tcp_header(tvb, ports, at, len)
    if at and at + 14 <= len then
        local head = tvb_raw(tvb, at, 14)
        if sub(head, 1, 4) == ports then return head, at end
    end
    local first = tvb_raw(tvb, 0, math.min(len, MAX_TCP_AT + 14))
    local p = find(first, ports, 1, true)
    while p and not (p + 13 <= #first and byte(first, p + 12) >= 0x50) do
        p = find(first, ports, p + 1, true)
    end
    if not p then return nil end
    return sub(first, p, p + 13), p - 1
end

-- Data from one side was not captured: its peer acknowledged bytes the capture never had.  A
-- lost response leaves its request answered by nothing (the oldest pending one: later pairs
-- do not shift); a lost request leaves a stand-in that its response pairs with.
local function data_lost(pinfo, lost_port)
    local conn = st.conns[pair_key(pinfo)]
    if not conn or not conn.request_port or pinfo.src_port == pinfo.dst_port then return end
    if lost_port == conn.request_port then
        conn.tail = conn.tail + 1
        conn.pending[conn.tail] = { false, false } -- a stand-in: no SLOT (pair_response)
    else
        local req = conn.pending[conn.head]
        if req then
            response_lost(req)
            conn.pending[conn.head] = nil
            conn.head = conn.head + 1
        end
    end
end

-- A SYN without ACK (on any port pair): a new connection on its address/port pair.  When other
-- addresses used the port pair before (in a SYN or a packet), packets on it are from now on
-- told apart by their addresses too (conn_key).  The SYNs' keys are kept in a bounded table
-- (MAX_SYN_KEYS port pairs, started afresh when full).
local MAX_SYN_KEYS = 65536

local function connection_starts(pinfo, sport, dport)
    local key = pair_key(pinfo)
    st.conns[key] = nil
    local forth, back = sport * 65536 + dport, dport * 65536 + sport
    local seen = st.syn_keys[forth] or st.syn_keys[back]
    local last = st.last_pair[forth] or st.last_pair[back]
    if (seen and seen ~= key) or (last and last[3] ~= key) then
        st.shared_ports[forth], st.shared_ports[back] = true, true
    end
    if not seen then
        if st.syn_count == MAX_SYN_KEYS then st.syn_keys, st.syn_count = {}, 0 end
        st.syn_count = st.syn_count + 1
    end
    st.syn_keys[forth] = key
end

-- Sequence numbers wrap at 2^32; a is after b when (a - b) % WRAP is in (0, HALF).  (Written
-- out where it is used, since this runs on every frame.)
local HALF, WRAP = 2147483648, 4294967296

-- The header's bytes are read in one call: ports (1-4), sequence (5-8) and acknowledgement
-- (9-12) numbers, data offset (13) and flags (14).  Frames of a capture mostly have their TCP
-- header where the last one had it: the port bytes found there name the entry, so the usual
-- frame costs one read of the frame (and pinfo.port_type) rather than six calls.
function tracker.dissector(tvb, pinfo)
    st.open_frame = false -- this dissection of the frame is over (new_call)
    if pinfo.visited then return end
    st.tracker_runs = true
    local len = tvb_len(tvb)
    local at = st.tcp_at
    local entry, p1, p2, p3, p4, s1, s2, s3, s4, a1, a2, a3, a4, offset, flags
    if at and at + 14 <= len then
        p1, p2, p3, p4, s1, s2, s3, s4, a1, a2, a3, a4, offset, flags =
            byte(tvb_raw(tvb, at, 14), 1, 14)
        entry = st.tracked[p1 * 16777216 + p2 * 65536 + p3 * 256 + p4]
        if entry and (entry.at ~= at or offset < 0x50) then entry = nil end
    end
    if not entry then
        local sport, dport = pinfo.src_port, pinfo.dst_port
        entry = st.tracked[sport * 65536 + dport]
        if not entry then
            -- Not (yet) an HTCPCP port pair: only a SYN matters.
            local here = p1 and p1 * 256 + p2 == sport and p3 * 256 + p4 == dport
            local is_tcp = false
            if not (here and offset >= 0x50) then
                if pinfo.port_type ~= PT_TCP then return end
                local head, found = tcp_header(tvb, port_bytes(sport, dport), nil, len)
                if not head then return end
                st.tcp_at, is_tcp = found, true
                offset, flags = byte(head, 13, 14)
            end
            if flags % 4 >= SYN and flags % 32 < ACK and (is_tcp or pinfo.port_type == PT_TCP) then
                connection_starts(pinfo, sport, dport)
            end
            return
        end
        if pinfo.port_type ~= PT_TCP then return end
        local head, found = tcp_header(tvb, entry.ports, entry.at, len)
        if not head then return end
        entry.at, st.tcp_at = found, found
        p1, p2, p3, p4, s1, s2, s3, s4, a1, a2, a3, a4, offset, flags = byte(head, 1, 14)
    elseif pinfo.port_type ~= PT_TCP then
        return
    end
    if flags % 4 >= SYN and flags % 32 < ACK then
        connection_starts(pinfo, p1 * 256 + p2, p3 * 256 + p4)
        entry.next, entry.peer.next = nil, nil
        return
    end
    -- The end of this segment's data (its length from the frame's: at most a link-layer
    -- trailer too many, which can only hide a gap, never invent one).
    local stop = s1 * 16777216 + s2 * 65536 + s3 * 256 + s4 + len - entry.at
        - (offset - offset % 16) / 4 + flags % 2 -- a FIN takes one number
    stop = stop % WRAP
    local next_seq = entry.next
    if not next_seq then
        entry.next = stop
    else
        local d = (stop - next_seq) % WRAP
        if d > 0 and d < HALF then entry.next = stop end
    end
    if flags % 32 >= ACK then
        local peer = entry.peer
        local peer_next = peer.next
        if peer_next then
            local ack = a1 * 16777216 + a2 * 65536 + a3 * 256 + a4
            local d = (ack - peer_next) % WRAP
            if d > 0 and d < HALF then
                peer.next = ack
                data_lost(pinfo, entry.to_port)
            end
        end
    end
end

register_postdissector(tracker)

---------------------------------------------------------------------------------------------
-- 8. Statistics: tshark -z htcpcp,tree, and the GUI's menu entries
---------------------------------------------------------------------------------------------

local function sorted_keys(counts)
    local keys = {}
    for k in pairs(counts) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b)
        if counts[a] ~= counts[b] then return counts[a] > counts[b] end
        return tostring(a) < tostring(b)
    end)
    return keys
end

local function percent(n, total)
    if total == 0 then return "" end
    return string.format("%.2f%%", n * 100 / total)
end

-- The statistics as text, laid out like Wireshark's own stats trees (-z http,tree).
local function stats_text()
    local s = st.stats
    local rows = {}
    local function row(topic, count, pct, extra)
        rows[#rows + 1] = string.format("%-40s %10s %10s %s", topic, tostring(count), pct or "",
            extra or "")
    end
    local function section(title, counts, total)
        row(title, total)
        for _, k in ipairs(sorted_keys(counts)) do
            row("  " .. tostring(k), counts[k], percent(counts[k], total))
        end
    end
    local additions, pots = 0, 0
    for _, n in pairs(s.additions) do additions = additions + n end
    for _, n in pairs(s.pots) do pots = pots + n end
    local out = {
        "===================================================================",
        "HTCPCP Statistics:",
        string.format("%-40s %10s %10s", "Topic / Item", "Count", "Percent"),
        "-------------------------------------------------------------------",
    }
    section("Requests by method", s.methods, s.requests)
    section("Responses by status code", s.codes, s.responses)
    section("Additions asked for", s.additions, additions)
    section("Requests by pot", s.pots, pots)
    row("Response time (s) by method", "", "", "     average        min        max")
    for _, method in ipairs(sorted_keys(s.methods)) do
        local t = s.times[method]
        if t then
            row("  " .. method, t.n, "", string.format("%12.6f %10.6f %10.6f",
                t.sum / t.n, t.min, t.max))
        end
    end
    for _, r in ipairs(rows) do out[#out + 1] = r end
    out[#out + 1] = "==================================================================="
    return concat(out, "\n") .. "\n"
end

-- -z htcpcp,tree: a tap listener whose draw() prints the statistics when tshark finishes.  It
-- is only created when asked for, since a Lua listener makes Wireshark build a tree for every
-- packet.
register_stat_cmd_arg("htcpcp,tree", function()
    stats_wanted = true
    local listener = Listener.new("frame", "htcpcp")
    function listener.draw() io.stdout:write(stats_text()) end
end)

if gui_enabled() then
    stats_wanted = true
    register_menu("HTCPCP/Statistics", function()
        local window = TextWindow.new("HTCPCP statistics")
        window:set(stats_text())
    end, MENU_STAT_GENERIC)
    register_menu("HTCPCP/Requests without a response", function()
        set_filter("htcpcp.request and not htcpcp.response_in")
        apply_filter()
    end, MENU_STAT_GENERIC)
    register_menu("HTCPCP/Teapots (418)", function()
        set_filter("htcpcp.response.code == 418")
        apply_filter()
    end, MENU_STAT_GENERIC)
end

---------------------------------------------------------------------------------------------
-- 9. Port registration (last: the dissector must exist first)
---------------------------------------------------------------------------------------------

local registered_ports = ""

local function register_ports()
    local tables = { DissectorTable.get("tcp.port"), DissectorTable.get("tls.port") }
    for _, t in ipairs(tables) do
        if registered_ports ~= "" then t:remove(registered_ports, htcpcp) end
        if htcpcp.prefs.tcp_ports ~= "" then t:add(htcpcp.prefs.tcp_ports, htcpcp) end
    end
    registered_ports = htcpcp.prefs.tcp_ports
end

htcpcp.prefs_changed = function()
    read_prefs()
    register_ports()
end
register_ports()
