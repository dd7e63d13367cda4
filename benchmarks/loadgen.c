/*
 * loadgen.c - a single-threaded epoll load generator for HTCPCP and HTTP/1.x servers.
 *
 * Part of the htcpcp benchmark harness (benchmarks/run.py compiles it with gcc at run time).
 * It is written in C so that the client is never the bottleneck: one core of it drives several
 * times more requests per second than a Twisted server answers on one core.
 *
 * Run mode (default): keep -c connections busy for -t seconds (or until -n responses), after a
 * -w second warm-up that is not counted, and print one JSON line:
 *   {"mode":"run","rps":...,"p50_us":...,"p99_us":...,"errors":...,"non2xx":...,"cpu":...}
 * "cpu" is the fraction of one core the load generator itself used; "ok_total" counts every 2xx
 * answer, warm-up and drain included (what the server acknowledged). After the measured time it
 * stops counting, waits for the answers in flight and finishes every request sequence it started
 * (so a BREW start is always followed by its stop); "undrained" counts connections still busy 5 s
 * later.
 *
 *   -p PORT        server port (required)          -a ADDR   IPv4 address (127.0.0.1)
 *   -c N           concurrent connections (1)      -d DEPTH  requests in flight per connection (1)
 *   -t SECONDS     measured duration               -n TOTAL  stop after TOTAL counted responses
 *   -w SECONDS     warm-up before measuring (0)
 *   -f             fresh mode: one request per connection, then close and reconnect; the latency
 *                  includes the TCP handshake
 *   -r REQUEST     request bytes with C escapes (\r \n \t \\ \xHH); repeat -r to send a sequence
 *                  (each connection cycles through it in order, e.g. BREW start, BREW stop)
 *   -g GROUPS      split the -r sequence into GROUPS equal parts; connection i cycles through part
 *                  i % GROUPS only (e.g. each connection brewing on a pot of its own)
 *   -i             hold mode: open -c connections (sending the first -r request once on each, if
 *                  given, and reading its response), print {"mode":"hold","open":...}, keep them
 *                  idle until standard input is closed, then print {"closed_by_server":...}
 *
 * A response is a success when its status line is HTCPCP/1.x, HTCPCP-TEA/1.x or HTTP/1.x with a
 * 2xx code. Bodies are framed by Content-Length, chunked transfer coding or the end of the
 * connection. Connection errors, malformed responses and connections closed with requests in
 * flight count as errors (the connection is then reopened).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEAD 65536
#define HOLD_PENDING 64 /* connections being set up at once in hold mode */

enum phase { HEAD, BODY, CHUNK_SIZE, CHUNK_DATA, CHUNK_CRLF, TRAILER, UNTIL_CLOSE };

typedef struct {
    char *data;
    size_t len;
} request_t;

typedef struct {
    int fd;             /* -1 when closed */
    int connected;      /* TCP handshake done */
    int connect_failed; /* connect() failed at once */
    int want_out;       /* EPOLLOUT is in the interest set */
    int ready;          /* hold mode: set up and idle */
    size_t seq;         /* index of the next request of the sequence */
    size_t first;       /* the connection's part of the sequence: its first request */
    unsigned sent_here; /* requests sent on this connection */
    unsigned inflight;  /* requests sent and not yet answered */
    unsigned head;      /* ring index of the oldest in-flight request */
    uint64_t *sent_at;  /* ring of send times (ns), one per pipeline slot */
    uint64_t opened_at; /* connect() time (ns) */
    char *wbuf;
    size_t wlen, woff, wcap;
    char *rbuf;
    size_t rlen, roff, rcap;
    enum phase phase;
    int status;
    int close_after; /* the response said Connection: close */
    uint64_t remaining;
} conn_t;

static struct sockaddr_in server_addr;
static request_t *requests;
static size_t nrequests, groups = 1, per_group; /* per_group = nrequests / groups */
static unsigned depth = 1;
static int fresh, hold;
static int epfd;

static uint64_t *samples;
static size_t nsamples, samples_cap;
static uint64_t counted, errors, non2xx, reconnects, ok_total;
static uint64_t measure_from; /* responses completing before this time (ns) are not counted */
static int measuring_over;    /* set when the run is over: finish sequences, count nothing */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (q == NULL) die("realloc");
    return q;
}

