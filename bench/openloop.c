/* Open-loop load for `make bench` (bench/openloop.py): payments sent on a fixed Poisson schedule,
 * whatever the answers do, each one's latency counted from the moment the schedule says it is due
 * (so a late answer never delays the next send: no coordinated omission). wrk2 does this but is
 * not packaged on Debian 12; wrk (closed loop) sends each client's next request only after the
 * last answer.
 *
 *   cc -O2 -o openloop openloop.c -lm
 *   PRODUCT=<product id> KEY=<api key> openloop <port> <rate/s> <seconds> <seed> <connections>
 *
 * (The key comes from the environment, as for bench/payment.lua: not on a command line that `ps` shows.)
 * One epoll thread; `connections` kept-alive connections to 127.0.0.1:<port> are opened before
 * the clock starts, more are opened when a payment is due and none is free. The generator proves
 * it kept the schedule: each line says how late its request was actually written (the lag).
 * Prints to stdout, one line per scheduled payment:
 *   <index> <due µs from start> <lag µs> <latency µs from due, -1 if unanswered> <status, 0 if none>
 * and last a line `# cpu_us <user+system> opened <connections opened while running> closed <…>`. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum state { FREE, CONNECTING, SENDING, WAITING, DEAD };

struct connection {
    int fd;
    enum state state;
    long request;    /* the payment in flight, -1 if none */
    char out[1024];  /* the request being written */
    size_t out_length, out_sent;
    char *in;        /* the answer read so far */
    size_t in_length, in_capacity;
};

struct payment {
    int64_t due, sent, done;
    int status;
};

static int port;
static const char *product, *key;
static uint64_t seed;
static int epoll_fd;
static struct connection *connections;
static size_t connection_count, connection_capacity;
static long *free_list; /* indexes of FREE connections, used as a FIFO ring */
static size_t free_head, free_count;
static struct payment *payments;
static long outstanding;
static long opened_while_running, closed_by_peer;

static int64_t now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* xorshift64*: the same seed gives the same schedule. */
static uint64_t random_state;
static double uniform(void) {
    random_state ^= random_state >> 12;
    random_state ^= random_state << 25;
    random_state ^= random_state >> 27;
    return ((random_state * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

static void push_free(long index) {
    free_list[(free_head + free_count) % connection_capacity] = index;
    free_count++;
}

static long pop_free(void) {
    while (free_count > 0) {
        long index = free_list[free_head];
        free_head = (free_head + 1) % connection_capacity;
        free_count--;
        if (connections[index].state == FREE)
            return index;
    }
    return -1;
}

static long open_connection(void) {
    if (connection_count == connection_capacity) {
        fprintf(stderr, "openloop: more than %zu connections\n", connection_capacity);
        exit(2);
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    long index = (long)connection_count++;
    struct connection *c = &connections[index];
    memset(c, 0, sizeof *c);
    c->fd = fd;
    c->request = -1;
    c->state = CONNECTING;
    if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0 && errno != EINPROGRESS)
        die("connect");
    struct epoll_event event = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.u64 = (uint64_t)index};
    if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &event) < 0)
        die("epoll_ctl");
    return index;
}

static void close_connection(long index) {
    struct connection *c = &connections[index];
    close(c->fd);
    c->state = DEAD;
    free(c->in);
    c->in = NULL;
}

static void fail_request(struct connection *c) {
    if (c->request >= 0) {
        payments[c->request].done = -1;
        outstanding--;
        c->request = -1;
    }
}

static void try_send(long index) {
    struct connection *c = &connections[index];
    while (c->out_sent < c->out_length) {
        ssize_t n = write(c->fd, c->out + c->out_sent, c->out_length - c->out_sent);
        if (n < 0) {
            if (errno == EAGAIN) {
                struct epoll_event event = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.u64 = (uint64_t)index};
                epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c->fd, &event);
                return;
            }
            fail_request(c);
            close_connection(index);
            return;
        }
        if (c->out_sent == 0)
            payments[c->request].sent = now_us();
        c->out_sent += (size_t)n;
    }
    c->state = WAITING;
}

