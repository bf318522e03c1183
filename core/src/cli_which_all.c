/*
 * which-children --all: the children of every supervisor, as one answer.
 * The protocol asks one supervisor at a time, so the client asks the
 * host's status for the supervisors' names and then each of them.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "cli_internal.h"
#include "protocol.h"

/* which-children --all: given the status answer, asks each supervisor for
 * its children and joins them into one answer whose children carry their
 * "supervisor" (a supervisor gone in between is left out). Returns
 * EXIT_OK with *answer replaced, else the exit status after saying why. */
int cli_which_children_of_all(const char *socket_path, const char *command_name, char **answer)
{
    json_t *status = json_loads(*answer, 0, NULL);
    json_t *joined = json_pack("{s:s, s:b, s:[]}", "result", "ok", "all_supervisors", 1,
                               "children");
    const json_t *supervisors = json_object_get(status, "supervisors");
    int result = status && joined ? EXIT_OK : EXIT_ERROR_RESULT;
    if (json_is_array(supervisors) && result == EXIT_OK) {
        size_t index;
        const json_t *supervisor;
        json_array_foreach(supervisors, index, supervisor) {
            const char *name = json_string_value(json_object_get(supervisor, "name"));
            char *request = name ? protocol_build_simple("which_children", "supervisor", name) : NULL;
            char *children_answer = NULL;
            if (request)
                result = cli_exchange(socket_path, command_name, request, &children_answer);
            free(request);
            json_t *children = children_answer ? json_loads(children_answer, 0, NULL) : NULL;
            free(children_answer);
            size_t child_index;
            json_t *child;
            json_array_foreach(json_object_get(children, "children"), child_index, child) {
                json_object_set_new(child, "supervisor", json_string(name));
                json_array_append(json_object_get(joined, "children"), child);
            }
            json_decref(children);
            if (result != EXIT_OK)
                break;
        }
    }
    char *line = result == EXIT_OK ? json_dumps(joined, JSON_COMPACT) : NULL;
    json_decref(status);
    json_decref(joined);
    if (result == EXIT_OK && !line) {
        fprintf(stderr, "dynsup-host %s: out of memory\n", command_name);
        result = EXIT_ERROR_RESULT;
    }
    if (line) {
        free(*answer);
        *answer = line;
    }
    return result;
}

