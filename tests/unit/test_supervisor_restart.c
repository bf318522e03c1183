/*
 * The supervision core: restart policies (permanent, transient,
 * temporary) and restarts that fail and are retried. Each test feeds
 * events to a tree with a hand-driven clock and checks the actions that
 * come out (support_supervisor.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor.h"

#include "support_supervisor.h"

/* ---- restart policies ---- */

static void test_permanent_child_exiting_normally_is_restarted(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    exited(w, 100, 0);
    assert_respawned(w, key);
    assert_log(w, 6, "child job exited normally (exit status 0); restarting (permanent)");
    assert_int_equal(tree_find_child(w->tree, key)->state, CHILD_RESTARTING);
}

static void test_permanent_child_exiting_abnormally_is_restarted(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    killed(w, 100, SIGKILL);
    assert_respawned(w, key);
    assert_log(w, 4, "exited abnormally (killed by signal 9); restarting (permanent)");
}

static void test_transient_child_exiting_normally_is_not_restarted(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_TRANSIENT), 100);
    exited(w, 100, 0);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_log(w, 6, "exited normally (exit status 0); not restarted (transient)");
    assert_null(tree_find_child(w->tree, key));
    assert_counts(w, SUP, 0, 0, 0);
}

static void test_transient_child_exiting_with_non_zero_status_is_restarted(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_TRANSIENT), 100);
    exited(w, 100, 2);
    assert_respawned(w, key);
    assert_log(w, 4, "exited abnormally (exit status 2); restarting (transient)");
}

static void test_transient_child_killed_by_a_signal_is_restarted(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_TRANSIENT), 100);
    killed(w, 100, SIGSEGV);
    assert_respawned(w, key);
}

static void test_temporary_child_exiting_abnormally_is_not_restarted(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("job", RESTART_TEMPORARY), 100);
    killed(w, 100, SIGKILL);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_log(w, 4, "exited abnormally (killed by signal 9); not restarted (temporary)");
    assert_counts(w, SUP, 0, 0, 0);
}

static void test_temporary_child_exiting_normally_is_not_restarted(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("job", RESTART_TEMPORARY), 100);
    exited(w, 100, 0);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_counts(w, SUP, 0, 0, 0);
}

static void test_restarted_child_keeps_its_key_spec_and_place(void **state)
{
    struct world *w = *state;
    char arg[] = "--fast";
    char *argv[] = {arg, NULL};
    struct child_start spec = worker("first", RESTART_PERMANENT);
    spec.argv = argv;
    spec.argc = 1;
    child_key first = run_child(w, SUP, spec, 100);
    child_key second = run_child(w, SUP, worker("second", RESTART_PERMANENT), 101);
    exited(w, 100, 1);
    const struct action *spawn = nth_kind(w, ACTION_SPAWN, 0);
    assert_int_equal(spawn->key, first);
    assert_string_equal(spawn->child->id, "first");
    assert_string_equal(spawn->child->argv[0], "--fast");

    struct child_list list = children_of(w, SUP);
    assert_int_equal(list.count, 2);
    assert_int_equal(list.keys[0], first);
    assert_int_equal(list.pids[0], 0);
    assert_int_equal(list.states[0], CHILD_RESTARTING);

    spawned(w, first, 200);
    init_reported(w, first, INIT_OK, NULL);
    assert_int_equal(count_kind(w, ACTION_REPLY), 0); /* nobody asked for a restart */
    assert_log(w, 6, "child first restarted (pid 200)");
    list = children_of(w, SUP);
    assert_int_equal(list.keys[0], first);
    assert_int_equal(list.pids[0], 200);
    assert_int_equal(list.keys[1], second);
}

static void test_old_pid_of_a_restarted_child_is_forgotten(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    crash_and_restart(w, 100, key, 200);
    exited(w, 100, 1);
    assert_int_equal(w->out.count, 0);
    terminate(w, SUP, 100, 5);
    assert_error_reply(w, 5, ERR_NOT_FOUND);
}

static void test_exit_of_an_unknown_pid_is_ignored(void **state)
{
    struct world *w = *state;
    run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    killed(w, 4242, SIGKILL);
    assert_int_equal(w->out.count, 0);
    assert_counts(w, SUP, 1, 1, 1);
}

/* ---- failed restarts ---- */

