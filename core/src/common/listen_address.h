/*
 * "ADDRESS:PORT" for a TCP listener ([host] metrics_listen): an IPv4
 * literal (127.0.0.1:9464) or a bracketed IPv6 one ([::1]:9464). Numeric
 * only, so reading the config never waits on a name service.
 */
#ifndef DYNSUP_LISTEN_ADDRESS_H
#define DYNSUP_LISTEN_ADDRESS_H

#include <sys/socket.h>

/* Fills *address (and *length). Returns 0, or -1 with a message in
 * `problem` saying what is wrong. */
int listen_address_parse(const char *text, struct sockaddr_storage *address, socklen_t *length,
                         char *problem, size_t problem_size);

#endif