static void dispatch(long request) {
    long index = pop_free();
    if (index < 0) {
        index = open_connection();
        opened_while_running++;
    }
    struct connection *c = &connections[index];
    char body[256];
    int body_length = snprintf(body, sizeof body,
                               "{\"producto_id\":%s,\"token_tarjeta\":\"tok_sandbox_paid_open_%llu_%ld\","
                               "\"nombre_cliente\":\"Bench\",\"email_cliente\":\"bench@example.com\"}",
                               product, (unsigned long long)seed, request);
    c->out_length = (size_t)snprintf(c->out, sizeof c->out,
                                     "POST /api/v1/payments/pagar-conekta HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                     "Content-Type: application/json\r\nX-API-Key: %s\r\nContent-Length: %d\r\n\r\n%s",
                                     key, body_length, body);
    c->out_sent = 0;
    c->request = request;
    c->in_length = 0;
    outstanding++;
    if (c->state == FREE) {
        c->state = SENDING;
        try_send(index);
    } else {
        c->state = SENDING; /* CONNECTING: written once the connection is up */
    }
}

static const char *find(const char *haystack, size_t length, const char *needle) {
    return memmem(haystack, length, needle, strlen(needle));
}

/* Whether the answer in c->in is whole (Content-Length or chunked); sets *status and *keep. */
static int answer_complete(struct connection *c, int *status, int *keep) {
    const char *head_end = find(c->in, c->in_length, "\r\n\r\n");
    if (!head_end)
        return 0;
    size_t head_length = (size_t)(head_end - c->in) + 4;
    char head[4096];
    size_t copy = head_length < sizeof head - 1 ? head_length : sizeof head - 1;
    for (size_t i = 0; i < copy; i++)
        head[i] = (char)((c->in[i] >= 'A' && c->in[i] <= 'Z') ? c->in[i] + 32 : c->in[i]);
    head[copy] = 0;
    *status = atoi(head + 9);
    *keep = strstr(head, "\r\nconnection: close") == NULL;
    const char *length_header = strstr(head, "\r\ncontent-length:");
    if (length_header)
        return c->in_length >= head_length + (size_t)atol(length_header + 17);
    if (!strstr(head, "\r\ntransfer-encoding: chunked"))
        return 0; /* read to the end of the connection */
    size_t at = head_length;
    for (;;) {
        const char *line_end = find(c->in + at, c->in_length - at, "\r\n");
        if (!line_end)
            return 0;
        size_t size = strtoul(c->in + at, NULL, 16);
        at = (size_t)(line_end - c->in) + 2;
        if (size == 0)
            return find(c->in + at, c->in_length - at, "\r\n") != NULL; /* no trailers are sent */
        at += size + 2;
        if (at > c->in_length)
            return 0;
    }
}

static void on_readable(long index) {
    struct connection *c = &connections[index];
    for (;;) {
        if (c->in_capacity - c->in_length < 4096) {
            c->in_capacity = c->in_capacity ? c->in_capacity * 2 : 16384;
            c->in = realloc(c->in, c->in_capacity);
            if (!c->in)
                die("realloc");
        }
        ssize_t n = read(c->fd, c->in + c->in_length, c->in_capacity - c->in_length);
        if (n > 0) {
            c->in_length += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EAGAIN)
            break;
        /* The peer closed (an idle kept-alive connection timing out, or an answer cut). */
        if (c->request >= 0)
            closed_by_peer++;
        fail_request(c);
        close_connection(index);
        return;
    }
    if (c->request < 0)
        return;
    int status = 0, keep = 1;
    if (!answer_complete(c, &status, &keep))
        return;
    struct payment *p = &payments[c->request];
    p->done = now_us();
    p->status = status;
    outstanding--;
    c->request = -1;
    c->in_length = 0;
    if (keep) {
        c->state = FREE;
        push_free(index);
    } else {
        close_connection(index);
    }
}

static void on_writable(long index) {
    struct connection *c = &connections[index];
    if (c->state == CONNECTING || c->state == SENDING) {
        int error = 0;
        socklen_t length = sizeof error;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error) {
            fail_request(c);
            close_connection(index);
            return;
        }
    }
    if (c->state == CONNECTING) {
        c->state = FREE;
        push_free(index);
    } else if (c->state == SENDING) {
        try_send(index);
    }
    /* Writable events are wanted only until the connection is up and the request written. */
    struct epoll_event event = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = (uint64_t)index};
    if (c->state == FREE || c->state == WAITING)
        epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c->fd, &event);
}

