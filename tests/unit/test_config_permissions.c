/*
 * Who may start what (SPEC section 9): [supervisor:X] children lists the
 * child specs X may start; [child:ID] request_args = no keeps callers from
 * adding arguments. Both refusals name the file, section and key.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "config.h"

#include "support_config.h"

static const char *const TWO_CHILDREN =
    "[child:loader]\nplugin = p\nrequest_args = no\n[child:other]\nplugin = p\n";

static void test_a_supervisor_starts_only_the_children_it_lists(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini", TWO_CHILDREN);
    load_host(s, HOST "[supervisor:bound]\nchildren = loader\n[supervisor:open]\n");
    assert_loaded_cleanly(s);
    const struct supervisor_spec *bound = config_find_supervisor(&s->cfg, "bound");
    const struct supervisor_spec *open = config_find_supervisor(&s->cfg, "open");
    const struct child_spec *loader = config_find_child(&s->cfg, "loader");
    const struct child_spec *other = config_find_child(&s->cfg, "other");
    char detail[512];
    assert_int_equal(config_start_refusal(bound, loader, 0, detail, sizeof detail), START_ALLOWED);
    assert_int_equal(config_start_refusal(bound, other, 0, detail, sizeof detail),
                     START_REFUSED_NOT_LISTED);
    assert_non_null(strstr(detail, "supervisor \"bound\" may not start child spec \"other\" (not in "
                                   "its children list, "));
    assert_non_null(strstr(detail, "dynsup.ini: [supervisor:bound] children)"));
    /* Without a list, every spec may be started (as before). */
    assert_int_equal(config_start_refusal(open, other, 3, detail, sizeof detail), START_ALLOWED);
}

static void test_a_spec_with_request_args_no_refuses_added_args(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini", TWO_CHILDREN);
    load_host(s, HOST "[supervisor:open]\n");
    assert_loaded_cleanly(s);
    const struct supervisor_spec *open = config_find_supervisor(&s->cfg, "open");
    const struct child_spec *loader = config_find_child(&s->cfg, "loader");
    assert_false(loader->request_args);
    assert_true(config_find_child(&s->cfg, "other")->request_args); /* the default */
    char detail[512];
    assert_int_equal(config_start_refusal(open, loader, 0, detail, sizeof detail), START_ALLOWED);
    assert_int_equal(config_start_refusal(open, loader, 1, detail, sizeof detail),
                     START_REFUSED_REQUEST_ARGS);
    assert_non_null(strstr(detail, "child spec \"loader\" takes no request args ("));
    assert_non_null(strstr(detail, "a.ini: [child:loader] request_args = no)"));
}

static void test_children_may_be_written_with_commas(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini", TWO_CHILDREN);
    load_host(s, HOST "[supervisor:bound]\nchildren = loader, other\n");
    assert_loaded_cleanly(s);
    const struct supervisor_spec *bound = config_find_supervisor(&s->cfg, "bound");
    assert_int_equal(bound->children_count, 2);
    assert_true(config_supervisor_lists_child(bound, "loader"));
    assert_true(config_supervisor_lists_child(bound, "other"));
}

static void test_autostart_may_be_written_with_commas_too(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini", TWO_CHILDREN);
    load_host(s, HOST "[supervisor:bound]\nchildren = loader, other\nautostart = loader, other\n");
    assert_loaded_cleanly(s);
    const struct supervisor_spec *bound = config_find_supervisor(&s->cfg, "bound");
    assert_int_equal(bound->autostart_count, 2);
    assert_string_equal(bound->autostart[0], "loader");
    assert_string_equal(bound->autostart[1], "other");
}

static const char *const bad_permission_values[][2] = {
    {HOST "[supervisor:s]\nchildren = loader nope\n", "dynsup.ini:5: [supervisor:s] children: unknown child \"nope\""},
    {HOST "[supervisor:s]\nchildren = Loader\n", "dynsup.ini:5: [supervisor:s] children: expected child ids (lowercase letters, digits and _), found \"Loader\""},
    {HOST "[supervisor:s]\nchildren = loader\nautostart = other\n", "dynsup.ini:6: [supervisor:s] autostart: supervisor \"s\" may not start child \"other\" (not in its children list)"},
    {HOST "[supervisor:s]\nchildren = loader\n[event:e]\nsupervisor = s\nchild = other\n", "dynsup.ini:8: [event:e] child: supervisor \"s\" may not start child \"other\" (not in its children list)"},
};

static void test_bad_permission_values_name_file_section_and_key(void **state)
{
    struct scratch *s = *state;
    write_file(s, "children.d/a.ini", TWO_CHILDREN);
    for (size_t i = 0; i < sizeof bad_permission_values / sizeof bad_permission_values[0]; i++) {
        load_host(s, bad_permission_values[i][0]);
        assert_error(s, bad_permission_values[i][1]);
    }
    write_file(s, "children.d/a.ini", "[child:a]\nplugin = p\nrequest_args = never\n");
    load_host(s, HOST);
    assert_error(s, "a.ini:3: [child:a] request_args: expected yes or no, found \"never\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        TEST(test_a_supervisor_starts_only_the_children_it_lists),
        TEST(test_a_spec_with_request_args_no_refuses_added_args),
        TEST(test_children_may_be_written_with_commas),
        TEST(test_autostart_may_be_written_with_commas_too),
        TEST(test_bad_permission_values_name_file_section_and_key),
#undef TEST
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
