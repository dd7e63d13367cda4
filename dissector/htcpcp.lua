-- htcpcp.lua: Wireshark dissector for HTCPCP (RFC 2324) and its tea extension HTCPCP-TEA (RFC 7168).
--
-- Part of the htcpcp project; see README.md next to this file for installation, the field list
-- and example filters.  Written for Wireshark 3.x/4.x and Lua 5.2, 5.3 and 5.4: no integer
-- division operator, no bit32, no regex library (plain Lua patterns only).
--
-- Design:
--  * TCP reassembly with pinfo.desegment_offset/desegment_len in a loop over the Tvb, so one
--    segment can hold several messages (pipelining) and one message can span many segments.
--    Message length comes from Content-Length, chunked transfer coding, or (for simple clients
--    that send none) the rest of the data up to the next start line.
--  * A length-less body that arrives in a later segment is shown as a continuation linked to
--    its message (htcpcp.continuation_of / htcpcp.body_in).
--  * Requests and responses are matched per connection (keyed by the address/port 4-tuple) in
--    a FIFO built on the first pass; every message has a key "frame:index" where the index is
--    counted in pinfo.private, which is reset for every dissection of a frame.

local htcpcp = Proto("htcpcp", "Hyper Text Coffee Pot Control Protocol")

local ONE_MORE = DESEGMENT_ONE_MORE_SEGMENT or 0x0fffffff
local UNTIL_FIN = 0x0ffffffe -- DESEGMENT_UNTIL_FIN is not exported to Lua in Wireshark 4.0
local MAX_LENGTH = 64 * 1024 * 1024 -- never ask TCP to buffer more than this for one body
local MAX_START_LINE = 8192

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

local known_methods = {
    BREW = true, POST = true, GET = true, HEAD = true, PROPFIND = true, WHEN = true,
    OPTIONS = true,
}

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
    return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
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
        schemes[percent_decode(entry[1]):lower()] = entry[2]
    end
end

local function scheme_language(scheme)
    return schemes[percent_decode(scheme):lower()]
end

---------------------------------------------------------------------------------------------
-- 1. Fields
---------------------------------------------------------------------------------------------

-- frametype (request/response arrows in the packet list) is missing in old 3.x releases.
local frame_type = frametype or {}

local hf = {
    request = ProtoField.bool("htcpcp.request", "Request"),
    response = ProtoField.bool("htcpcp.response", "Response"),

    request_line = ProtoField.string("htcpcp.request_line", "Request line"),
    method = ProtoField.string("htcpcp.request.method", "Method"),
    uri = ProtoField.string("htcpcp.request.uri", "Request URI"),
    uri_scheme = ProtoField.string("htcpcp.request.uri.scheme", "Scheme"),
    uri_host = ProtoField.string("htcpcp.request.uri.host", "Host"),
    uri_port = ProtoField.uint16("htcpcp.request.uri.port", "Port", base.DEC),
    uri_pot = ProtoField.string("htcpcp.request.uri.pot", "Pot designator"),
    uri_variety = ProtoField.string("htcpcp.request.uri.variety", "Tea variety"),
    uri_query = ProtoField.string("htcpcp.request.uri.query", "Query"),
    uri_addition = ProtoField.string("htcpcp.request.uri.addition", "Addition in URI"),
    request_version = ProtoField.string("htcpcp.request.version", "Request version"),

    status_line = ProtoField.string("htcpcp.status_line", "Status line"),
    response_version = ProtoField.string("htcpcp.response.version", "Response version"),
    code = ProtoField.uint16("htcpcp.response.code", "Status code", base.DEC, status_phrases),
    phrase = ProtoField.string("htcpcp.response.phrase", "Reason phrase"),

    header = ProtoField.string("htcpcp.header", "Header"),
    accept_additions = ProtoField.string("htcpcp.accept_additions", "Accept-Additions"),
    addition = ProtoField.string("htcpcp.accept_additions.addition", "Addition"),
    addition_q = ProtoField.double("htcpcp.accept_additions.q", "Quality value (q)"),
    addition_param = ProtoField.string("htcpcp.accept_additions.param", "Addition parameter"),
    content_type = ProtoField.string("htcpcp.content_type", "Content-Type"),
    content_length = ProtoField.uint32("htcpcp.content_length", "Content-Length", base.DEC),
    transfer_encoding = ProtoField.string("htcpcp.transfer_encoding", "Transfer-Encoding"),
    safe = ProtoField.string("htcpcp.safe", "Safe"),
    use_pot = ProtoField.string("htcpcp.use_pot", "Use-Pot"),
    alternates = ProtoField.string("htcpcp.alternates", "Alternates"),
    alternate = ProtoField.string("htcpcp.alternates.uri", "Alternate URI"),
    retry_after = ProtoField.string("htcpcp.retry_after", "Retry-After"),
    allow = ProtoField.string("htcpcp.allow", "Allow"),
    host = ProtoField.string("htcpcp.host", "Host"),
    server = ProtoField.string("htcpcp.server", "Server"),
    user_agent = ProtoField.string("htcpcp.user_agent", "User-Agent"),
    date = ProtoField.string("htcpcp.date", "Date"),
    connection = ProtoField.string("htcpcp.connection", "Connection"),
    expect = ProtoField.string("htcpcp.expect", "Expect"),
    accept = ProtoField.string("htcpcp.accept", "Accept"),

    body = ProtoField.string("htcpcp.body", "Body"),
    body_length = ProtoField.uint32("htcpcp.body.length", "Body length", base.DEC),
    command = ProtoField.string("htcpcp.command", "Coffee-pot command"),
    chunk_size = ProtoField.uint32("htcpcp.chunk_size", "Chunk size", base.DEC),
    chunk_extension = ProtoField.string("htcpcp.chunk_extension", "Chunk extension"),
    chunk_data = ProtoField.bytes("htcpcp.chunk_data", "Chunk data"),

    request_in = ProtoField.framenum("htcpcp.request_in", "Request in frame", base.NONE,
        frame_type.REQUEST),
    response_in = ProtoField.framenum("htcpcp.response_in", "Response in frame", base.NONE,
        frame_type.RESPONSE),
    time = ProtoField.relative_time("htcpcp.time", "Time since request"),
    continuation_of = ProtoField.framenum("htcpcp.continuation_of",
        "Body of the message in frame", base.NONE),
    body_in = ProtoField.framenum("htcpcp.body_in", "Body continues in frame", base.NONE),
    data = ProtoField.bytes("htcpcp.data", "Undecoded data"),
}