static void test_failed_restart_keeps_the_child_restarting_and_retries(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    spawned(w, key, 200);
    init_reported(w, key, INIT_FAILED, "config missing");
    assert_respawned(w, key);
    assert_log(w, 3, "child job: restart failed (config missing); retrying");
    const struct child_info *child = tree_find_child(w->tree, key);
    assert_int_equal(child->state, CHILD_RESTARTING);
    assert_int_equal(child->pid, 0);
    assert_counts(w, SUP, 1, 0, 1);
    assert_int_equal(status_of(w, SUP).restarts_in_window, 2);
}

static void test_failed_restart_counts_toward_max_children(void **state)
{
    struct world *w = *state;
    add_supervisor(w, "small", 1, 10, 5);
    child_key key = run_child(w, "small", worker("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    spawned(w, key, 200);
    init_reported(w, key, INIT_FAILED, "nope");
    start(w, "small", worker("other", RESTART_PERMANENT), 7);
    assert_error_reply(w, 7, ERR_MAX_CHILDREN);
}

static void test_failed_restarts_escalate_when_they_exceed_the_intensity(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1); /* restart 1 */
    pid_t pid = 200;
    for (int retry = 0; retry < 2; retry++) { /* restarts 2 and 3 */
        spawned(w, key, pid);
        init_reported(w, key, INIT_FAILED, "nope");
        assert_respawned(w, key);
        pid++;
    }
    spawned(w, key, pid);
    init_reported(w, key, INIT_FAILED, "nope"); /* restart 4: too many */
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_non_null(log_containing(w, "restart intensity exceeded"));
    assert_null(tree_find_child(w->tree, key));
    assert_int_equal(status_of(w, SUP).times_restarted, 1);
}

static void test_failed_restart_by_spawn_failure_is_retried(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    spawn_failed(w, key, "fork: resource temporarily unavailable");
    assert_respawned(w, key);
    assert_non_null(log_containing(w, "fork: resource temporarily unavailable"));
    assert_int_equal(tree_find_child(w->tree, key)->state, CHILD_RESTARTING);
}

static void test_failed_restart_by_exit_during_init_is_retried(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_TRANSIENT), 100);
    exited(w, 100, 1);
    spawned(w, key, 200);
    killed(w, 200, SIGABRT);
    assert_respawned(w, key);
    assert_non_null(log_containing(w, "worker exited during init: killed by signal 6"));
}

static void test_restart_whose_init_answers_ignore_removes_the_child(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    spawned(w, key, 200);
    init_reported(w, key, INIT_IGNORE, NULL);
    assert_int_equal(count_kind(w, ACTION_SPAWN), 0);
    assert_int_equal(count_kind(w, ACTION_REPLY), 0);
    assert_null(tree_find_child(w->tree, key));
    assert_counts(w, SUP, 0, 0, 0);
    exited(w, 200, 0); /* it exits by itself: an unknown pid by now */
    assert_int_equal(w->out.count, 0);
}

static void test_failed_restart_forgets_the_pid_of_the_failed_try(void **state)
{
    struct world *w = *state;
    child_key key = run_child(w, SUP, worker("job", RESTART_PERMANENT), 100);
    exited(w, 100, 1);
    spawned(w, key, 200);
    init_reported(w, key, INIT_FAILED, "nope");
    exited(w, 200, 1);
    assert_int_equal(w->out.count, 0);
    assert_int_equal(status_of(w, SUP).restarts_in_window, 2);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_permanent_child_exiting_normally_is_restarted),
        TEST(test_permanent_child_exiting_abnormally_is_restarted),
        TEST(test_transient_child_exiting_normally_is_not_restarted),
        TEST(test_transient_child_exiting_with_non_zero_status_is_restarted),
        TEST(test_transient_child_killed_by_a_signal_is_restarted),
        TEST(test_temporary_child_exiting_abnormally_is_not_restarted),
        TEST(test_temporary_child_exiting_normally_is_not_restarted),
        TEST(test_restarted_child_keeps_its_key_spec_and_place),
        TEST(test_old_pid_of_a_restarted_child_is_forgotten),
        TEST(test_exit_of_an_unknown_pid_is_ignored),
        TEST(test_failed_restart_keeps_the_child_restarting_and_retries),
        TEST(test_failed_restart_counts_toward_max_children),
        TEST(test_failed_restarts_escalate_when_they_exceed_the_intensity),
        TEST(test_failed_restart_by_spawn_failure_is_retried),
        TEST(test_failed_restart_by_exit_during_init_is_retried),
        TEST(test_restart_whose_init_answers_ignore_removes_the_child),
        TEST(test_failed_restart_forgets_the_pid_of_the_failed_try),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
