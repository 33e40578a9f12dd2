/* The physical limit of nginx + FastCGI on this machine: a minimal threaded libfcgi responder
 * that answers every request with a fixed JSON body (given as a file), no parsing, no database.
 * Benchmarks put it behind the same nginx config as hotspot-pay and compare.
 *
 *   cc -O2 -o c-responder c-responder.c -lfcgi -lpthread
 *   c-responder <socket path> <threads> <body file>
 */
#include <fcgiapp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int listen_fd;
static char *response;
static int response_length;

static void *serve(void *unused) {
    (void)unused;
    FCGX_Request request;
    FCGX_InitRequest(&request, listen_fd, 0);
    while (FCGX_Accept_r(&request) >= 0) {
        FCGX_PutStr(response, response_length, request.out);
        FCGX_Finish_r(&request);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s <socket> <threads> <body file>\n", argv[0]);
        return 2;
    }
    FILE *file = fopen(argv[3], "rb");
    if (!file) { perror("body"); return 1; }
    static char body[65536];
    size_t length = fread(body, 1, sizeof body, file);
    fclose(file);
    response = malloc(length + 256);
    response_length = snprintf(response, 256,
        "Status: 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %zu\r\n\r\n", length);
    memcpy(response + response_length, body, length);
    response_length += (int)length;

    FCGX_Init();
    umask(0);
    listen_fd = FCGX_OpenSocket(argv[1], 1024);
    if (listen_fd < 0) { perror("listen"); return 1; }
    chmod(argv[1], 0666);
    int threads = atoi(argv[2]);
    pthread_t ids[512];
    for (int i = 0; i < threads && i < 512; i++) pthread_create(&ids[i], NULL, serve, NULL);
    for (int i = 0; i < threads && i < 512; i++) pthread_join(ids[i], NULL);
    return 0;
}