do
    local list = {}
    for _, field in pairs(hf) do list[#list + 1] = field end
    htcpcp.fields = list
end

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
local ef = {
    bad_start_line = ProtoExpert.new("htcpcp.expert.bad_start_line",
        "Malformed request or status line", G.MALFORMED, E.ERROR),
    not_htcpcp = ProtoExpert.new("htcpcp.expert.not_htcpcp",
        "Data does not start with an HTCPCP request or status line", G.MALFORMED, E.ERROR),
    truncated = ProtoExpert.new("htcpcp.expert.truncated",
        "Incomplete message (capture ended, frame truncated or reassembly disabled)",
        G.MALFORMED, E.ERROR),
    bad_header = ProtoExpert.new("htcpcp.expert.bad_header", "Malformed header line",
        G.MALFORMED, E.WARN),
    folded_header = ProtoExpert.new("htcpcp.expert.folded_header",
        "Obsolete line folding in a header", G.PROTOCOL, E.WARN),
    no_empty_line = ProtoExpert.new("htcpcp.expert.no_empty_line",
        "Body follows the headers without an empty line", G.PROTOCOL, E.WARN),
    bad_content_length = ProtoExpert.new("htcpcp.expert.bad_content_length",
        "Invalid Content-Length", G.MALFORMED, E.ERROR),
    length_and_chunked = ProtoExpert.new("htcpcp.expert.length_and_chunked",
        "Both Content-Length and chunked Transfer-Encoding (request smuggling risk)",
        G.PROTOCOL, E.WARN),
    bad_chunk = ProtoExpert.new("htcpcp.expert.bad_chunk", "Malformed chunk", G.MALFORMED,
        E.ERROR),
    body_without_length = ProtoExpert.new("htcpcp.expert.body_without_length",
        "Body without Content-Length or chunked encoding", G.PROTOCOL, E.WARN),
    continuation = ProtoExpert.new("htcpcp.expert.continuation",
        "Body of an earlier message without a length, sent in a later segment", G.SEQUENCE,
        E.WARN),
    unmatched_response = ProtoExpert.new("htcpcp.expert.unmatched_response",
        "Response without a matching request", G.SEQUENCE, E.WARN),
    bad_command = ProtoExpert.new("htcpcp.expert.bad_command",
        "Coffee-pot body is neither \"start\" nor \"stop\"", G.PROTOCOL, E.WARN),
    bare_lf = ProtoExpert.new("htcpcp.expert.bare_lf", "Line ends with a bare LF, not CRLF",
        G.PROTOCOL, E.NOTE),
    unknown_method = ProtoExpert.new("htcpcp.expert.unknown_method",
        "Method is not an HTCPCP method", G.PROTOCOL, E.NOTE),
    unknown_version = ProtoExpert.new("htcpcp.expert.unknown_version",
        "Version is not HTCPCP/1.0, HTCPCP/1.1, HTCPCP-TEA/1.0, HTTP/1.0 or HTTP/1.1",
        G.PROTOCOL, E.NOTE),
    unknown_scheme = ProtoExpert.new("htcpcp.expert.unknown_scheme",
        "URI scheme is neither an RFC 2324 coffee scheme nor tea", G.PROTOCOL, E.NOTE),
    post_deprecated = ProtoExpert.new("htcpcp.expert.post_deprecated",
        "POST is deprecated for brewing (RFC 2324 section 2.1.1); use BREW", G.DEPRECATED,
        E.NOTE),
    teapot = ProtoExpert.new("htcpcp.expert.teapot",
        "418 I'm a teapot: coffee was asked of a teapot", G.RESPONSE_CODE, E.NOTE),
    not_acceptable = ProtoExpert.new("htcpcp.expert.not_acceptable",
        "406 Not Acceptable: the pot cannot supply a requested addition", G.RESPONSE_CODE,
        E.NOTE),
    error_status = ProtoExpert.new("htcpcp.expert.error_status", "Error status code",
        G.RESPONSE_CODE, E.NOTE),
}

do
    local list = {}
    for _, e in pairs(ef) do list[#list + 1] = e end
    htcpcp.experts = list
end

---------------------------------------------------------------------------------------------
-- 3. Preferences
---------------------------------------------------------------------------------------------

htcpcp.prefs.tcp_ports = Pref.range("TCP ports", "5030",
    "TCP ports decoded as HTCPCP (other ports are found by the heuristic)", 65535)
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
-- 4. Per-capture state
---------------------------------------------------------------------------------------------

local st

local function reset_state()
    st = {
        pending = {}, -- connection -> FIFO of request records still waiting for a response
        msgs = {},    -- "frame:index" -> record (message, continuation or data)
        owners = {},  -- direction -> record of the last message whose body had no length
        tls = {},     -- connection -> true when it is TLS (an ssl: endpoint on an HTCPCP port)
    }
end
reset_state()
htcpcp.init = reset_state

local function endpoints(pinfo)
    return tostring(pinfo.src) .. ":" .. tostring(pinfo.src_port),
        tostring(pinfo.dst) .. ":" .. tostring(pinfo.dst_port)
end

-- Direction-independent key of the connection.
local function connection_id(pinfo)
    local a, b = endpoints(pinfo)
    if a < b then return a .. " " .. b end
    return b .. " " .. a
end

local function direction_id(pinfo)
    local a, b = endpoints(pinfo)
    return a .. ">" .. b
end

-- Key of the next item in this frame, stable across passes; take_key() consumes it.
local function peek_key(pinfo)
    local n = tonumber(pinfo.private.htcpcp_n or "0") + 1
    return pinfo.number .. ":" .. n, n
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

local function seconds_to_nstime(delta)
    if delta < 0 then delta = 0 end
    local sec = math.floor(delta)
    local nsec = math.floor((delta - sec) * 1000000000 + 0.5)
    if nsec >= 1000000000 then
        sec = sec + 1
        nsec = nsec - 1000000000
    end
    return NSTime.new(sec, nsec)
end

---------------------------------------------------------------------------------------------
-- 5. Parsing helpers (all offsets are 0-based Tvb offsets; `data` is the Tvb as a string)
---------------------------------------------------------------------------------------------

local TOKEN = "[%w!#%$%%&'%*%+%-%.%^_`|~]"
local VERSION = "%u[%u%-]*/%d+%.%d+"

-- Read the line starting at pos.  Returns its text (without CR/LF), the offset where the text
-- ends, the offset of the next line and whether it ended in CRLF; nil when no LF follows yet.
local function read_line(data, pos)
    local lf = data:find("\n", pos + 1, true)
    if not lf then return nil end
    local stop = lf - 1
    local crlf = stop > pos and data:byte(stop) == 13
    if crlf then stop = stop - 1 end
    return data:sub(pos + 1, stop), stop, lf, crlf
end

local function is_command_word(s)
    local word = s:match("^%s*(%a+)%s*$")
    word = word and word:lower()
    return word == "start" or word == "stop"
end

-- Parse a complete first line that starts at Tvb offset `at`.  Returns a table describing it
-- (with absolute offsets), or nil.
local function parse_start_line(line, at)
    local vpos, version, cpos, code, rest = line:match("^()(" .. VERSION .. ") +()(%d%d%d)(.*)$")
    if vpos and (rest == "" or rest:match("^ ")) then
        local ppos, phrase = rest:match("^ *()(.-)%s*$")
        return {
            is_request = false, version = version, version_pos = at + vpos - 1,
            code = tonumber(code), code_pos = at + cpos - 1,
            phrase = phrase, phrase_pos = at + cpos + 2 + ppos - 1,
        }
    end
    local mpos, method, tpos, target, vpos2, version2 =
        line:match("^()(" .. TOKEN .. "+) +()(%S+) +()(" .. VERSION .. ") *$")
    if mpos then
        return {
            is_request = true, method = method, method_pos = at + mpos - 1,
            target = target, target_pos = at + tpos - 1,
            version = version2, version_pos = at + vpos2 - 1,
        }
    end
    return nil
end

-- Could this incomplete line (no LF yet) still become a request or status line?
local function could_be_start(s)
    if #s > MAX_START_LINE then return false end
    return s:match("^%u[%u%-]*$") ~= nil
        or s:match("^%u[%u%-]* +%S*$") ~= nil
        or s:match("^%u[%u%-]* +%S+ +[%u%-/%d%.]*\r?$") ~= nil
        or s:match("^%u[%u%-]*/[%d%.]*$") ~= nil
        or s:match("^" .. VERSION .. " [^\n]*$") ~= nil
end

-- Does a new message start at pos (a whole start line, or a line that clearly begins one)?
local function starts_message(data, pos)
    local line = read_line(data, pos)
    if line then return parse_start_line(line, pos) ~= nil end
    local partial = data:sub(pos + 1)
    return #partial <= MAX_START_LINE and (partial:match("^%u[%u%-]* +%S+ ") ~= nil
        or partial:match("^" .. VERSION .. " %d") ~= nil)
end

-- Offset of the first line after the one containing pos that starts a new message, or nil.
local function find_next_start(data, pos, total)
    local p = pos
    while true do
        local lf = data:find("\n", p + 1, true)
        if not lf or lf >= total then return nil end
        p = lf
        if starts_message(data, p) then return p end
    end
end

local function looks_like_header_prefix(s)
    return s:match("^" .. TOKEN .. "*$") ~= nil or s:match("^" .. TOKEN .. "+:") ~= nil
end

-- A "Name: value" header line starting at pos and ending at eol, or nil.
local function parse_header(line, pos, eol)
    local name, vpos, value = line:match("^(" .. TOKEN .. "+):[ \t]*()(.-)[ \t]*$")
    if not name then return nil end
    return {
        name = name, lname = name:lower(), value = value, line_pos = pos, line_end = eol,
        value_pos = pos + vpos - 1,
    }
end

-- Split s on the plain separator sep.  Returns {start (1-based), trimmed text} per non-empty item.
local function split_items(s, sep)
    local out = {}
    local i = 1
    while i <= #s + 1 do
        local j = s:find(sep, i, true) or (#s + 1)
        local lead, text = s:sub(i, j - 1):match("^%s*()(.-)%s*$")
        if text ~= "" then out[#out + 1] = { i + lead - 1, text } end
        i = j + 1
    end
    return out
end

---------------------------------------------------------------------------------------------
-- Message parser: returns a description of the message at `offset`, or nil, bytes_needed.
---------------------------------------------------------------------------------------------

local function parse_message(data, total, offset, start, can_wait, no_body)
    local m = {
        offset = offset, start = start, headers = {}, chunks = {}, trailers = {},
        bad_lines = {}, folded = {}, bare_lf = not start.crlf,
    }
    local pos = start.next_pos

    -- Headers.
    while true do
        local line, eol, nxt, crlf = read_line(data, pos)
        if not line then
            local partial = data:sub(pos + 1)
            local header_like = partial == "" or partial == "\r"
                or (looks_like_header_prefix(partial) and not is_command_word(partial))
            if can_wait and header_like then return nil, ONE_MORE end
            if header_like then m.truncated = true end
            if partial ~= "" and not header_like then m.no_empty_line = pos end
            m.head_end = pos
            break
        end
        if not crlf then m.bare_lf = true end
        if line == "" then
            m.head_end = nxt
            break
        end
        local header = parse_header(line, pos, eol)
        if header then
            m.headers[#m.headers + 1] = header
        elseif line:match("^[ \t]") and #m.headers > 0 then
            m.folded[#m.folded + 1] = { pos, eol }
            local h = m.headers[#m.headers]
            h.value = h.value .. " " .. line:match("^%s*(.-)%s*$")
            h.line_end = eol
        elseif not data:find("\n\r?\n", pos) then
            -- No empty line anywhere after this: the body was sent without one.
            m.no_empty_line = pos
            m.head_end = pos
            break
        else
            m.bad_lines[#m.bad_lines + 1] = { pos, eol }
        end
        pos = nxt
    end

    -- Framing headers (the last occurrence wins).
    local te, clen, bad_length
    for _, h in ipairs(m.headers) do
        if h.lname == "transfer-encoding" then te = h.value:lower() end
        if h.lname == "content-length" then
            local n = #h.value <= 9 and h.value:match("^%d+$") and tonumber(h.value)
            if n and n <= MAX_LENGTH and (clen == nil or clen == n) then
                h.number = n
                clen = n
            else
                bad_length = true -- shown as an error on the header; the length is not used
            end
        end
    end
    m.chunked = te ~= nil and te:find("chunked", 1, true) ~= nil
    m.length_and_chunked = m.chunked and (clen ~= nil or bad_length)
    if bad_length then clen = nil end

    local body_pos = m.head_end
    if m.truncated then
        m.stop = total
        m.leftover = { body_pos, total } -- the unfinished header line, if any
    elseif no_body then
        m.stop = body_pos
    elseif m.chunked then
        local p = body_pos
        local parts = {}
        while true do
            local line, eol, nxt = read_line(data, p)
            if not line then
                if can_wait then return nil, ONE_MORE end
                m.truncated = true
                p = total
                break
            end
            local hex, ext = line:match("^%s*(%x+)[ \t]*(.-)%s*$")
            if not hex or #hex > 8 or tonumber(hex, 16) > MAX_LENGTH
                or (ext ~= "" and not ext:match("^;")) then
                m.bad_chunk = { p, total }
                p = total
                break
            end
            local size = tonumber(hex, 16)
            local chunk = { line_pos = p, line_end = eol, size = size, ext = ext, data_pos = nxt }
            m.chunks[#m.chunks + 1] = chunk
            if size == 0 then
                local q = nxt
                while true do
                    local tline, teol, tnxt = read_line(data, q)
                    if not tline then
                        if can_wait then return nil, ONE_MORE end
                        m.truncated = true
                        q = total
                        break
                    end
                    if tline == "" then
                        q = tnxt
                        break
                    end
                    local trailer = parse_header(tline, q, teol)
                    if trailer then
                        m.trailers[#m.trailers + 1] = trailer
                    else
                        m.bad_lines[#m.bad_lines + 1] = { q, teol }
                    end
                    q = tnxt
                end
                chunk.stop = q
                p = q
                break
            end
            local data_end = nxt + size
            if data_end > total then
                -- Not the exact count: TCP would then hand over exactly that many bytes and
                -- drop the rest of the segment, while the message goes on after this chunk.
                if can_wait then return nil, ONE_MORE end
                m.truncated = true
                chunk.data_end = total
                parts[#parts + 1] = data:sub(nxt + 1, total)
                p = total
                break
            end
            chunk.data_end = data_end
            parts[#parts + 1] = data:sub(nxt + 1, data_end)
            local after, _, after_next = read_line(data, data_end)
            if not after then
                if can_wait then return nil, ONE_MORE end
                m.truncated = true
                p = total
                break
            end
            if after ~= "" then
                m.bad_chunk = { data_end, total }
                p = total
                break
            end
            chunk.stop = after_next
            p = after_next
        end
        m.stop = p
        m.dechunked = table.concat(parts)
    elseif clen then
        local stop = body_pos + clen
        if stop > total then
            if can_wait then return nil, stop - total end
            m.truncated = true
            stop = total
        end
        m.stop = stop
        m.body = { body_pos, stop }
    else
        -- Neither Content-Length nor chunked: the body (if any) runs to the next start line
        -- or to the end of the data; responses may instead run until the connection closes.
        if not start.is_request and htcpcp.prefs.until_fin and can_wait then
            return nil, UNTIL_FIN
        end
        local stop = total
        if body_pos < total and m.no_empty_line == nil and starts_message(data, body_pos) then
            stop = body_pos
        elseif body_pos < total then
            stop = find_next_start(data, body_pos, total) or total
            if m.no_empty_line == nil then m.body_without_length = true end
        end
        m.stop = stop
        m.body = { body_pos, stop }
        m.open = stop == total
    end
    return m
end

---------------------------------------------------------------------------------------------
-- Rendering
---------------------------------------------------------------------------------------------

local function add_uri(tree, tvb, base_pos, target, content_type)
    local t = tree:add(hf.uri, tvb(base_pos, #target))
    local rest, rest_pos = target, 1
    local scheme = target:match("^([^:/?#]+):")
    if scheme then
        local item = t:add(hf.uri_scheme, tvb(base_pos, #scheme))
        local language = scheme_language(scheme)
        local decoded = percent_decode(scheme)
        if language then
            if decoded ~= scheme then
                item:append_text(" (" .. decoded .. ", " .. language .. ")")
            else
                item:append_text(" (" .. language .. ")")
            end
        else
            item:add_proto_expert_info(ef.unknown_scheme)
        end
        rest_pos = #scheme + 2
        rest = target:sub(rest_pos)
        if rest:sub(1, 2) == "//" then
            local authority = rest:match("^//([^/?#]*)")
            local apos = base_pos + rest_pos + 1
            local host, port = authority:match("^(.-):(%d+)$")
            host = host or authority
            if host ~= "" then t:add(hf.uri_host, tvb(apos, #host)) end
            if port and tonumber(port) <= 65535 then
                t:add(hf.uri_port, tvb(apos + #host + 1, #port), tonumber(port))
            end
            rest_pos = rest_pos + 2 + #authority
            rest = target:sub(rest_pos)
        end
    elseif target == "*" then
        return
    end
    local path, query = rest:match("^([^?#]*)%??([^#]*)")
    local segments = {}
    for seg_pos, seg in path:gmatch("()([^/]+)") do
        segments[#segments + 1] = { seg_pos, seg }
    end
    local function add_segment(field, entry)
        local pos = base_pos + rest_pos - 1 + entry[1] - 1
        t:add(field, tvb(pos, #entry[2]), percent_decode(entry[2]))
    end
    if #segments >= 2 or (segments[1] and segments[1][2]:match("^[Pp][Oo][Tt]%-%d+$")) then
        add_segment(hf.uri_pot, segments[1])
        if segments[2] then add_segment(hf.uri_variety, segments[2]) end
    elseif segments[1] then
        local tea = (scheme and percent_decode(scheme):lower() == "tea")
            or content_type == "message/teapot"
        add_segment(tea and hf.uri_variety or hf.uri_pot, segments[1])
    end
    if query ~= "" then
        local qpos = base_pos + rest_pos - 1 + #path + 1
        local qt = t:add(hf.uri_query, tvb(qpos, #query))
        local normalised = query:gsub("[&;]", ",")
        for _, item in ipairs(split_items(normalised, ",")) do
            qt:add(hf.uri_addition, tvb(qpos + item[1] - 1, #item[2]), percent_decode(item[2]))
        end
    end
end

local function add_accept_additions(tree, tvb, h)
    local value, vpos = h.value, h.value_pos
    for _, item in ipairs(split_items(value, ",")) do
        local current
        for _, part in ipairs(split_items(item[2], ";")) do
            local ppos = vpos + item[1] - 1 + part[1] - 1
            local pname, pvalue = part[2]:match("^([%w%-_%.]+)%s*=%s*(.-)$")
            if pname and current then
                if pname:lower() == "q" and tonumber(pvalue) then
                    local q = tonumber(pvalue)
                    local qi = current:add(hf.addition_q, tvb(ppos, #part[2]), q)
                    if q == 0 then qi:append_text(" (excluded)") end
                else
                    current:add(hf.addition_param, tvb(ppos, #part[2]))
                end
            else
                -- The first item, or (lab style) another addition after a ";".
                current = tree:add(hf.addition, tvb(ppos, #part[2]))
            end
        end
    end
end

local function add_alternates(tree, tvb, h)
    for upos, uri in h.value:gmatch("{%s*\"()([^\"]*)\"") do
        tree:add(hf.alternate, tvb(h.value_pos + upos - 1, #uri))
    end
end

-- One htcpcp.header item per header, with the header's own field below it when it has one.
local function add_headers(t, tvb, headers)
    for _, h in ipairs(headers) do
        local hi = t:add(hf.header, tvb(h.line_pos, h.line_end - h.line_pos))
        local field = header_fields[h.lname]
        if field then
            local vrange = tvb(h.value_pos, h.line_end - h.value_pos)
            local fi
            if h.lname == "content-length" then
                if h.number then
                    fi = hi:add(field, vrange, h.number)
                else
                    hi:add_proto_expert_info(ef.bad_content_length)
                end
            else
                fi = hi:add(field, vrange, h.value)
            end
            if h.lname == "accept-additions" then add_accept_additions(fi, tvb, h) end
            if h.lname == "alternates" then add_alternates(fi, tvb, h) end
        end
    end
end

local function content_type_of(m)
    for _, h in ipairs(m.headers) do
        if h.lname == "content-type" then
            return h.value:match("^%s*([^;%s]*)"):lower()
        end
    end
    return nil
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

-- Add the message m to the tree and the matching state; rec is its record.
local function render_message(tvb, pinfo, root, m, rec)
    local s = m.start
    local t = root:add(htcpcp, tvb(m.offset, m.stop - m.offset))
    local first_line = tvb(m.offset, s.line_end - m.offset)
    local summary = first_line:string()
    t:append_text(", " .. summary)
    local content_type = content_type_of(m)

    if s.is_request then
        t:add(hf.request, true):set_hidden()
        local lt = t:add(hf.request_line, first_line)
        local mi = lt:add(hf.method, tvb(s.method_pos, #s.method))
        add_uri(lt, tvb, s.target_pos, s.target, content_type)
        local vi = lt:add(hf.request_version, tvb(s.version_pos, #s.version))
        if not known_methods[s.method] then mi:add_proto_expert_info(ef.unknown_method) end
        if s.method == "POST" then mi:add_proto_expert_info(ef.post_deprecated) end
        if not known_versions[s.version] then vi:add_proto_expert_info(ef.unknown_version) end
    else
        t:add(hf.response, true):set_hidden()
        local lt = t:add(hf.status_line, first_line)
        local vi = lt:add(hf.response_version, tvb(s.version_pos, #s.version))
        local ci = lt:add(hf.code, tvb(s.code_pos, 3), s.code)
        lt:add(hf.phrase, tvb(s.phrase_pos, #s.phrase))
        if not known_versions[s.version] then vi:add_proto_expert_info(ef.unknown_version) end
        if s.code == 418 then
            ci:add_proto_expert_info(ef.teapot)
        elseif s.code == 406 then
            local available = (body_bytes(tvb, m) or ""):match("^%s*(.-)%s*$")
            if available ~= "" then
                ci:add_tvb_expert_info(ef.not_acceptable, tvb(s.code_pos, 3),
                    "406 Not Acceptable: the pot cannot supply a requested addition; available: "
                    .. available)
            else
                ci:add_proto_expert_info(ef.not_acceptable)
            end
        elseif s.code >= 400 then
            ci:add_tvb_expert_info(ef.error_status, tvb(s.code_pos, 3),
                "Error status " .. s.code .. " " .. s.phrase)
        end
    end

    add_headers(t, tvb, m.headers)
    for _, r in ipairs(m.bad_lines) do
        t:add(hf.header, tvb(r[1], r[2] - r[1])):add_proto_expert_info(ef.bad_header)
    end
    for _, r in ipairs(m.folded) do
        t:add_tvb_expert_info(ef.folded_header, tvb(r[1], r[2] - r[1]))
    end
    if m.bare_lf then t:add_proto_expert_info(ef.bare_lf) end
    if m.length_and_chunked then t:add_proto_expert_info(ef.length_and_chunked) end
    if m.no_empty_line then
        t:add_tvb_expert_info(ef.no_empty_line, tvb(m.no_empty_line, m.stop - m.no_empty_line))
    end

    -- Body.
    local body_text = body_bytes(tvb, m)
    local body_tvb
    if m.chunked and m.dechunked then
        for _, c in ipairs(m.chunks) do
            local stop = c.stop or c.data_end or c.line_end
            local ci = t:add(hf.chunk_size, tvb(c.line_pos, stop - c.line_pos), c.size)
            if c.ext ~= "" then
                ci:add(hf.chunk_extension, tvb(c.line_end - #c.ext, #c.ext))
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
        local bi = t:add(hf.body, body_tvb())
        bi:add(hf.body_length, #body_text):set_generated()
        if m.body_without_length then bi:add_proto_expert_info(ef.body_without_length) end
        if is_command_word(body_text) then
            t:add(hf.command, body_tvb(), body_text:match("^%s*(%a+)"):lower())
        elseif s.is_request and command_types[content_type or ""]
            and (s.method == "BREW" or s.method == "POST") then
            bi:add_proto_expert_info(ef.bad_command)
        end
    end
    if m.leftover and m.leftover[2] > m.leftover[1] then
        t:add(hf.data, tvb(m.leftover[1], m.leftover[2] - m.leftover[1]))
    end
    if m.truncated then t:add_proto_expert_info(ef.truncated) end

    -- Request/response links.
    if s.is_request then
        if rec.resp then
            t:add(hf.response_in, rec.resp.frame):set_generated()
        end
    else
        local req = rec.req
        if req then
            t:add(hf.request_in, req.frame):set_generated()
            t:add(hf.time, seconds_to_nstime(rec.ts - req.ts)):set_generated()
        else
            t:add_proto_expert_info(ef.unmatched_response)
        end
    end
    if rec.body_in then t:add(hf.body_in, rec.body_in):set_generated() end

    set_info(pinfo, summary)
    if body_tvb then try_media(content_type, body_tvb, pinfo, root) end
end

-- First-pass bookkeeping for a complete message.
local function register_message(pinfo, m, key)
    local rec = st.msgs[key]
    if pinfo.visited or rec then return rec end
    rec = { frame = pinfo.number, ts = pinfo.rel_ts, is_request = m.start.is_request }
    st.msgs[key] = rec
    local cid = connection_id(pinfo)
    local queue = st.pending[cid]
    if not queue then
        queue = {}
        st.pending[cid] = queue
    end
    if m.start.is_request then
        rec.method = m.start.method
        queue[#queue + 1] = rec
    else
        local req = queue[1]
        if req then
            rec.req = req
            if m.start.code >= 200 then
                table.remove(queue, 1)
                req.resp = rec
            end
        end
    end
    st.owners[direction_id(pinfo)] = m.open and rec or nil
    return rec
end

-- Data that does not start a message: a later piece of a length-less body, a malformed start
-- line, the start of a message cut short, or data that is not HTCPCP at all.  `line` is its
-- first line when complete; `cut_short` says the data is an unfinished start line.
local function dissect_orphan(tvb, pinfo, root, data, offset, line, cut_short)
    local total = tvb:len()
    local stop = find_next_start(data, offset, total) or total
    local key = take_key(pinfo)
    local rec = st.msgs[key]
    if not pinfo.visited and not rec then
        local owner = st.owners[direction_id(pinfo)]
        rec = { frame = pinfo.number, owner = owner and owner.frame }
        if owner and not owner.body_in then owner.body_in = pinfo.number end
        st.msgs[key] = rec
    end
    local range = tvb(offset, stop - offset)
    local t = root:add(htcpcp, range)
    if rec and rec.owner then
        t:append_text(", continuation")
        t:add(hf.continuation_of, rec.owner):set_generated()
        local text = range:raw()
        local bi = t:add(hf.body, range)
        bi:add(hf.body_length, #text):set_generated()
        bi:add_proto_expert_info(ef.continuation)
        if is_command_word(text) then
            t:add(hf.command, range, text:match("^%s*(%a+)"):lower())
        end
        set_info(pinfo, "Continuation of frame " .. rec.owner)
    elseif cut_short then
        t:append_text(", incomplete")
        t:add(hf.data, range):add_proto_expert_info(ef.truncated)
        set_info(pinfo, "Incomplete: " .. range:raw())
    elseif line and #line <= MAX_START_LINE
        and (line:match("^%u+ ") or line:match("^" .. VERSION)) then
        t:append_text(", malformed start line")
        t:add(hf.data, range):add_proto_expert_info(ef.bad_start_line)
        set_info(pinfo, "Malformed: " .. line)
    else
        t:append_text(", data")
        t:add(hf.data, range):add_proto_expert_info(ef.not_htcpcp)
        set_info(pinfo, "Continuation or non-HTCPCP data")
    end
    return stop - offset
end

---------------------------------------------------------------------------------------------
-- 6. The dissector: a loop over the Tvb with desegment_offset/desegment_len
---------------------------------------------------------------------------------------------

-- Handle one message (or piece of data) at offset.  Returns bytes consumed, or nil, need.
local function dissect_one(tvb, pinfo, root, data, offset, can_wait)
    local total = tvb:len()
    local line, line_end, next_pos, crlf = read_line(data, offset)
    local start = line and parse_start_line(line, offset)
    local cut_short = false
    if not line then
        local partial = data:sub(offset + 1)
        local owner = not pinfo.visited and st.owners[direction_id(pinfo)]
        local rec = pinfo.visited and st.msgs[peek_key(pinfo)]
        local continuation = (owner or (rec and rec.owner)) and is_command_word(partial)
        cut_short = could_be_start(partial) and not continuation
        if can_wait and cut_short then return nil, ONE_MORE end
    end
    if not start then return dissect_orphan(tvb, pinfo, root, data, offset, line, cut_short) end
    start.line_end = line_end
    start.next_pos = next_pos
    start.crlf = crlf

    -- A response to HEAD, 1xx, 204 and 304 have no body whatever the headers say.
    local no_body = false
    if not start.is_request then
        local code = start.code
        no_body = code < 200 or code == 204 or code == 304
        if not no_body then
            local req
            if pinfo.visited then
                local rec = st.msgs[peek_key(pinfo)]
                req = rec and rec.req
            else
                local queue = st.pending[connection_id(pinfo)]
                req = queue and queue[1]
            end
            no_body = req ~= nil and req.method == "HEAD"
        end
    end

    local m, need = parse_message(data, total, offset, start, can_wait, no_body)
    if not m then return nil, need end
    local key = take_key(pinfo)
    local rec = register_message(pinfo, m, key) or { frame = pinfo.number, ts = pinfo.rel_ts }
    render_message(tvb, pinfo, root, m, rec)
    return m.stop - offset
end

local function dissect_htcpcp(tvb, pinfo, root)
    local total = tvb:len()
    if total == 0 then return 0 end
    local data = tvb:raw()
    local can_wait = htcpcp.prefs.desegment and pinfo.can_desegment > 0
    local offset = 0
    while offset < total do
        -- Empty lines between messages are ignored, as HTTP servers do.
        local blank = data:match("^[\r\n]+", offset + 1)
        if blank then
            offset = offset + #blank
        else
            local consumed, need = dissect_one(tvb, pinfo, root, data, offset, can_wait)
            if not consumed then
                pinfo.desegment_offset = offset
                pinfo.desegment_len = need
                return total -- not 0: TCP asserts if 0 is returned after desegment_len is set
            end
            offset = offset + consumed
        end
    end
    return total
end

local tls_handle = Dissector.get("tls")

-- A TLS handshake record header (type 22, version 3.x).
local function starts_tls(tvb)
    if tvb:len() < 3 then return false end
    local kind, major, minor = tvb:range(0, 1):uint(), tvb:range(1, 1):uint(), tvb:range(2, 1):uint()
    return kind == 22 and major == 3 and minor <= 4
end

-- Entry point for the TCP ports in the preference.  HTCPCP over TLS on such a port (an ssl:
-- endpoint on 5030) goes to the TLS dissector; decrypted data comes back to dissect_htcpcp
-- through the "tls" heuristic below.
local function dissect_port(tvb, pinfo, root)
    local cid = connection_id(pinfo)
    if st.tls[cid] or (not pinfo.visited and starts_tls(tvb)) then
        st.tls[cid] = true
        return tls_handle:call(tvb, pinfo, root)
    end
    return dissect_htcpcp(tvb, pinfo, root)
end

htcpcp.dissector = dissect_port

---------------------------------------------------------------------------------------------
-- 7. Heuristics (other TCP ports, and HTCPCP inside decrypted TLS)
---------------------------------------------------------------------------------------------

local function looks_like_htcpcp(s)
    local line = s:match("^[^\r\n]*")
    if line:match("^HTCPCP[%u%-]*/%d+%.%d+ %d%d%d") then return true end
    local method, target, version = line:match("^(%u+) +(%S+) *(%S*)")
    if not method then
        method = line:match("^(%u+) ")
        return (method == "BREW" or method == "WHEN") and #line < 64 and not s:find("\n")
    end
    if version:match("^HTCPCP") then return true end
    if (method == "BREW" or method == "WHEN") and version:match("^" .. VERSION .. "$") then
        return true
    end
    local scheme = target:match("^([^:/?#]+):")
    return scheme ~= nil and scheme_language(scheme) ~= nil
end

local function heuristic_tcp(tvb, pinfo, root)
    if tvb:len() < 5 or not looks_like_htcpcp(tvb:raw(0, math.min(tvb:len(), 512))) then
        return false
    end
    pinfo.conversation = htcpcp -- the rest of this connection comes straight to us
    dissect_htcpcp(tvb, pinfo, root)
    return true
end

local function heuristic_tls(tvb, pinfo, root)
    if tvb:len() < 5 or not looks_like_htcpcp(tvb:raw(0, math.min(tvb:len(), 512))) then
        return false
    end
    dissect_htcpcp(tvb, pinfo, root)
    return true
end

htcpcp:register_heuristic("tcp", heuristic_tcp)
pcall(function() htcpcp:register_heuristic("tls", heuristic_tls) end)

---------------------------------------------------------------------------------------------
-- 8. Port registration (last: the dissector must exist first)
---------------------------------------------------------------------------------------------

local registered_ports = ""

local function register_ports()
    local tcp_port = DissectorTable.get("tcp.port")
    if registered_ports ~= "" then tcp_port:remove(registered_ports, htcpcp) end
    registered_ports = htcpcp.prefs.tcp_ports
    if registered_ports ~= "" then tcp_port:add(registered_ports, htcpcp) end
end

htcpcp.prefs_changed = register_ports
register_ports()