static int hexval(int ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Decode \r \n \t \\ \xHH escapes. */
static request_t unescape(const char *s) {
    size_t n = strlen(s), o = 0;
    char *out = xrealloc(NULL, n + 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 == n) {
            out[o++] = s[i];
            continue;
        }
        char e = s[++i];
        if (e == 'r') out[o++] = '\r';
        else if (e == 'n') out[o++] = '\n';
        else if (e == 't') out[o++] = '\t';
        else if (e == 'x' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else out[o++] = e;
    }
    return (request_t){out, o};
}

static void record(uint64_t latency) {
    if (nsamples == samples_cap) {
        samples_cap = samples_cap ? samples_cap * 2 : 65536;
        samples = xrealloc(samples, samples_cap * sizeof *samples);
    }
    samples[nsamples++] = latency;
}

static void set_interest(conn_t *c, int out) {
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
    c->want_out = out;
}

static void conn_open(conn_t *c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->connected = c->connect_failed = c->ready = 0;
    c->sent_here = c->inflight = c->head = 0;
    c->wlen = c->woff = c->rlen = c->roff = 0;
    c->phase = HEAD;
    c->close_after = 0;
    c->opened_at = now_ns();
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    c->want_out = 1;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
    if (connect(c->fd, (struct sockaddr *)&server_addr, sizeof server_addr) < 0 && errno != EINPROGRESS) {
        c->connect_failed = 1; /* reported when epoll signals the socket */
    }
}

static void conn_close(conn_t *c) {
    if (c->fd >= 0) close(c->fd); /* closing removes it from the epoll set */
    c->fd = -1;
}

/* Queue requests until the pipeline is full (fresh and hold mode: one per connection). */
static void fill(conn_t *c, uint64_t now) {
    if (nrequests == 0) return;
    while (c->inflight < depth && !((fresh || hold) && c->sent_here >= 1) &&
           !(measuring_over && c->seq % per_group == 0)) {
        request_t *r = &requests[c->first + c->seq % per_group];
        if (c->wlen + r->len > c->wcap) {
            c->wcap = (c->wlen + r->len) * 2;
            c->wbuf = xrealloc(c->wbuf, c->wcap);
        }
        memcpy(c->wbuf + c->wlen, r->data, r->len);
        c->wlen += r->len;
        c->sent_at[(c->head + c->inflight) % depth] = fresh ? c->opened_at : now;
        c->inflight++;
        c->sent_here++;
        c->seq++;
    }
}

/* Write what is queued; returns -1 on a connection error. */
static int flush(conn_t *c) {
    while (c->woff < c->wlen) {
        ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!c->want_out) set_interest(c, 1);
                return 0;
            }
            if (errno == EINTR) continue;
            return -1;
        }
        c->woff += (size_t)n;
    }
    c->wlen = c->woff = 0;
    if (c->want_out) set_interest(c, 0);
    return 0;
}

/* A whole response has been read. */
static void complete(conn_t *c, uint64_t now) {
    uint64_t started = c->sent_at[c->head];
    c->head = (c->head + 1) % depth;
    c->inflight--;
    if (c->status >= 200 && c->status <= 299) ok_total++;
    if (now >= measure_from && !measuring_over) {
        counted++;
        record(now - started);
        if (c->status < 200 || c->status > 299) non2xx++;
    }
    c->phase = HEAD;
}

static int starts_with_ci(const char *p, const char *end, const char *prefix) {
    size_t n = strlen(prefix);
    return (size_t)(end - p) >= n && strncasecmp(p, prefix, n) == 0;
}

