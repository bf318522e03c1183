#include "listen_address.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int listen_address_parse(const char *text, struct sockaddr_storage *address, socklen_t *length,
                         char *problem, size_t problem_size)
{
    memset(address, 0, sizeof *address);
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text || colon[1] == '\0') {
        snprintf(problem, problem_size, "expected ADDRESS:PORT, e.g. 127.0.0.1:9464 or [::1]:9464");
        return -1;
    }
    char *end = NULL;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || port < 1 || port > 65535) {
        snprintf(problem, problem_size, "port \"%s\": expected a number from 1 to 65535", colon + 1);
        return -1;
    }
    char host[64];
    size_t host_length = (size_t)(colon - text);
    if (host_length >= sizeof host) {
        snprintf(problem, problem_size, "address too long");
        return -1;
    }
    memcpy(host, text, host_length);
    host[host_length] = '\0';
    if (host[0] == '[' && host_length >= 2 && host[host_length - 1] == ']') {
        host[host_length - 1] = '\0';
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)address;
        if (inet_pton(AF_INET6, host + 1, &v6->sin6_addr) != 1) {
            snprintf(problem, problem_size, "\"%s\" is not an IPv6 address", host + 1);
            return -1;
        }
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *length = sizeof *v6;
        return 0;
    }
    struct sockaddr_in *v4 = (struct sockaddr_in *)address;
    if (inet_pton(AF_INET, host, &v4->sin_addr) != 1) {
        snprintf(problem, problem_size,
                 "\"%s\" is not an IPv4 address (numeric only; IPv6 goes in brackets)", host);
        return -1;
    }
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    *length = sizeof *v4;
    return 0;
}
