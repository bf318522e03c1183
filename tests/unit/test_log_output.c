/*
 * The host's log output never blocks (issue 9 item 9): into a pipe that
 * nobody reads, log lines are kept in a bounded backlog and then dropped
 * and counted, never waited for; once the reader catches up, the backlog
 * goes out in order and one line says how many lines were dropped.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* Should a write block after all, SIGALRM ends the test as failed. */
#define NO_HANG_SECONDS 20

static char *read_everything(int fd)
{
    size_t size = 0, used = 0;
    char *text = NULL;
    for (;;) {
        if (used + 65536 + 1 > size) {
            size = (used + 65536 + 1) * 2;
            text = realloc(text, size);
            assert_non_null(text);
        }
        ssize_t got = read(fd, text + used, 65536);
        if (got <= 0)
            break;
        used += (size_t)got;
    }
    text[used] = '\0';
    return text;
}

/* ends[0] is read by the test, ends[1] is the log's. */
static void stall_then_catch_up(int ends[2])
{
    log_set_fd(ends[1]);
    assert_int_equal(log_use_nonblocking_output(), 0);
    alarm(NO_HANG_SECONDS);
    /* 20,000 lines of ~100 bytes: 2 MB, far over a 64 KiB pipe and the
     * backlog; none of these calls may wait for the reader. */
    for (int i = 0; i < 20000; i++)
        log_event(DYNSUP_LOG_INFO, "sup", "child", 42, "line %05d %s", i,
                  "................................................");
    alarm(0);
    assert_true(log_flush()); /* still owed: the reader has not read */

    /* The reader catches up: what was kept goes out, then the count. */
    fcntl(ends[0], F_SETFL, O_NONBLOCK);
    char *text = NULL;
    size_t total = 0;
    for (int rounds = 0; rounds < 1000; rounds++) {
        char *more = read_everything(ends[0]);
        size_t length = strlen(more);
        text = realloc(text, total + length + 1);
        memcpy(text + total, more, length + 1);
        total += length;
        free(more);
        if (!log_flush() && strstr(text, "dropped") != NULL)
            break;
    }
    char *more = read_everything(ends[0]);
    text = realloc(text, total + strlen(more) + 1);
    strcpy(text + total, more);
    free(more);

    assert_non_null(strstr(text, "line 00000 "));
    const char *dropped = strstr(text, "dropped ");
    assert_non_null(dropped);
    assert_non_null(strstr(dropped, "log lines"));
    assert_non_null(dropped);
    unsigned long count = strtoul(dropped + strlen("dropped "), NULL, 10);
    size_t lines = 0;
    for (const char *c = text; *c; c++)
        lines += *c == '\n';
    /* every line is either out or counted as dropped, and none is cut */
    assert_int_equal(lines - 1 + count, 20000);
    assert_true(count > 0);
    for (char *line = text; *line != '\0';) {
        char *end = strchr(line, '\n');
        assert_non_null(end);
        *end = '\0';
        bool whole = (end - line > 4 && strcmp(end - 4, "....") == 0) || strstr(line, "dropped ") != NULL;
        if (!whole)
            fail_msg("a line was cut: %s", line);
        line = end + 1;
    }
    free(text);
}

static void test_a_pipe_nobody_reads_never_blocks_the_log_and_drops_are_counted(void **state)
{
    (void)state;
    int ends[2];
    assert_int_equal(pipe(ends), 0);
    stall_then_catch_up(ends);
    close(ends[0]);
    close(ends[1]);
}

/* systemd's journal takes a service's stderr as a stream socket. */
static void test_a_socket_nobody_reads_never_blocks_the_log_either(void **state)
{
    (void)state;
    int ends[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, ends), 0);
    stall_then_catch_up(ends);
    /* the socket itself stays blocking for whoever else shares it */
    assert_int_equal(fcntl(ends[1], F_GETFL) & O_NONBLOCK, 0);
    close(ends[0]);
    close(ends[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_pipe_nobody_reads_never_blocks_the_log_and_drops_are_counted),
        cmocka_unit_test(test_a_socket_nobody_reads_never_blocks_the_log_either),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