/* Parse a status line and headers in [p, end); returns -1 if malformed. */
static int parse_head(conn_t *c, const char *p, const char *end) {
    const char *slash = NULL;
    if (starts_with_ci(p, end, "HTCPCP/1.")) slash = p + 7;
    else if (starts_with_ci(p, end, "HTCPCP-TEA/1.")) slash = p + 11;
    else if (starts_with_ci(p, end, "HTTP/1.")) slash = p + 5;
    if (slash == NULL || end - slash < 8 || slash[3] != ' ') return -1;
    const char *code = slash + 4;
    if (code[0] < '1' || code[0] > '5' || code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9')
        return -1;
    c->status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
    int has_length = 0, chunked = 0;
    uint64_t length = 0;
    const char *line = memchr(p, '\n', (size_t)(end - p));
    while (line != NULL && ++line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (eol == NULL) eol = end;
        if (starts_with_ci(line, eol, "content-length:")) {
            char *stop;
            length = strtoull(line + 15, &stop, 10);
            has_length = 1;
        } else if (starts_with_ci(line, eol, "transfer-encoding:")) {
            chunked = memmem(line, (size_t)(eol - line), "chunked", 7) != NULL;
        } else if (starts_with_ci(line, eol, "connection:")) {
            c->close_after = memmem(line, (size_t)(eol - line), "close", 5) != NULL;
        }
        line = eol;
    }
    if (c->status < 200 || c->status == 204 || c->status == 304) c->phase = HEAD;
    else if (chunked) c->phase = CHUNK_SIZE;
    else if (has_length) {
        c->remaining = length;
        c->phase = BODY;
    } else c->phase = UNTIL_CLOSE;
    return 0;
}

/* Consume complete responses from the read buffer; returns -1 on a protocol error. */
static int parse(conn_t *c, uint64_t now) {
    for (;;) {
        char *p = c->rbuf + c->roff;
        size_t avail = c->rlen - c->roff;
        switch (c->phase) {
        case HEAD: {
            if (avail == 0) return 0;
            char *end = memmem(p, avail, "\r\n\r\n", 4);
            if (end == NULL) return avail > MAX_HEAD ? -1 : 0;
            if (c->inflight == 0 || parse_head(c, p, end + 2) < 0) return -1;
            c->roff += (size_t)(end + 4 - p);
            if (c->phase == HEAD) complete(c, now);
            break;
        }
        case BODY:
        case CHUNK_DATA: {
            size_t take = avail < c->remaining ? avail : (size_t)c->remaining;
            c->roff += take;
            c->remaining -= take;
            if (c->remaining > 0) return 0;
            if (c->phase == BODY) complete(c, now);
            else c->phase = CHUNK_CRLF;
            break;
        }
        case CHUNK_CRLF:
            if (avail < 2) return 0;
            if (p[0] != '\r' || p[1] != '\n') return -1;
            c->roff += 2;
            c->phase = CHUNK_SIZE;
            break;
        case CHUNK_SIZE:
        case TRAILER: {
            char *eol = memmem(p, avail, "\r\n", 2);
            if (eol == NULL) return avail > MAX_HEAD ? -1 : 0;
            c->roff += (size_t)(eol + 2 - p);
            if (c->phase == TRAILER) {
                if (eol == p) complete(c, now);
            } else {
                char *stop;
                c->remaining = strtoull(p, &stop, 16);
                if (stop == p) return -1;
                c->phase = c->remaining ? CHUNK_DATA : TRAILER;
            }
            break;
        }
        case UNTIL_CLOSE:
            c->roff = c->rlen;
            return 0;
        }
        if (c->phase == HEAD && (c->close_after || fresh)) return 0;
    }
}

static void conn_restart(conn_t *c, int failed) {
    if (failed) errors++;
    else if (!fresh) reconnects++;
    conn_close(c);
    if (!measuring_over || c->seq % per_group != 0) conn_open(c);
}

/* Read what is available; returns 1 at end of stream, -1 on error, 0 otherwise. */
static int read_some(conn_t *c) {
    if (c->rlen == c->rcap) {
        if (c->roff > 0) {
            memmove(c->rbuf, c->rbuf + c->roff, c->rlen - c->roff);
            c->rlen -= c->roff;
            c->roff = 0;
        } else {
            c->rcap = c->rcap ? c->rcap * 2 : 4096;
            c->rbuf = xrealloc(c->rbuf, c->rcap);
        }
    }
    ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
    if (n < 0) return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
    if (n == 0) return 1;
    c->rlen += (size_t)n;
    return 0;
}

static int connect_done(conn_t *c) {
    int err = 0;
    socklen_t len = sizeof err;
    if (c->connect_failed || getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) return -1;
    c->connected = 1;
    return 0;
}

/* Run mode: one epoll event for connection c. */
static void on_event(conn_t *c, uint32_t events, uint64_t now) {
    if (!c->connected) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        if (connect_done(c) < 0) {
            conn_restart(c, 1);
            return;
        }
        fill(c, now);
        if (flush(c) < 0) conn_restart(c, 1);
        return;
    }
    if (events & EPOLLOUT && flush(c) < 0) {
        conn_restart(c, 1);
        return;
    }
    if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
    int r = read_some(c);
    if (r < 0) {
        conn_restart(c, 1);
        return;
    }
    if (parse(c, now) < 0) {
        conn_restart(c, 1);
        return;
    }
    if (r == 1) {
        if (c->phase == UNTIL_CLOSE) complete(c, now);
        conn_restart(c, c->inflight > 0 || (c->phase != HEAD));
        return;
    }
    if (c->roff == c->rlen) c->rlen = c->roff = 0;
    if (c->phase == HEAD && (c->close_after || (fresh && c->inflight == 0))) {
        conn_restart(c, 0);
        return;
    }
    fill(c, now);
    if (flush(c) < 0) conn_restart(c, 1);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static double percentile_us(double q) {
    if (nsamples == 0) return 0.0;
    size_t i = (size_t)(q * (double)(nsamples - 1) + 0.5);
    return (double)samples[i] / 1000.0;
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
}

static void run(conn_t *conns, unsigned nconns, double seconds, uint64_t total, double warmup) {
    struct epoll_event events[256];
    uint64_t start = now_ns();
    double cpu_start = cpu_seconds();
    measure_from = start + (uint64_t)(warmup * 1e9);
    uint64_t deadline = seconds > 0 ? measure_from + (uint64_t)(seconds * 1e9) : UINT64_MAX;
    for (unsigned i = 0; i < nconns; i++) conn_open(&conns[i]);
    uint64_t now = start;
    while (now < deadline && (total == 0 || counted < total)) {
        int timeout = deadline == UINT64_MAX ? 1000 : (int)((deadline - now) / 1000000u) + 1;
        int n = epoll_wait(epfd, events, 256, timeout);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        now = now_ns();
        for (int i = 0; i < n; i++) on_event(events[i].data.ptr, events[i].events, now);
    }
    measuring_over = 1;
    double wall = (double)(now - start) / 1e9;
    double measured = (double)(now - measure_from) / 1e9;
    double cpu = (cpu_seconds() - cpu_start) / wall;
    uint64_t counted_errors = errors;
    /* Drain: wait for the answers in flight and finish every started request sequence (a BREW
       start is always followed by its stop), so the server is idle and in its initial state. */
    uint64_t drain_deadline = now + 5000000000u;
    unsigned undrained;
    for (;;) {
        undrained = 0;
        for (unsigned i = 0; i < nconns; i++)
            if (conns[i].fd >= 0 && (conns[i].inflight > 0 || conns[i].seq % per_group != 0)) undrained++;
        if (undrained == 0 || now >= drain_deadline) break;
        int n = epoll_wait(epfd, events, 256, 100);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        now = now_ns();
        for (int i = 0; i < n; i++) on_event(events[i].data.ptr, events[i].events, now);
    }
    qsort(samples, nsamples, sizeof *samples, cmp_u64);
    printf("{\"mode\":\"run\",\"connections\":%u,\"depth\":%u,\"fresh\":%s,\"seconds\":%.3f,"
           "\"requests\":%llu,\"rps\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,"
           "\"max_us\":%.1f,\"errors\":%llu,\"non2xx\":%llu,\"reconnects\":%llu,\"cpu\":%.3f,"
           "\"undrained\":%u,\"ok_total\":%llu}\n",
           nconns, depth, fresh ? "true" : "false", measured, (unsigned long long)counted,
           measured > 0 ? (double)counted / measured : 0.0, percentile_us(0.50), percentile_us(0.90),
           percentile_us(0.99), percentile_us(1.0), (unsigned long long)counted_errors,
           (unsigned long long)non2xx, (unsigned long long)reconnects, cpu, undrained,
           (unsigned long long)ok_total);
}

/* Hold mode: one epoll event for connection c while setting up or holding. */
static int hold_event(conn_t *c, uint32_t events, uint64_t now) {
    if (!c->connected) {
        if (connect_done(c) < 0) return -1;
        fill(c, now);
        if (flush(c) < 0) return -1;
        if (nrequests == 0) c->ready = 1;
        return 0;
    }
    if (events & EPOLLOUT && flush(c) < 0) return -1;
    if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP))) return 0;
    if (read_some(c) != 0 || parse(c, now) < 0) return -1;
    if (c->roff == c->rlen) c->rlen = c->roff = 0;
    if (!c->ready && c->inflight == 0 && c->phase == HEAD) c->ready = 1;
    return 0;
}

