/*
 * config_diff: what a reload reports and applies (SPEC section 8). Two
 * configs are loaded from real files in the scratch folder
 * (support_config.h); the difference names each added, removed and
 * changed piece with a detail a human reads at a glance.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_diff.h"

#include "support_config.h"

#define BEFORE HOST "max_restarts = 3\n\n" \
    "[supervisor:web]\nmax_children = 4\nextra_arguments = a b\n\n" \
    "[supervisor:gone]\n\n" \
    "[event:tick]\nsupervisor = web\nchild = job\ninterval = 60\n"
#define BEFORE_CHILDREN "[child:job]\nplugin = sleeper\nargs = --x 1\nrestart = transient\n\n" \
    "[child:old]\nplugin = sleeper\n"

/* Loads `host` and `children` as the old config (returned), then
 * `new_host` and `new_children` into s->cfg. */
static struct config load_both(struct scratch *s, const char *host, const char *children,
                               const char *new_host, const char *new_children)
{
    write_file(s, "children.d/a.ini", children);
    assert_int_equal(load_host(s, host), 0);
    struct config old = s->cfg;
    memset(&s->cfg, 0, sizeof s->cfg);
    write_file(s, "children.d/a.ini", new_children);
    assert_int_equal(load_host(s, new_host), 0);
    return old;
}

static const struct config_change *find(const struct change_list *changes, enum change_kind kind,
                                        const char *id)
{
    for (size_t i = 0; i < changes->count; i++)
        if (changes->items[i].kind == kind && strcmp(changes->items[i].id, id) == 0)
            return &changes->items[i];
    return NULL;
}

static void test_identical_configs_have_no_difference(void **state)
{
    struct scratch *s = *state;
    struct config old = load_both(s, BEFORE, BEFORE_CHILDREN, BEFORE, BEFORE_CHILDREN);
    struct change_list changes;
    change_list_init(&changes);
    struct error_list errors;
    error_list_init(&errors);
    config_diff(&old, &s->cfg, &changes, &errors);
    assert_int_equal(changes.count, 0);
    assert_int_equal(errors.count, 0);
    change_list_free(&changes);
    error_list_free(&errors);
    config_free(&old);
}

static void test_each_kind_of_change_is_named_with_a_readable_detail(void **state)
{
    struct scratch *s = *state;
    struct config old = load_both(
        s, BEFORE, BEFORE_CHILDREN,
        HOST "max_restarts = 5\n\n"
             "[supervisor:web]\nmax_children = 8\nextra_arguments = a b c\n\n"
             "[supervisor:fresh]\n\n"
             "[event:tick]\nsupervisor = web\nchild = job\ninterval = 30\n\n"
             "[event:poke]\nsupervisor = web\nchild = job\nsignal = SIGUSR2\n",
        "[child:job]\nplugin = sleeper\nargs = --x 2\nrestart = permanent\n\n"
        "[child:new]\nplugin = hello\n");
    struct change_list changes;
    change_list_init(&changes);
    struct error_list errors;
    error_list_init(&errors);
    config_diff(&old, &s->cfg, &changes, &errors);
    assert_int_equal(errors.count, 0);

    const struct config_change *change = find(&changes, CHANGE_SUPERVISOR, "web");
    assert_non_null(change);
    assert_int_equal(change->change, CHANGE_CHANGED);
    assert_string_equal(change->detail, "max_children 4 -> 8, extra_arguments a b -> a b c");
    assert_int_equal(find(&changes, CHANGE_SUPERVISOR, "fresh")->change, CHANGE_ADDED);
    assert_int_equal(find(&changes, CHANGE_SUPERVISOR, "gone")->change, CHANGE_REMOVED);

    change = find(&changes, CHANGE_CHILD, "job");
    assert_string_equal(change->detail, "args --x 1 -> --x 2, restart transient -> permanent");
    assert_int_equal(find(&changes, CHANGE_CHILD, "new")->change, CHANGE_ADDED);
    assert_string_equal(find(&changes, CHANGE_CHILD, "new")->detail, "plugin hello");
    assert_int_equal(find(&changes, CHANGE_CHILD, "old")->change, CHANGE_REMOVED);

    assert_string_equal(find(&changes, CHANGE_EVENT, "tick")->detail, "interval 60 -> 30");
    assert_int_equal(find(&changes, CHANGE_EVENT, "poke")->change, CHANGE_ADDED);
    assert_string_equal(find(&changes, CHANGE_HOST, "max_restarts")->detail, "max_restarts 3 -> 5");
    assert_int_equal(changes.count, 9);
    change_list_free(&changes);
    error_list_free(&errors);
    config_free(&old);
}

static void test_a_moved_socket_needs_a_restart_and_is_an_error_naming_the_key(void **state)
{
    struct scratch *s = *state;
    struct config old = load_both(s, BEFORE, BEFORE_CHILDREN,
                                  "[host]\nplugin_dir = plugins\nsocket = elsewhere.sock\n",
                                  BEFORE_CHILDREN);
    struct change_list changes;
    change_list_init(&changes);
    struct error_list errors;
    error_list_init(&errors);
    config_diff(&old, &s->cfg, &changes, &errors);
    assert_int_equal(errors.count, 1);
    assert_non_null(strstr(errors.messages[0], "[host] socket: changed from"));
    assert_non_null(strstr(errors.messages[0], "needs a restart"));
    change_list_free(&changes);
    error_list_free(&errors);
    config_free(&old);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_identical_configs_have_no_difference),
        TEST(test_each_kind_of_change_is_named_with_a_readable_detail),
        TEST(test_a_moved_socket_needs_a_restart_and_is_an_error_naming_the_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
