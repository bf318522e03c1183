/*
 * The control socket server's socket file and peers, against real sockets:
 * its mode, a live or stale socket or other file at its path, unlinking on
 * close, and (as root) SO_PEERCRED deciding who is served
 * (support_control.h runs the loop and the clients).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"
#include "control_socket.h"
#include "log.h"

#include "support_control.h"

/* ---- socket file ------------------------------------------------------- */

static void test_socket_is_created_with_mode_0600(void **state)
{
    struct fixture *f = *state;
    start_server(f, NULL);
    struct stat status;
    assert_int_equal(lstat(f->path, &status), 0);
    assert_true(S_ISSOCK(status.st_mode));
    assert_int_equal(status.st_mode & 07777, 0600);
}

static void test_socket_with_allowed_group_is_mode_0660_in_that_group(void **state)
{
    struct fixture *f = *state;
    struct control_access access = {.has_allow_group = 1, .allow_gid = getegid()};
    start_server(f, &access);
    struct stat status;
    assert_int_equal(lstat(f->path, &status), 0);
    assert_int_equal(status.st_mode & 07777, 0660);
    assert_int_equal(status.st_gid, getegid());
}

static void test_second_server_on_a_live_socket_is_refused(void **state)
{
    struct fixture *f = *state;
    start_server(f, NULL);
    struct control_server *second = NULL;
    struct error_list errors;
    error_list_init(&errors);
    assert_int_equal(start_server_with(f, NULL, &second, &errors), -1);
    assert_null(second);
    assert_int_equal(errors.count, 1);
    assert_non_null(strstr(errors.messages[0], "another dynsup-host is already listening on"));
    assert_non_null(strstr(errors.messages[0], f->path));
    error_list_free(&errors);

    struct client c = client_connect(f); /* the first one still serves */
    client_send_text(f, &c, EMIT("now_1"));
    expect_line(f, &c, echo_line("now_1", 0));
    client_close(&c);
}

/* A plain socket bound at `path`, as another process would leave it. */
static int bind_plain_socket(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    strcpy(address.sun_path, path);
    assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof address), 0);
    return fd;
}

static void test_stale_socket_file_is_replaced(void **state)
{
    struct fixture *f = *state;
    close(bind_plain_socket(f->path)); /* the file stays, nobody listens: a killed host's leftover */

    start_server(f, NULL);
    struct client c = client_connect(f);
    client_send_text(f, &c, EMIT("now_1"));
    expect_line(f, &c, echo_line("now_1", 0));
    client_close(&c);
}

static void test_file_that_is_not_a_socket_is_refused_and_kept(void **state)
{
    struct fixture *f = *state;
    FILE *file = fopen(f->path, "w");
    fputs("precious", file);
    fclose(file);

    struct control_server *server = NULL;
    struct error_list errors;
    error_list_init(&errors);
    assert_int_equal(start_server_with(f, NULL, &server, &errors), -1);
    assert_int_equal(errors.count, 1);
    assert_non_null(strstr(errors.messages[0], "exists and is not a socket"));
    assert_non_null(strstr(errors.messages[0], f->path));
    error_list_free(&errors);

    char content[16] = {0};
    file = fopen(f->path, "r");
    assert_non_null(fgets(content, sizeof content, file));
    fclose(file);
    assert_string_equal(content, "precious");
}

/* A client that finds the file must be able to connect: a script that
 * waits for the socket to exist, or a second host probing whether the
 * path is stale, must never see a bound socket that is not listening yet
 * (the host's first test in CI met ECONNREFUSED that way). */
static void test_the_socket_file_accepts_connections_from_the_moment_it_exists(void **state)
{
    struct fixture *f = *state;
    struct error_list errors;
    error_list_init(&errors);
    struct stat created;
    int listener = control_socket_bind(f->path, NULL, 16, &created, &errors);
    assert_true(listener >= 0);
    assert_int_equal(errors.count, 0);

    struct client client = client_connect(f); /* connect() must succeed: not ECONNREFUSED */

    struct stat named;
    assert_int_equal(lstat(f->path, &named), 0);
    assert_true(named.st_ino == created.st_ino && named.st_dev == created.st_dev);
    assert_int_equal(named.st_mode & 07777, 0600);
    client_close(&client);
    close(listener);
    control_socket_unlink_if_ours(f->path, created.st_dev, created.st_ino);
    error_list_free(&errors); /* teardown's rmdir proves no temporary name was left */
}

/* Two hosts started together both find the path free; the one that comes
 * second must not replace the first one's live socket. */
static void test_a_socket_that_appeared_after_the_check_is_not_replaced(void **state)
{
    struct fixture *f = *state;
    int first = bind_plain_socket(f->path);
    assert_int_equal(listen(first, 4), 0);
    struct stat before;
    assert_int_equal(lstat(f->path, &before), 0);

    struct error_list errors;
    error_list_init(&errors);
    struct stat created;
    assert_int_equal(control_socket_bind(f->path, NULL, 16, &created, &errors), -1);
    assert_int_equal(errors.count, 1);
    assert_non_null(strstr(errors.messages[0], "another dynsup-host is already listening on"));
    assert_non_null(strstr(errors.messages[0], f->path));
    error_list_free(&errors);

    struct stat after;
    assert_int_equal(lstat(f->path, &after), 0);
    assert_true(after.st_ino == before.st_ino);
    close(first);
}