static void poll_once(int64_t until) {
    struct epoll_event events[512];
    int64_t wait = until - now_us();
    struct timespec timeout = {.tv_sec = wait > 0 ? wait / 1000000 : 0, .tv_nsec = wait > 0 ? (wait % 1000000) * 1000 : 0};
    int n = epoll_pwait2(epoll_fd, events, 512, &timeout, NULL);
    if (n < 0 && errno != EINTR)
        die("epoll_pwait2");
    for (int i = 0; i < n; i++) {
        long index = (long)events[i].data.u64;
        if (connections[index].state == DEAD)
            continue;
        if (events[i].events & EPOLLOUT)
            on_writable(index);
        if (connections[index].state != DEAD && events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            on_readable(index);
    }
}

int main(int argc, char **argv) {
    product = getenv("PRODUCT");
    key = getenv("KEY");
    if (argc != 6 || !product || !key) {
        fprintf(stderr, "usage: PRODUCT=<product id> KEY=<api key> openloop <port> <rate/s> <seconds> <seed> <connections>\n");
        return 2;
    }
    port = atoi(argv[1]);
    double rate = atof(argv[2]);
    double seconds = atof(argv[3]);
    seed = strtoull(argv[4], NULL, 10);
    size_t initial = (size_t)atol(argv[5]);
    random_state = seed * 0x9E3779B97F4A7C15ULL + 1;

    /* The schedule: exponential gaps of mean 1/rate, that is a Poisson process of that rate. */
    size_t capacity = (size_t)(rate * seconds * 1.2) + 64, count = 0;
    payments = calloc(capacity, sizeof *payments);
    double t = 0;
    for (;;) {
        t += -log(1.0 - uniform()) / rate;
        if (t >= seconds)
            break;
        if (count == capacity) {
            capacity *= 2;
            payments = realloc(payments, capacity * sizeof *payments);
        }
        payments[count++] = (struct payment){.due = (int64_t)(t * 1e6)};
    }

    struct rlimit files;
    getrlimit(RLIMIT_NOFILE, &files);
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
    connection_capacity = initial + count + 16;
    connections = calloc(connection_capacity, sizeof *connections);
    free_list = calloc(connection_capacity, sizeof *free_list);
    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (!connections || !free_list || epoll_fd < 0)
        die("setup");

    /* Open the pool before the clock starts: a handshake is not part of any payment's latency. */
    for (size_t i = 0; i < initial; i++)
        open_connection();
    int64_t deadline = now_us() + 10000000;
    while (free_count < initial && now_us() < deadline)
        poll_once(now_us() + 100000);

    struct rusage before;
    getrusage(RUSAGE_SELF, &before);
    int64_t start = now_us();
    size_t next = 0;
    for (size_t i = 0; i < count; i++)
        payments[i].due += start;
    /* Until every payment is sent and answered (or 60 s after the last is due). */
    int64_t give_up = start + (int64_t)(seconds * 1e6) + 60000000;
    while ((next < count || outstanding > 0) && now_us() < give_up) {
        int64_t now = now_us();
        while (next < count && payments[next].due <= now)
            dispatch((long)next++);
        poll_once(next < count ? payments[next].due : now + 100000);
    }
    struct rusage after;
    getrusage(RUSAGE_SELF, &after);
    long cpu_us = (after.ru_utime.tv_sec - before.ru_utime.tv_sec) * 1000000L + (after.ru_utime.tv_usec - before.ru_utime.tv_usec) +
                  (after.ru_stime.tv_sec - before.ru_stime.tv_sec) * 1000000L + (after.ru_stime.tv_usec - before.ru_stime.tv_usec);

    for (size_t i = 0; i < count; i++) {
        struct payment *p = &payments[i];
        long long lag = p->sent ? (long long)(p->sent - p->due) : -1;
        long long latency = p->done > 0 ? (long long)(p->done - p->due) : -1;
        printf("%zu %lld %lld %lld %d\n", i, (long long)(p->due - start), lag, latency, p->done > 0 ? p->status : 0);
    }
    printf("# cpu_us %ld opened %ld closed %ld\n", cpu_us, opened_while_running, closed_by_peer);
    return 0;
}
