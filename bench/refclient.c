/*
 * The benchmark's reference for "added latency" (bench/bench.py builds and
 * runs it): a minimal HTTP/1.1 client on one kept-alive TCP connection
 * (TCP_NODELAY, as libcurl sets it) that sends the POST /carrier
 * qxt_carrier sends -- the same headers and form body -- and reads the
 * answer by its Content-Length, nothing more.  Its time per call is the
 * emulator's own latency plus the loopback round trip and a microsecond or
 * two of its own: about the least any client can take.
 *
 *   refclient HOST PORT PATH KEY
 *
 * PATH is the base path ("" or "/_fault/..."), KEY the apikey.  Reads one
 * number per line on stdin; for each, sends the request and prints
 * "NANOSECONDS OK" (OK 1 when the answer was HTTP 200 with "code":0), and
 * flushes.  Only the exchange on the socket is timed.  Exit 1 when the
 * connection fails or closes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 16];
static size_t have; /* bytes in buf (a pipelined rest; never, in practice) */

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

/* Form-encodes s (the key and numbers are ASCII letters and digits; escape
 * anything else anyway). */
static size_t form(char *out, const char *s) {
    size_t n = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            c == '-' || c == '_' || c == '.' || c == '~')
            out[n++] = (char)c;
        else
            n += (size_t)sprintf(out + n, "%%%02X", c);
    }
    out[n] = 0;
    return n;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: refclient HOST PORT PATH KEY\n");
        return 2;
    }
    const char *host = argv[1], *path = argv[3];
    int port = atoi(argv[2]);
    char key[256];
    if (strlen(argv[4]) > 80) {
        fprintf(stderr, "key too long\n");
        return 2;
    }
    form(key, argv[4]);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "not an IPv4 address: %s\n", host);
        return 2;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    char line[128], mobile[128], body[512], req[2048];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!*line) continue;
        form(mobile, line);
        int blen = snprintf(body, sizeof body, "apikey=%s&mobile=%s", key, mobile);
        int rlen = snprintf(req, sizeof req,
                            "POST %s/carrier HTTP/1.1\r\nHost: %s:%d\r\n"
                            "User-Agent: qxt_portability/1.0\r\n"
                            "Content-Type: application/x-www-form-urlencoded\r\n"
                            "Accept: application/json\r\nContent-Length: %d\r\n\r\n%s",
                            path, host, port, blen, body);

        long long t0 = now_ns();
        for (int off = 0; off < rlen;) {
            ssize_t w = send(fd, req + off, (size_t)(rlen - off), MSG_NOSIGNAL);
            if (w <= 0) die("send");
            off += (int)w;
        }
        char *end;
        buf[have] = 0;
        while (!(end = strstr(buf, "\r\n\r\n"))) {
            if (have >= sizeof buf - 1) { fprintf(stderr, "header too long\n"); return 1; }
            ssize_t r = recv(fd, buf + have, sizeof buf - 1 - have, 0);
            if (r <= 0) die("recv (header)");
            have += (size_t)r;
            buf[have] = 0;
        }
        size_t head = (size_t)(end - buf) + 4;
        long clen = -1;
        for (char *p = buf; p < end; p++) {
            if ((p == buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0) {
                clen = strtol(p + 15, NULL, 10);
                break;
            }
        }
        if (clen < 0 || head + (size_t)clen > sizeof buf - 1) {
            fprintf(stderr, "no usable Content-Length\n");
            return 1;
        }
        while (have < head + (size_t)clen) {
            ssize_t r = recv(fd, buf + have, sizeof buf - 1 - have, 0);
            if (r <= 0) die("recv (body)");
            have += (size_t)r;
        }
        long long t1 = now_ns();

        char saved = buf[head + (size_t)clen];
        buf[head + (size_t)clen] = 0;
        int ok = strncmp(buf, "HTTP/1.1 200", 12) == 0 && strstr(buf + head, "\"code\":0") != NULL;
        buf[head + (size_t)clen] = saved;
        size_t rest = have - head - (size_t)clen;
        memmove(buf, buf + head + (size_t)clen, rest);
        have = rest;
        printf("%lld %d\n", t1 - t0, ok);
        fflush(stdout);
    }
    return 0;
}