static void test_closing_the_server_unlinks_the_socket_and_disconnects_clients(void **state)
{
    struct fixture *f = *state;
    f->answer_deferred_from_timer = false;
    start_server(f, NULL);
    struct client c = client_connect(f);
    client_send_text(f, &c, EMIT("now_1") EMIT("later_2"));
    expect_line(f, &c, echo_line("now_1", 0));
    wait_for_requests(f, 2);

    control_server_close(f->server, on_server_closed, f);
    answer_deferred_in_reverse(f); /* too late: dropped */
    wait_until_closed(f);
    assert_int_equal(access(f->path, F_OK), -1);
    expect_eof(f, &c);
    client_close(&c);
}

/* ---- peer credentials (root only: needs another uid) ------------------- */

/* Forks a client that runs as uid/gid, sends `request` (may be NULL),
 * shuts down its side and reads to EOF; returns what it read. */
static char *talk_as(struct fixture *f, uid_t uid, gid_t gid, const char *request)
{
    int result[2];
    assert_int_equal(pipe(result), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(result[0]);
        alarm(20);
        if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
            _exit(2);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        strcpy(address.sun_path, f->path);
        if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0)
            _exit(3);
        if (request && write(fd, request, strlen(request)) != (ssize_t)strlen(request))
            _exit(4);
        shutdown(fd, SHUT_WR);
        char buffer[4096];
        ssize_t got;
        while ((got = read(fd, buffer, sizeof buffer)) > 0)
            if (write(result[1], buffer, (size_t)got) != got)
                _exit(5);
        _exit(got == 0 ? 0 : 6);
    }
    close(result[1]);
    fcntl(result[0], F_SETFL, O_NONBLOCK);
    char *text = calloc(1, 8192);
    size_t length = 0;
    start_waiting(f);
    for (;;) {
        ssize_t got = read(result[0], text + length, 8191 - length);
        if (got > 0)
            length += (size_t)got;
        else if (got == 0)
            break;
        else
            pump(f, result[0], POLLIN);
    }
    close(result[0]);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    return text;
}

/* Lets another uid reach the socket file, so that SO_PEERCRED is what
 * decides (as it does when allow_group or a permissive folder let a user in). */
static void open_socket_to_everyone(struct fixture *f)
{
    assert_int_equal(chmod(f->dir, 0711), 0);
    assert_int_equal(chmod(f->path, 0666), 0);
}

static void test_peer_of_another_uid_gets_forbidden_then_eof_and_a_warning(void **state)
{
    struct fixture *f = *state;
    if (geteuid() != 0)
        skip();
    start_server(f, NULL);
    open_socket_to_everyone(f);
    char log_path[128];
    snprintf(log_path, sizeof log_path, "%s/log", f->dir);
    int log_fd = open(log_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    log_set_fd(log_fd);

    char *text = talk_as(f, 65534, 65534, NULL);
    log_set_fd(STDERR_FILENO);
    assert_string_equal(text, "{\"result\":\"error\",\"error\":\"forbidden\"}\n");
    free(text);

    char logged[1024] = {0};
    assert_true(pread(log_fd, logged, sizeof logged - 1, 0) > 0);
    close(log_fd);
    unlink(log_path);
    assert_non_null(strstr(logged, "warning"));
    assert_non_null(strstr(logged, "uid 65534 pid "));
    assert_ptr_equal(strchr(logged, '\n'), logged + strlen(logged) - 1); /* one line */
    assert_int_equal(f->requests_seen, 0);
}

static void test_peer_listed_in_allow_uids_is_served(void **state)
{
    struct fixture *f = *state;
    uid_t allowed[] = {12345, 65534};
    struct control_access access = {.allow_uids = allowed, .allow_uid_count = 2};
    if (geteuid() != 0)
        skip();
    start_server(f, &access);
    open_socket_to_everyone(f);
    char *text = talk_as(f, 65534, 65534, EMIT("now_1"));
    char *expected = echo_line("now_1", 0);
    assert_string_equal(text, expected);
    free(expected);
    free(text);
}

static void test_peer_whose_group_is_the_allowed_group_is_served(void **state)
{
    struct fixture *f = *state;
    struct control_access access = {.has_allow_group = 1, .allow_gid = 4242};
    if (geteuid() != 0)
        skip();
    start_server(f, &access);
    open_socket_to_everyone(f);
    char *text = talk_as(f, 65534, 4242, EMIT("now_1"));
    char *expected = echo_line("now_1", 0);
    assert_string_equal(text, expected);
    free(expected);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        TEST(test_socket_is_created_with_mode_0600),
        TEST(test_socket_with_allowed_group_is_mode_0660_in_that_group),
        TEST(test_second_server_on_a_live_socket_is_refused),
        TEST(test_stale_socket_file_is_replaced),
        TEST(test_file_that_is_not_a_socket_is_refused_and_kept),
        TEST(test_the_socket_file_accepts_connections_from_the_moment_it_exists),
        TEST(test_a_socket_that_appeared_after_the_check_is_not_replaced),
        TEST(test_closing_the_server_unlinks_the_socket_and_disconnects_clients),
        TEST(test_peer_of_another_uid_gets_forbidden_then_eof_and_a_warning),
        TEST(test_peer_listed_in_allow_uids_is_served),
        TEST(test_peer_whose_group_is_the_allowed_group_is_served),
#undef TEST
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
