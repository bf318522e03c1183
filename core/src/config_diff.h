/*
 * The difference between two configs, as a reload reports and applies it
 * (SPEC section 8): one change per plugin, child spec, supervisor, event
 * or host key that was added, removed or changed, each with a detail a
 * human reads at a glance ("max_children 4 -> 8"). Pure: no system call.
 *
 * Ownership: a change_list owns its changes and their strings;
 * change_list_free releases them.
 */
#ifndef DYNSUP_CONFIG_DIFF_H
#define DYNSUP_CONFIG_DIFF_H

#include <stddef.h>

#include "config.h"

enum change_kind { CHANGE_PLUGIN, CHANGE_CHILD, CHANGE_SUPERVISOR, CHANGE_EVENT, CHANGE_HOST };
enum change_type { CHANGE_ADDED, CHANGE_REMOVED, CHANGE_CHANGED };

struct config_change {
    enum change_kind kind;
    enum change_type change;
    char *id;      /* plugin name, child id, supervisor, event, host key */
    char *detail;  /* NULL when there is nothing more to say */
};

struct change_list {
    struct config_change *items;
    size_t count, capacity;
};

void change_list_init(struct change_list *list);
void change_list_free(struct change_list *list);
/* Appends a change; detail may be NULL. Aborts on out of memory, as the
 * supervision core does: a half-built list would misreport a reload. */
void change_list_add(struct change_list *list, enum change_kind kind, enum change_type change,
                     const char *id, const char *detail_format, ...)
    __attribute__((format(printf, 5, 6)));

const char *change_kind_name(enum change_kind kind);
const char *change_type_name(enum change_type change);

/* Appends the changes from `old` to `new` (child specs, supervisors,
 * events, the [host] keys a reload applies). A change of a [host] key a
 * reload cannot apply (socket, plugin_dir, children_dir) is an error
 * naming the file, the section and the key, added to errors. */
void config_diff(const struct config *old, const struct config *new, struct change_list *changes,
                 struct error_list *errors);

#endif