static void hold_mode(conn_t *conns, unsigned nconns, double seconds) {
    struct epoll_event events[256];
    uint64_t start = now_ns();
    uint64_t deadline = start + (uint64_t)((seconds > 0 ? seconds : 120.0) * 1e9);
    unsigned next = 0, ready = 0, failed = 0;
    measure_from = 0;
    while (ready + failed < nconns && now_ns() < deadline) {
        while (next < nconns && next - ready - failed < HOLD_PENDING) conn_open(&conns[next++]);
        int n = epoll_wait(epfd, events, 256, 100);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        uint64_t now = now_ns();
        for (int i = 0; i < n; i++) {
            conn_t *c = events[i].data.ptr;
            if (c->fd < 0) continue;
            int was_ready = c->ready;
            if (hold_event(c, events[i].events, now) < 0) {
                conn_close(c);
                if (was_ready) ready--;
                failed++;
            } else if (c->ready && !was_ready) ready++;
        }
    }
    printf("{\"mode\":\"hold\",\"requested\":%u,\"open\":%u,\"errors\":%u,\"non2xx\":%llu,\"seconds\":%.3f}\n",
           nconns, ready, failed + (nconns - next), (unsigned long long)non2xx, (double)(now_ns() - start) / 1e9);
    fflush(stdout);
    measuring_over = 1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev) < 0) die("epoll_ctl stdin");
    unsigned closed = 0;
    for (;;) {
        int n = epoll_wait(epfd, events, 256, -1);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            conn_t *c = events[i].data.ptr;
            if (c == NULL) {
                char buf[256];
                if (read(0, buf, sizeof buf) <= 0) {
                    printf("{\"closed_by_server\":%u}\n", closed);
                    return;
                }
            } else if (c->fd >= 0) {
                int r = read_some(c);
                c->rlen = c->roff = 0;
                if (r != 0) {
                    conn_close(c);
                    closed++;
                }
            }
        }
    }
}

