/*
 * nativeserver.c - a single-threaded epoll server that answers every request head with a canned
 * HTCPCP response. It is not a pot: the harness uses it only to measure how many requests per
 * second the load generator can drive, to show the load generator is faster than the Twisted
 * servers it measures. Request bodies are not supported (use it with GET requests only).
 *
 * usage: nativeserver PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char RESPONSE[] = "HTCPCP/1.1 200 OK\r\nServer: nativeserver\r\nContent-Type: application/json\r\n"
                               "Content-Length: 2\r\n\r\n{}";

typedef struct {
    int fd;
    int matched; /* bytes of "\r\n\r\n" matched at the end of what was read */
    char *out;
    size_t outlen, outcap;
} client_t;

static void die(const char *what) {
    perror(what);
    exit(2);
}

static void queue_responses(client_t *c, unsigned count) {
    size_t need = c->outlen + count * (sizeof RESPONSE - 1);
    if (need > c->outcap) {
        c->outcap = need * 2;
        c->out = realloc(c->out, c->outcap);
        if (c->out == NULL) die("realloc");
    }
    for (unsigned i = 0; i < count; i++) {
        memcpy(c->out + c->outlen, RESPONSE, sizeof RESPONSE - 1);
        c->outlen += sizeof RESPONSE - 1;
    }
}

/* Returns -1 when the client must be dropped. */
static int on_readable(int epfd, client_t *c) {
    char buf[65536];
    ssize_t n = recv(c->fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return -1;
    unsigned heads = 0;
    for (ssize_t i = 0; i < n; i++) {
        char want = (c->matched % 2 == 0) ? '\r' : '\n';
        if (buf[i] == want) c->matched++;
        else c->matched = buf[i] == '\r' ? 1 : 0;
        if (c->matched == 4) {
            heads++;
            c->matched = 0;
        }
    }
    if (heads == 0) return 0;
    queue_responses(c, heads);
    ssize_t w = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN) return -1;
    if (w > 0) {
        memmove(c->out, c->out + w, c->outlen - (size_t)w);
        c->outlen -= (size_t)w;
    }
    struct epoll_event ev = {.events = EPOLLIN | (c->outlen ? EPOLLOUT : 0), .data.ptr = c};
    return epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static int on_writable(int epfd, client_t *c) {
    ssize_t w = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL);
    if (w < 0) return errno == EAGAIN ? 0 : -1;
    memmove(c->out, c->out + w, c->outlen - (size_t)w);
    c->outlen -= (size_t)w;
    if (c->outlen) return 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    return epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: nativeserver PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 1024) < 0) die("bind/listen");
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0) die("epoll");
    struct epoll_event events[256];
    for (;;) {
        int n = epoll_wait(epfd, events, 256, -1);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            client_t *c = events[i].data.ptr;
            if (c == NULL) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    client_t *nc = calloc(1, sizeof *nc);
                    if (nc == NULL) die("calloc");
                    nc->fd = fd;
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
                    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
                }
                continue;
            }
            int rc = 0;
            if (events[i].events & EPOLLOUT) rc = on_writable(epfd, c);
            if (rc == 0 && events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) rc = on_readable(epfd, c);
            if (rc < 0) {
                close(c->fd);
                free(c->out);
                free(c);
            }
        }
    }
}
