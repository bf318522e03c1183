/*
 * Who may start what (SPEC section 9): a supervisor's `children` list
 * (the child specs it may start) and a child spec's `request_args` (may a
 * start_child request add arguments). Control-socket access is the power
 * to start any allowed spec with any allowed arguments as the host's
 * user; these two keys are how a config keeps that power bounded.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "config_values.h"

void section_read_allowed_children(const struct section_reader *r, struct supervisor_spec *spec)
{
    if (section_value(r, "children", &(int){0}) == NULL)
        return;
    spec->children_listed = true;
    int line = section_read_words(r, "children", &spec->children, &spec->children_count);
    for (int i = 0; i < spec->children_count; i++) {
        /* "a, b" and "a b" both read as a list */
        size_t length = strlen(spec->children[i]);
        if (length > 0 && spec->children[i][length - 1] == ',')
            spec->children[i][length - 1] = '\0';
        if (!config_name_is_valid(spec->children[i]))
            section_value_problem(r, "children", line,
                                  "expected child ids (lowercase letters, digits and _)",
                                  spec->children[i]);
        else
            section_check_id_length(r, "children", line, spec->children[i]);
    }
}

void section_read_request_args(const struct section_reader *r, struct child_spec *spec)
{
    int line;
    const char *value = section_value(r, "request_args", &line);
    if (value == NULL)
        return;
    if (strcmp(value, "yes") == 0)
        spec->request_args = true;
    else if (strcmp(value, "no") == 0)
        spec->request_args = false;
    else
        section_value_problem(r, "request_args", line, "expected yes or no", value);
}

bool config_supervisor_lists_child(const struct supervisor_spec *supervisor, const char *child_id)
{
    if (!supervisor->children_listed)
        return true;
    for (int i = 0; i < supervisor->children_count; i++)
        if (strcmp(supervisor->children[i], child_id) == 0)
            return true;
    return false;
}

enum start_refusal config_start_refusal(const struct supervisor_spec *supervisor,
                                        const struct child_spec *child, int request_argc,
                                        char *detail, size_t detail_size)
{
    if (!config_supervisor_lists_child(supervisor, child->id)) {
        snprintf(detail, detail_size,
                 "supervisor \"%s\" may not start child spec \"%s\" (not in its children list, "
                 "%s: [supervisor:%s] children)",
                 supervisor->name, child->id, supervisor->file, supervisor->name);
        return START_REFUSED_NOT_LISTED;
    }
    if (!child->request_args && request_argc > 0) {
        snprintf(detail, detail_size,
                 "child spec \"%s\" takes no request args (%s: [child:%s] request_args = no)",
                 child->id, child->file, child->id);
        return START_REFUSED_REQUEST_ARGS;
    }
    return START_ALLOWED;
}
