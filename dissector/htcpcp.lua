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
--  * Every decision (this connection is HTCPCP, this connection is TLS, this request pairs with
--    that response) is made once, on the first pass, and stored by frame; later passes only read
--    it, so one pass and two passes (tshark -2, the GUI) show the same packets.
--  * Connections are keyed by their address/port pair, requests and responses paired in order.
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

---------------------------------------------------------------------------------------------
-- Text from the packet: valid UTF-8 only
---------------------------------------------------------------------------------------------

local REPLACEMENT = "\239\191\189" -- U+FFFD
local SUSPECT = "[%c\127-\255]"

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

local st
local stats_wanted = false -- set by -z htcpcp,tree or in the GUI

local function new_stats()
    return { requests = 0, responses = 0, methods = {}, codes = {}, additions = {},
        pots = {}, times = {} }
end

local function reset_state()
    st = {
        conns = {},     -- address/port pair -> connection
        msgs = {},      -- frame * 65536 + index within the frame -> record
        heur = {},      -- frame -> true when the heuristic took it
        tls = {},       -- frame -> true when it went to the TLS dissector
        rejected = {},  -- frame -> true when the heuristic turned it away
        stats = new_stats(),
    }
end
reset_state()
htcpcp.init = reset_state

-- Key of the address/port pair, the same in both directions.
local function pair_key(src, sport, dst, dport)
    local a, b = tostring(src) .. ":" .. sport, tostring(dst) .. ":" .. dport
    if a < b then return a .. " " .. b end
    return b .. " " .. a
end

local function new_conn()
    return {
        pending = {}, head = 1, tail = 0, requests = 0, last_request = nil,
        owner = {}, seen = {}, heur_from = nil, tls_from = nil,
    }
end

-- The connection a packet belongs to, by its address/port pair.  (Wireshark 4.0's Lua has no
-- conversation API, and a field extractor or tap for tcp.stream would make Wireshark build a
-- tree for every packet, several times slower; so a client reusing its port within one capture
-- continues the same connection here.)
local function conn_of(pinfo)
    local key = pair_key(pinfo.src, pinfo.src_port, pinfo.dst, pinfo.dst_port)
    local conn = st.conns[key]
    if not conn then
        conn = new_conn()
        st.conns[key] = conn
    end
    return conn
end

-- The side of the connection a packet comes from.
local function side_of(src, sport, dport)
    if sport ~= dport then return sport end
    return tostring(src)
end

-- Key of the next item in this frame, stable across passes; take_key() consumes it.
local function peek_key(pinfo)
    local n = tonumber(pinfo.private.htcpcp_n or "0") + 1
    return pinfo.number * 65536 + n, n
end

local function take_key(pinfo)
    local key, n = peek_key(pinfo)
    pinfo.private.htcpcp_n = tostring(n)
    return key
end

local function set_info(pinfo, text)
    pinfo.cols.protocol = "HTCPCP"
    if pinfo.private.htcpcp_info then
        pinfo.cols.info:append(", " .. text)
    else
        pinfo.cols.info:set(text)
        pinfo.private.htcpcp_info = "1"
    end
    pinfo.cols.info:fence()
end

-- Seconds between two frames, from their absolute timestamps.  When both have the same time
-- reference, the difference of their relative times is used: it is exact, while a double
-- holding seconds since 1970 is only good to about 240 ns.
local function elapsed(from, to)
    local delta = to.abs - from.abs
    if math.abs((to.abs - to.rel) - (from.abs - from.rel)) < 1e-3 then
        delta = to.rel - from.rel
    end
    return delta
end

local function seconds_to_nstime(delta)
    if delta < 0 then delta = 0 end
    local sec = floor(delta)
    local nsec = floor((delta - sec) * 1000000000 + 0.5)
    if nsec >= 1000000000 then
        sec = sec + 1
        nsec = nsec - 1000000000
    end
    return NSTime.new(sec, nsec)
end

---------------------------------------------------------------------------------------------
-- 5. Parsing helpers.  `data` is the Tvb as a string; positions are 1-based string indices
--    unless a name ends in _pos, which are 0-based Tvb offsets.
---------------------------------------------------------------------------------------------

