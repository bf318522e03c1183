/*
 * Fuzz target: the control-protocol request parser (SPEC section 5), the
 * code that reads whatever a socket peer sends.
 *
 * Besides "never crashes", two promises are checked:
 *  - round trip: a request that parses, rebuilt with the CLI's builders
 *    (protocol_build_*), parses again to the same request;
 *  - every answer line the host would send for it (bad_request with the
 *    parser's detail, replies carrying its strings) is one line of valid
 *    JSON with a "result".
 */
#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz_target.h"
#include "protocol.h"

static const char *command_name(enum request_cmd cmd)
{
    switch (cmd) {
    case CMD_START_CHILD: return "start_child";
    case CMD_TERMINATE_CHILD: return "terminate_child";
    case CMD_WHICH_CHILDREN: return "which_children";
    case CMD_COUNT_CHILDREN: return "count_children";
    case CMD_EMIT: return "emit";
    case CMD_STATUS: return "status";
    case CMD_PLUGINS: return "plugins";
    case CMD_STOP: return "stop";
    case CMD_RELOAD: return "reload";
    case CMD_METRICS: return "metrics";
    }
    fuzz_check(!"a parsed request has a known cmd");
    return NULL;
}

/* The line the CLI would send for `request` (malloc'd, ends in '\n'). */
static char *build_request(const struct request *request)
{
    const char *cmd = command_name(request->cmd);
    switch (request->cmd) {
    case CMD_START_CHILD:
        return protocol_build_start_child(request->supervisor, request->child, request->name,
                                          request->args, request->argc);
    case CMD_TERMINATE_CHILD:
        return protocol_build_terminate_child(request->supervisor, request->pid, request->name,
                                              request->key);
    case CMD_WHICH_CHILDREN:
    case CMD_COUNT_CHILDREN:
        return protocol_build_simple(cmd, "supervisor", request->supervisor);
    case CMD_EMIT:
        return protocol_build_simple(cmd, "event", request->event);
    case CMD_STATUS:
    case CMD_PLUGINS:
    case CMD_STOP:
    case CMD_METRICS:
        return protocol_build_simple(cmd, NULL, NULL);
    case CMD_RELOAD:
        return protocol_build_reload(request->dry_run);
    }
    return NULL;
}

static bool same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void check_same_request(const struct request *a, const struct request *b)
{
    fuzz_check(a->cmd == b->cmd);
    fuzz_check(same_text(a->supervisor, b->supervisor));
    fuzz_check(same_text(a->child, b->child));
    fuzz_check(same_text(a->name, b->name));
    fuzz_check(same_text(a->event, b->event));
    fuzz_check(a->pid == b->pid);
    fuzz_check(a->dry_run == b->dry_run);
    fuzz_check(a->argc == b->argc);
    fuzz_check((a->args == NULL) == (b->args == NULL));
    for (int i = 0; i < a->argc; i++)
        fuzz_check(strcmp(a->args[i], b->args[i]) == 0);
    if (a->args != NULL)
        fuzz_check(a->args[a->argc] == NULL);
}

/* `line` (consumed) is one '\n'-terminated JSON object with a string "result". */
static void check_answer_line(char *line)
{
    fuzz_check(line != NULL);
    size_t length = strlen(line);
    fuzz_check(length > 0 && line[length - 1] == '\n');
    fuzz_check(memchr(line, '\n', length - 1) == NULL);
    json_error_t error;
    json_t *answer = json_loadb(line, length - 1, 0, &error);
    fuzz_check(answer != NULL);
    fuzz_check(json_is_string(json_object_get(answer, "result")));
    json_decref(answer);
    free(line);
}

/* The answers that carry request strings back to a client. */
static void check_answers_for(const struct request *request)
{
    struct reply reply = {REPLY_ERROR, ERR_INIT_FAILED, 0, request->name};
    check_answer_line(protocol_format_reply(&reply));
    reply = (struct reply){REPLY_ERROR, ERR_ALREADY_STARTED, request->pid, NULL};
    check_answer_line(protocol_format_reply(&reply));

    struct children_writer *writer = children_writer_new(1700000000000);
    struct child_info child = {0};
    child.id = request->child;
    child.plugin = request->supervisor;
    child.name = request->name;
    child.argv = request->args;
    child.argc = request->argc;
    child.pid = request->pid;
    child.key = request->key;
    child.started_at = child.next_restart_at = -1;
    child.has_exited = request->pid % 2 == 1;
    child.last_exit.signal = request->pid % 3 == 0 ? request->pid % 70 : 0;
    child.last_exit.exit_code = request->pid % 256;
    children_writer_add(writer, &child, request->event);
    check_answer_line(children_writer_finish(writer));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct request request;
    char detail[256];
    detail[0] = '\0';
    if (protocol_parse_request((const char *)data, size, &request, detail, sizeof detail) != 0) {
        fuzz_check(detail[0] != '\0');
        fuzz_check(request.supervisor == NULL && request.args == NULL); /* nothing leaks out */
        check_answer_line(protocol_format_bad_request(detail));
        return 0;
    }
    if (request.cmd == CMD_START_CHILD)
        fuzz_check(request.args != NULL);
    if (request.cmd == CMD_TERMINATE_CHILD) /* exactly one of pid, name, key (protocol.h) */
        fuzz_check((request.pid > 0) + (request.name != NULL) + (request.key > 0) == 1);

    char *line = build_request(&request);
    fuzz_check(line != NULL);
    size_t length = strlen(line);
    fuzz_check(length > 0 && line[length - 1] == '\n');
    struct request again;
    fuzz_check(protocol_parse_request(line, length - 1, &again, detail, sizeof detail) == 0);
    check_same_request(&request, &again);
    check_answers_for(&request);
    request_free(&again);
    request_free(&request);
    free(line);
    return 0;
}