static void usage(void) {
    fprintf(stderr, "usage: loadgen -p PORT [-a ADDR] [-c CONNS] (-t SECONDS | -n TOTAL) [-w WARMUP]\n"
                    "               [-d DEPTH] [-f] [-i] [-g GROUPS] -r REQUEST [-r REQUEST ...]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *addr = "127.0.0.1";
    int port = 0;
    unsigned nconns = 1;
    double seconds = 0, warmup = 0;
    uint64_t total = 0;
    int opt;
    while ((opt = getopt(argc, argv, "p:a:c:t:n:w:d:r:g:fi")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'a': addr = optarg; break;
        case 'c': nconns = (unsigned)strtoul(optarg, NULL, 10); break;
        case 't': seconds = atof(optarg); break;
        case 'n': total = strtoull(optarg, NULL, 10); break;
        case 'w': warmup = atof(optarg); break;
        case 'd': depth = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'f': fresh = 1; break;
        case 'i': hold = 1; break;
        case 'g': groups = (size_t)strtoul(optarg, NULL, 10); break;
        case 'r':
            requests = xrealloc(requests, (nrequests + 1) * sizeof *requests);
            requests[nrequests++] = unescape(optarg);
            break;
        default: usage();
        }
    }
    if (port <= 0 || nconns == 0 || depth == 0 || (!hold && (nrequests == 0 || (seconds <= 0 && total == 0))))
        usage();
    if (groups == 0 || (nrequests && nrequests % groups != 0)) usage();
    per_group = nrequests ? nrequests / groups : 1;
    if (fresh) depth = 1;
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    server_addr.sin_family = AF_INET;
    server_addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &server_addr.sin_addr) != 1) usage();
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) die("epoll_create1");
    conn_t *conns = calloc(nconns, sizeof *conns);
    if (conns == NULL) die("calloc");
    for (unsigned i = 0; i < nconns; i++) {
        conns[i].fd = -1;
        conns[i].sent_at = xrealloc(NULL, depth * sizeof(uint64_t));
        conns[i].first = (i % groups) * per_group;
    }
    if (hold) hold_mode(conns, nconns, seconds);
    else run(conns, nconns, seconds, total, warmup);
    return 0;
}