local TOKEN = "[%w!#%$%%&'%*%+%-%.%^_`|~]"
local VERSION = "%u[%u%-]*/%d+%.%d+"
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

-- Parse a complete first line that starts at Tvb offset `at`.  Returns a table describing it
-- (with Tvb offsets), or nil.  A request needs a known method.
local function parse_start_line(line, at)
    local vpos, version, cpos, code, rest = match(line, STATUS_PATTERN)
    if vpos and (rest == "" or byte(rest, 1) == 32) then
        local ppos, phrase = match(rest, "^ *()(.-)%s*$")
        return {
            is_request = false, version = version, version_pos = at + vpos - 1,
            code = tonumber(code), code_pos = at + cpos - 1,
            phrase = phrase, phrase_pos = at + cpos + 2 + ppos - 1,
        }
    end
    local mpos, method, tpos, target, vpos2, version2 = match(line, REQUEST_PATTERN)
    if mpos and known_methods[method] then
        return {
            is_request = true, method = method, method_pos = at + mpos - 1,
            target = target, target_pos = at + tpos - 1,
            version = version2, version_pos = at + vpos2 - 1,
        }
    end
    return nil
end

-- Does this complete line look like a start line gone wrong (known method or a version)?
local function looks_like_bad_start(line)
    local word = match(line, "^(%u+) ")
    return (word and known_methods[word]) or match(line, "^" .. VERSION) ~= nil
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
    return line ~= nil and parse_start_line(line, 0) ~= nil
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
    return match(s, "^" .. TOKEN .. "*$") ~= nil or match(s, "^" .. TOKEN .. "+:") ~= nil
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

-- A "Name: value" header line at Tvb offset pos (text `line`, ending at offset eol), or nil.
local function parse_header(line, pos, eol)
    local colon = match(line, "^" .. TOKEN .. "+():")
    if not colon then return nil end
    local name = sub(line, 1, colon - 1)
    local value, vstart = trim(sub(line, colon + 1))
    return {
        name = name, lname = lower(name), value = value, line_pos = pos, line_end = eol,
        value_pos = pos + colon + vstart - 1,
    }
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
-- `detailed` asks for the header lines taken apart (to build a tree or statistics).
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

