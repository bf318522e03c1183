/*
 * The supervision core: exits are known by child key and pid, not by pid
 * alone (issue 9 item 12). Pids are unique only among live processes, and
 * the reports of two plugin processes are not ordered with each other: a
 * worker's exit can be read after the kernel gave its pid to another
 * plugin process's new worker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>

#include "supervisor.h"

#include "support_supervisor.h"

static void worker_exited(struct world *w, child_key key, pid_t pid, int signal_number)
{
    action_list_clear(&w->out);
    tree_worker_exited(w->tree, key, pid, (struct child_exit){.signal = signal_number}, w->now,
                       &w->out);
}

static void test_a_late_exit_report_does_not_hit_the_child_that_reused_its_pid(void **state)
{
    struct world *w = *state;
    child_key old_one = run_child(w, SUP, worker("old", RESTART_TEMPORARY), 100);
    /* old's process died; before its exit is read, another plugin
     * process's new worker gets pid 100. */
    child_key new_one = run_child(w, SUP, worker("new", RESTART_PERMANENT), 100);
    worker_exited(w, old_one, 100, SIGKILL);
    assert_null(tree_find_child(w->tree, old_one));
    const struct child_info *survivor = tree_find_child(w->tree, new_one);
    assert_non_null(survivor);
    assert_int_equal(survivor->state, CHILD_RUNNING);
    assert_int_equal(survivor->pid, 100);
    /* and pid 100 still designates the live one */
    terminate(w, SUP, 100, 7);
    assert_true(has_signal(w, 100, SIGTERM));
    assert_int_equal(tree_find_child(w->tree, new_one)->state, CHILD_STOPPING);
}

static void test_an_exit_of_a_former_process_of_the_child_is_ignored(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    worker_exited(w, key, 100, SIGKILL);          /* restarted ... */
    spawned(w, key, 200);
    init_reported(w, key, INIT_OK, NULL);
    worker_exited(w, key, 100, SIGKILL);          /* ... and the old report again */
    assert_int_equal(w->out.count, 0);
    assert_int_equal(tree_find_child(w->tree, key)->pid, 200);
}

static void test_an_exit_for_an_unknown_key_is_ignored(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    worker_exited(w, 9999, 100, SIGKILL);
    assert_int_equal(w->out.count, 0);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_a_late_exit_report_does_not_hit_the_child_that_reused_its_pid),
        TEST(test_an_exit_of_a_former_process_of_the_child_is_ignored),
        TEST(test_an_exit_for_an_unknown_key_is_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