-- The header lines between index `from` and the LF at index `to`, taken apart.
local function parse_header_lines(m, data, from, to)
    local p = from
    while p <= to do
        local line, lf, crlf = read_line(data, p)
        if not crlf then m.bare_lf = true end
        local pos = p - 1
        local eol = pos + #line
        local header = parse_header(line, pos, eol)
        if header then
            m.headers[#m.headers + 1] = header
        elseif (byte(line, 1) == 32 or byte(line, 1) == 9) and #m.headers > 0 then
            m.folded[#m.folded + 1] = { pos, eol }
            local h = m.headers[#m.headers]
            h.value = h.value .. " " .. trim(line)
            h.line_end = eol
        else
            m.bad_lines[#m.bad_lines + 1] = { pos, eol }
        end
        p = lf + 1
    end
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
        local is_header = match(line, "^" .. TOKEN .. "+:") ~= nil
            or ((byte(line, 1) == 32 or byte(line, 1) == 9) and p > from)
        if not is_header then return p, false end
        p = lf + 1
    end
end

-- Chunked body starting at index p.  Returns the index after the message, or nil, need.
local function parse_chunks(m, data, total, p, can_wait)
    local parts = {}
    while true do
        local line, lf = read_line(data, p)
        if not line then
            if can_wait then return nil, ONE_MORE end
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
            m.bad_chunk = { p - 1, stop - 1 }
            return stop, parts
        end
        local chunk = { line_pos = p - 1, line_end = p - 1 + #line, size = size, ext = ext,
            data_pos = lf }
        m.chunks[#m.chunks + 1] = chunk
        if size == 0 then
            local q = lf + 1
            while true do
                local tline, tlf = read_line(data, q)
                if not tline then
                    if can_wait then return nil, ONE_MORE end
                    m.truncated = true
                    q = total + 1
                    break
                end
                if tline == "" or tline == "\r" then
                    q = tlf + 1
                    break
                end
                local trailer = parse_header(tline, q - 1, q - 1 + #tline)
                if trailer then
                    m.trailers[#m.trailers + 1] = trailer
                else
                    m.bad_lines[#m.bad_lines + 1] = { q - 1, q - 1 + #tline }
                end
                q = tlf + 1
            end
            chunk.stop = q - 1
            return q, parts
        end
        local data_end = lf + size -- index of the chunk's last byte
        if data_end > total then
            -- Not the exact count: TCP would then hand over exactly that many bytes and drop
            -- the rest of the segment, while the message goes on after this chunk.
            if can_wait then return nil, ONE_MORE end
            m.truncated = true
            chunk.data_end = total
            parts[#parts + 1] = sub(data, lf + 1, total)
            return total + 1, parts
        end
        chunk.data_end = data_end
        parts[#parts + 1] = sub(data, lf + 1, data_end)
        local after, after_lf = read_line(data, data_end + 1)
        if not after then
            if can_wait then return nil, ONE_MORE end
            m.truncated = true
            return total + 1, parts
        end
        if after ~= "" then
            local stop = find_next_start(data, data_end + 1, total) or (total + 1)
            m.bad_chunk = { data_end, stop - 1 }
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
    for _, v in ipairs(header_values(head_lower, "transfer-encoding")) do
        chunked = find(v, "chunked", 1, true) ~= nil
    end
    local clen, bad
    for _, v in ipairs(header_values(head_lower, "content-length")) do
        local n = #v <= 9 and match(v, "^%d+$") and tonumber(v)
        if n and n <= MAX_LENGTH and (clen == nil or clen == n) then
            clen = n
        else
            bad = true
        end
    end
    if bad then clen = nil end
    return chunked, clen, bad
end

local function parse_message(data, total, i, start, can_wait, no_body, detailed)
    local m = {
        offset = i - 1, start = start, headers = {}, chunks = {}, trailers = {},
        bad_lines = {}, folded = {}, bare_lf = not start.crlf,
    }
    local lf = start.lf
    local blank, blank_end = find(data, "\n\r?\n", lf)
    local body_start -- index of the body's first byte
    local head_last  -- index of the LF that ends the last header line
    if blank then
        head_last = blank
        body_start = blank_end + 1
        if blank_end - blank == 1 then m.bare_lf = true end
    else
        local p, incomplete = head_without_empty_line(data, lf + 1)
        if incomplete and can_wait and total - i < MAX_HEAD then return nil, ONE_MORE end
        if incomplete then
            m.truncated = true
        elseif p <= total then
            m.no_empty_line = p - 1
        end
        head_last = p - 1
        body_start = p
    end
    m.head = sub(data, lf, head_last)
    local head_lower = lower(m.head)
    m.head_lower = head_lower
    if detailed then parse_header_lines(m, data, lf + 1, head_last) end
    local chunked, clen, bad_length = framing(head_lower)
    m.chunked = chunked
    m.length_and_chunked = chunked and (clen ~= nil or bad_length)
    m.bad_length = bad_length

    local stop -- index after the message
    if m.truncated then
        stop = total + 1
        m.leftover = { body_start - 1, total } -- the unfinished header line, if any
    elseif no_body then
        stop = body_start
    elseif chunked then
        local parts
        stop, parts = parse_chunks(m, data, total, body_start, can_wait)
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
            if can_wait and total - body_start < 65536 then return nil, ONE_MORE end
            if can_wait then return nil, stop - total - 1 end
            m.truncated = true
            stop = total + 1
        end
        m.body = { body_start - 1, stop - 1 }
    else
        -- Neither Content-Length nor chunked: the body (if any) runs to the next start line or
        -- to the end of the data; responses may instead run until the connection closes.
        if not start.is_request and htcpcp.prefs.until_fin and can_wait then
            return nil, UNTIL_FIN
        end
        stop = total + 1
        if body_start <= total and m.no_empty_line == nil and starts_message(data, body_start) then
            stop = body_start
        elseif body_start <= total then
            stop = find_next_start(data, body_start, total) or (total + 1)
            if m.no_empty_line == nil then m.body_without_length = true end
        end
        m.body = { body_start - 1, stop - 1 }
        m.open = stop == total + 1
    end
    m.stop = stop - 1
    return m
end

---------------------------------------------------------------------------------------------
-- Rendering (only when a tree is built).  Every string value is clean()ed.
---------------------------------------------------------------------------------------------

local function add_text(tree, protofield, range, text)
    return tree:add(protofield, range, clean(text))
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

local function add_uri(tree, tvb, base_pos, target, content_type)
    local t = add_text(tree, hf.uri, tvb(base_pos, #target), target)
    if target == "*" then return end
    local scheme, authority, path, query = uri_parts(target)
    local rest_pos = 1 -- 1-based index in target where the path starts
    if scheme then
        local item = add_text(t, hf.uri_scheme, tvb(base_pos, #scheme), scheme)
        local language = scheme_language(scheme)
        local decoded = percent_decode(scheme)
        if language then
            if decoded ~= scheme then
                item:append_text(" (" .. clean(decoded) .. ", " .. language .. ")")
            else
                item:append_text(" (" .. language .. ")")
            end
        else
            item:add_proto_expert_info(ef.unknown_scheme)
        end
        rest_pos = #scheme + 2
        if authority then
            local apos = base_pos + rest_pos + 1
            local host, port = match(authority, "^(.-):(%d+)$")
            host = host or authority
            if host ~= "" then add_text(t, hf.uri_host, tvb(apos, #host), host) end
            if port and #port <= 5 and tonumber(port) <= 65535 then
                t:add(hf.uri_port, tvb(apos + #host + 1, #port), tonumber(port))
            end
            rest_pos = rest_pos + 2 + #authority
        end
    end
    local segments = {}
    for seg_pos, seg in path:gmatch("()([^/]+)") do
        segments[#segments + 1] = { seg_pos, seg }
    end
    local function add_segment(protofield, entry)
        local pos = base_pos + rest_pos - 1 + entry[1] - 1
        add_text(t, protofield, tvb(pos, #entry[2]), percent_decode(entry[2]))
    end
    if #segments >= 2 or (segments[1] and match(segments[1][2], "^[Pp][Oo][Tt]%-%d+$")) then
        add_segment(hf.uri_pot, segments[1])
        if segments[2] then add_segment(hf.uri_variety, segments[2]) end
    elseif segments[1] then
        local tea = (scheme and lower(percent_decode(scheme)) == "tea")
            or content_type == "message/teapot"
        add_segment(tea and hf.uri_variety or hf.uri_pot, segments[1])
    end
    if query ~= "" then
        local qpos = base_pos + rest_pos - 1 + #path + 1
        local qt = add_text(t, hf.uri_query, tvb(qpos, #query), query)
        local normalised = query:gsub("[&;]", ",")
        for _, item in ipairs(split_items(normalised, ",")) do
            add_text(qt, hf.uri_addition, tvb(qpos + item[1] - 1, #item[2]),
                percent_decode(item[2]))
        end
    end
end

-- Accept-Additions items: {position in value, addition, {q or param parts}}.  Both RFC 2324's
-- "Cream;q=0.5, Whisky" and the lab's "whole-milk; oat milk" give one item per addition.
local function additions_of(value)
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
end

local function add_accept_additions(tree, tvb, h)
    for _, a in ipairs(additions_of(h.value)) do
        local ai = add_text(tree, hf.addition, tvb(h.value_pos + a.at - 1, #a.name), a.name)
        for _, p in ipairs(a.params) do
            local range = tvb(h.value_pos + p[1] - 1, #p[2])
            local q = p[3] == "q" and tonumber(p[4])
            if q then
                local qi = ai:add(hf.addition_q, range, q)
                if q == 0 then qi:append_text(" (excluded)") end
            else
                add_text(ai, hf.addition_param, range, p[2])
            end
        end
    end
end

local function add_alternates(tree, tvb, h)
    for upos, uri in h.value:gmatch("{%s*\"()([^\"]*)\"") do
        add_text(tree, hf.alternate, tvb(h.value_pos + upos - 1, #uri), uri)
    end
end

-- One htcpcp.header item per header, with the header's own field below it when it has one.
local function add_headers(t, tvb, headers)
    for _, h in ipairs(headers) do
        local hrange = tvb(h.line_pos, h.line_end - h.line_pos)
        local hi = add_text(t, hf.header, hrange, hrange:raw())
        local protofield = header_fields[h.lname]
        if protofield then
            local vrange = tvb(h.value_pos, h.line_end - h.value_pos)
            if h.lname == "content-length" then
                local n = #h.value <= 9 and match(h.value, "^%d+$") and tonumber(h.value)
                if n and n <= MAX_LENGTH then
                    hi:add(protofield, vrange, n)
                else
                    hi:add_proto_expert_info(ef.bad_content_length)
                end
            else
                local fi = add_text(hi, protofield, vrange, h.value)
                if h.lname == "accept-additions" then add_accept_additions(fi, tvb, h) end
                if h.lname == "alternates" then add_alternates(fi, tvb, h) end
            end
        end
    end
end

local function content_type_of(head_lower)
    local values = header_values(head_lower, "content-type")
    local v = values[#values]
    return v and match(v, "^([^;%s]*)") or nil
end

local function try_media(content_type, body_tvb, pinfo, tree)
    if not (htcpcp.prefs.media and content_type and content_type ~= "") then return end
    if command_types[content_type] then return end
    local media = DissectorTable.get("media_type")
    if media:get_dissector(content_type) then
        pcall(media.try, media, content_type, body_tvb, pinfo, tree)
    end
end

-- The message's body as a string (de-chunked), or nil when it has none.
local function body_bytes(tvb, m)
    if m.chunked and m.dechunked then
        return m.dechunked ~= "" and m.dechunked or nil
    elseif m.body and m.body[2] > m.body[1] then
        return tvb(m.body[1], m.body[2] - m.body[1]):raw()
    end
    return nil
end

local function render_start_line(t, tvb, m, content_type)
    local s = m.start
    local first_line = tvb(m.offset, s.line_end - m.offset)
    if s.is_request then
        t:add(hf.request, true):set_hidden()
        local lt = add_text(t, hf.request_line, first_line, s.line)
        local mi = add_text(lt, hf.method, tvb(s.method_pos, #s.method), s.method)
        add_uri(lt, tvb, s.target_pos, s.target, content_type)
        local vi = add_text(lt, hf.request_version, tvb(s.version_pos, #s.version), s.version)
        if not htcpcp_methods[s.method] then mi:add_proto_expert_info(ef.unknown_method) end
        if s.method == "POST" then mi:add_proto_expert_info(ef.post_deprecated) end
        if not known_versions[s.version] then vi:add_proto_expert_info(ef.unknown_version) end
        return
    end
    t:add(hf.response, true):set_hidden()
    local lt = add_text(t, hf.status_line, first_line, s.line)
    local vi = add_text(lt, hf.response_version, tvb(s.version_pos, #s.version), s.version)
    local ci = lt:add(hf.code, tvb(s.code_pos, 3), s.code)
    add_text(lt, hf.phrase, tvb(s.phrase_pos, #s.phrase), s.phrase)
    if not known_versions[s.version] then vi:add_proto_expert_info(ef.unknown_version) end
    if s.code == 418 then
        ci:add_proto_expert_info(ef.teapot)
    elseif s.code == 406 then
        local available = trim(body_bytes(tvb, m) or "")
        if available ~= "" then
            ci:add_tvb_expert_info(ef.not_acceptable, tvb(s.code_pos, 3),
                "406 Not Acceptable: the pot cannot supply a requested addition; available: "
                .. clean(available))
        else
            ci:add_proto_expert_info(ef.not_acceptable)
        end
    elseif s.code >= 400 then
        ci:add_tvb_expert_info(ef.error_status, tvb(s.code_pos, 3),
            "Error status " .. s.code .. " " .. clean(s.phrase))
    end
end

local function render_body(t, tvb, pinfo, root, m, content_type)
    local s = m.start
    local body_text = body_bytes(tvb, m)
    local body_tvb
    if m.chunked and m.dechunked then
        for _, c in ipairs(m.chunks) do
            local stop = c.stop or c.data_end or c.line_end
            local ci = t:add(hf.chunk_size, tvb(c.line_pos, stop - c.line_pos), c.size)
            if c.ext ~= "" then
                add_text(ci, hf.chunk_extension, tvb(c.line_end - #c.ext, #c.ext), c.ext)
            end
            if c.size > 0 and c.data_end and c.data_end > c.data_pos then
                ci:add(hf.chunk_data, tvb(c.data_pos, c.data_end - c.data_pos))
            end
        end
        add_headers(t, tvb, m.trailers)
        if body_text then body_tvb = ByteArray.new(body_text, true):tvb("De-chunked body") end
    elseif body_text then
        body_tvb = tvb(m.body[1], m.body[2] - m.body[1]):tvb()
    end
    if m.bad_chunk then
        t:add(hf.data, tvb(m.bad_chunk[1], m.bad_chunk[2] - m.bad_chunk[1]))
            :add_proto_expert_info(ef.bad_chunk)
    end
    if body_tvb then
        local bi = add_text(t, hf.body, body_tvb(), body_text)
        bi:add(hf.body_length, #body_text):set_generated()
        if m.body_without_length then bi:add_proto_expert_info(ef.body_without_length) end
        if m.length_too_long then bi:add_proto_expert_info(ef.length_too_long) end
        if is_command_word(body_text) then
            t:add(hf.command, body_tvb(), lower(match(body_text, "^%s*(%a+)")))
        elseif s.is_request and command_types[content_type or ""]
            and (s.method == "BREW" or s.method == "POST") then
            bi:add_proto_expert_info(ef.bad_command)
        end
        try_media(content_type, body_tvb, pinfo, root)
    end
    if m.leftover and m.leftover[2] > m.leftover[1] then
        t:add(hf.data, tvb(m.leftover[1], m.leftover[2] - m.leftover[1]))
    end
    if m.truncated then t:add_proto_expert_info(ef.truncated) end
end

local function render_links(t, rec)
    if rec.number then t:add(hf.request_number, rec.number):set_generated() end
    if rec.is_request then
        if rec.prev then t:add(hf.prev_request_in, rec.prev.frame):set_generated() end
        if rec.next then t:add(hf.next_request_in, rec.next.frame):set_generated() end
        if rec.resp then t:add(hf.response_in, rec.resp.frame):set_generated() end
    else
        local req = rec.req
        if req then
            t:add(hf.request_in, req.frame):set_generated()
            t:add(hf.time, seconds_to_nstime(elapsed(req, rec))):set_generated()
        else
            t:add_proto_expert_info(ef.unmatched_response)
        end
    end
    if rec.body_in then t:add(hf.body_in, rec.body_in):set_generated() end
end

local function render_message(tvb, pinfo, root, m, rec)
    local t = root:add(htcpcp, tvb(m.offset, m.stop - m.offset))
    t:append_text(", " .. clean(m.start.line))
    local content_type = content_type_of(m.head_lower)
    render_start_line(t, tvb, m, content_type)
    add_headers(t, tvb, m.headers)
    for _, r in ipairs(m.bad_lines) do
        local range = tvb(r[1], r[2] - r[1])
        add_text(t, hf.header, range, range:raw()):add_proto_expert_info(ef.bad_header)
    end
    for _, r in ipairs(m.folded) do
        t:add_tvb_expert_info(ef.folded_header, tvb(r[1], r[2] - r[1]))
    end
    if m.bad_length then
        local has_item = false
        for _, h in ipairs(m.headers) do has_item = has_item or h.lname == "content-length" end
        if not has_item then t:add_proto_expert_info(ef.bad_content_length) end
    end
    if m.bare_lf then t:add_proto_expert_info(ef.bare_lf) end
    if m.length_and_chunked then t:add_proto_expert_info(ef.length_and_chunked) end
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
    for _, value in ipairs(header_values(m.head_lower, "accept-additions", m.head)) do
        for _, a in ipairs(additions_of(value)) do bump(stats.additions, clean(a.name)) end
    end
    return scheme
end

local function count_response(m, rec)
    local stats = st.stats
    stats.responses = stats.responses + 1
    bump(stats.codes, m.start.code)
    if rec.req then
        local method = rec.req.method
        local delta = elapsed(rec.req, rec)
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

-- Pair a response with the oldest pending request of its connection (1xx leave it pending).
local function pair_response(conn, rec, code)
    local queue = conn.pending
    local head = conn.head
    local req = queue[head]
    if req then
        rec.req = req
        rec.number = req.number
        if code >= 200 then
            queue[head] = nil
            head = head + 1
            req.resp = rec
        end
    end
    conn.head = head
end

local function register_message(pinfo, conn, side, m, key)
    local rec = {
        frame = pinfo.number, abs = pinfo.abs_ts, rel = pinfo.rel_ts,
        is_request = m.start.is_request,
    }
    st.msgs[key] = rec
    if rec.is_request then
        conn.requests = conn.requests + 1
        rec.number = conn.requests
        rec.method = m.start.method
        rec.prev = conn.last_request
        if rec.prev then rec.prev.next = rec end
        conn.last_request = rec
        conn.tail = conn.tail + 1
        conn.pending[conn.tail] = rec
        if stats_wanted then count_request(m) end
    else
        pair_response(conn, rec, m.start.code)
        if stats_wanted then count_response(m, rec) end
    end
    conn.owner[side] = m.open and rec or nil
    return rec
end

---------------------------------------------------------------------------------------------
-- 6. The dissector: a loop over the Tvb with desegment_offset/desegment_len
---------------------------------------------------------------------------------------------

-- Data that does not start a message: a later piece of a length-less body, a malformed start
-- line, the start of a message cut short, or a continuation of something not in the capture
-- (data at the start of a capture or after a gap, as HTTP calls it).  Returns the next index.
local function dissect_orphan(tvb, pinfo, root, data, total, i, line, cut_short, conn, side)
    local stop = find_next_start(data, i, total) or (total + 1)
    local key = take_key(pinfo)
    local rec = st.msgs[key]
    if not pinfo.visited and not rec then
        local owner = conn.owner[side]
        rec = { frame = pinfo.number, owner = owner and owner.frame }
        if owner and not owner.body_in then owner.body_in = pinfo.number end
        st.msgs[key] = rec
    end
    rec = rec or {}
    local tree = root.text ~= nil
    local range = tvb(i - 1, stop - i)
    local t = tree and root:add(htcpcp, range)
    if rec.owner then
        set_info(pinfo, "Continuation of frame " .. rec.owner)
        if not tree then return stop end
        t:append_text(", continuation")
        t:add(hf.continuation_of, rec.owner):set_generated()
        local text = range:raw()
        local bi = add_text(t, hf.body, range, text)
        bi:add(hf.body_length, #text):set_generated()
        bi:add_proto_expert_info(ef.continuation)
        if is_command_word(text) then
            t:add(hf.command, range, lower(match(text, "^%s*(%a+)")))
        end
    elseif cut_short then
        set_info(pinfo, "Incomplete: " .. clean(range:raw()))
        if not tree then return stop end
        t:append_text(", incomplete")
        t:add(hf.data, range):add_proto_expert_info(ef.truncated)
    elseif line and #line <= MAX_START_LINE and looks_like_bad_start(line) then
        set_info(pinfo, "Malformed: " .. clean(line))
        if not tree then return stop end
        t:append_text(", malformed start line")
        t:add(hf.data, range):add_proto_expert_info(ef.bad_start_line)
    else
        set_info(pinfo, "Continuation")
        if not tree then return stop end
        t:append_text(", continuation")
        t:add(hf.data, range):add_proto_expert_info(ef.not_htcpcp)
    end
    return stop
end

-- Is the message at index i a response that cannot have a body (to HEAD, 1xx, 204, 304)?
local function bodiless_response(pinfo, conn, start)
    local code = start.code
    if code < 200 or code == 204 or code == 304 then return true end
    local req
    if pinfo.visited then
        local rec = st.msgs[peek_key(pinfo)]
        req = rec and rec.req
    else
        req = conn.pending[conn.head]
    end
    return req ~= nil and req.method == "HEAD"
end

-- Handle one message (or piece of data) at index i.  Returns the next index, or nil, need.
local function dissect_one(tvb, pinfo, root, data, total, i, can_wait, conn, side)
    local line, lf, crlf = read_line(data, i)
    local start = line and #line <= MAX_START_LINE and parse_start_line(line, i - 1)
    if not start then
        local cut_short = false
        if not line then
            cut_short = could_be_start(sub(data, i, i + MAX_START_LINE))
            if can_wait and cut_short then return nil, ONE_MORE end
        end
        return dissect_orphan(tvb, pinfo, root, data, total, i, line, cut_short, conn, side)
    end
    start.line, start.lf, start.crlf = line, lf, crlf
    start.line_end = i - 1 + #line
    local no_body = not start.is_request and bodiless_response(pinfo, conn, start)
    local tree = root.text ~= nil
    local m, need = parse_message(data, total, i, start, can_wait, no_body, tree)
    if not m then return nil, need end
    local key = take_key(pinfo)
    local rec = st.msgs[key]
    if not rec and not pinfo.visited then rec = register_message(pinfo, conn, side, m, key) end
    rec = rec or { frame = pinfo.number, is_request = start.is_request }
    if tree then render_message(tvb, pinfo, root, m, rec) end
    set_info(pinfo, clean(line))
    return m.stop + 1
end

local function dissect_htcpcp(tvb, pinfo, root)
    local total = tvb:len()
    if total == 0 then return 0 end
    local data = tvb:raw()
    local can_wait = htcpcp.prefs.desegment and pinfo.can_desegment > 0
    local conn = (not pinfo.visited) and conn_of(pinfo) or nil
    local side = side_of(pinfo.src, pinfo.src_port, pinfo.dst_port)
    local i = 1
    while i <= total do
        -- Empty lines between messages are ignored, as HTTP servers do.
        local after_blank = match(data, "^[\r\n]+()", i)
        if after_blank then
            i = after_blank
        else
            local next_i, need = dissect_one(tvb, pinfo, root, data, total, i, can_wait, conn, side)
            if not next_i then
                pinfo.desegment_offset = i - 1
                pinfo.desegment_len = need
                return total -- not 0: TCP asserts if 0 is returned after desegment_len is set
            end
            i = next_i
        end
    end
    return total
end

local tls_handle = Dissector.get("tls")

-- A TLS handshake record header (type 22, version 3.x).
local function starts_tls(tvb)
    if tvb:len() < 3 then return false end
    local head = tvb:raw(0, 3)
    return byte(head, 1) == 22 and byte(head, 2) == 3 and byte(head, 3) <= 4
end

-- Entry point for the TCP (and TLS) ports in the preference.  A connection whose first data is
-- a TLS handshake (an ssl: endpoint on 5030) goes to the TLS dissector from that frame on;
-- decrypted data comes back here through tls.port (or the TLS heuristic).  The decision is
-- taken at the connection's first data only, and stored by frame.
local function dissect_port(tvb, pinfo, root)
    if pinfo.private.htcpcp_in_tls == "1" then return dissect_htcpcp(tvb, pinfo, root) end
    local to_tls
    if pinfo.visited then
        if st.rejected[pinfo.number] then return 0 end
        to_tls = st.tls[pinfo.number]
    else
        local conn = conn_of(pinfo)
        if not conn.any_data then
            conn.any_data = true
            if starts_tls(tvb) then conn.tls_from = pinfo.number end
        end
        to_tls = conn.tls_from ~= nil
        if to_tls then st.tls[pinfo.number] = true end
    end
    if to_tls then
        pinfo.private.htcpcp_in_tls = "1"
        local consumed = tls_handle:call(tvb, pinfo, root)
        pinfo.private.htcpcp_in_tls = "0"
        return consumed
    end
    return dissect_htcpcp(tvb, pinfo, root)
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
    local conn = conn_of(pinfo)
    if not conn.heur_from then
        -- A first line still cut short is taken tentatively (TCP then reassembles it); the
        -- connection is HTCPCP only once a whole line says so.
        local side = side_of(pinfo.src, pinfo.src_port, pinfo.dst_port)
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
    dissect_htcpcp(tvb, pinfo, root)
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

htcpcp.prefs_changed = register_ports
register_ports()
