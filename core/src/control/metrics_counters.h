/*
 * The counters behind the Prometheus metrics that the tree's query API
 * cannot answer because they are history, not state: starts by result,
 * restarts and exits by kind. The host records them as it carries out the
 * tree's actions (metrics_record_action) and as workers exit
 * (metrics_record_exit); they only ever grow, so a supervisor restarted by
 * the root keeps its counts.
 *
 * Ownership: a struct metrics_counters owns its entries and copies of the
 * names it was given.
 */
#ifndef DYNSUP_METRICS_COUNTERS_H
#define DYNSUP_METRICS_COUNTERS_H

#include <stdbool.h>
#include <stdint.h>

#include "hashmap.h"
#include "supervisor.h"

enum exit_kind { EXIT_KIND_NORMAL, EXIT_KIND_ERROR, EXIT_KIND_SIGNAL, EXIT_KIND_COUNT };
/* "normal" (status 0), "error" (non-zero status), "signal" (killed). */
const char *exit_kind_name(enum exit_kind kind);
enum exit_kind exit_kind_of(const struct child_exit *how);

/* start_child results: ok, ignore, then every reply_error (ERR_*). */
#define START_RESULT_OK 0
#define START_RESULT_IGNORE 1
#define START_RESULT_COUNT (2 + ERR_SHUTTING_DOWN + 1)
/* "ok", "ignore", or the error's wire name. */
const char *start_result_name(int result);

/* One (supervisor, child id) pair's history. */
struct child_counters {
    char *supervisor, *child;
    uint64_t restarts;
    uint64_t exits[EXIT_KIND_COUNT];
};

/* Upper bounds (seconds) of the start latency histogram's buckets; +Inf
 * is implied. */
#define START_LATENCY_BUCKET_COUNT 12
extern const double start_latency_buckets[START_LATENCY_BUCKET_COUNT];

/* One supervisor's start answers. */
struct supervisor_counters {
    char *supervisor;
    uint64_t starts[START_RESULT_COUNT];
    /* From a start_child request to its answer (init included), requests
     * from the control socket only; cumulative per bucket. */
    uint64_t latency_buckets[START_LATENCY_BUCKET_COUNT];
    uint64_t latency_count;
    double latency_sum_seconds;
};

struct metrics_counters {
    uint64_t reloads_ok, reloads_failed;   /* applied / refused (dry runs not counted) */
    double last_good_config_unix;          /* boot, then each applied reload; Unix time */
    struct hashmap children_by_key;      /* "sup\nchild" -> struct child_counters */
    struct hashmap supervisors_by_name;  /* name -> struct supervisor_counters */
    struct hashmap start_times;          /* request token -> struct pending_start */
    /* In first-seen order, for a stable output. */
    struct child_counters **children;
    size_t child_count, child_capacity;
    struct supervisor_counters **supervisors;
    size_t supervisor_count, supervisor_capacity;
};

void metrics_counters_init(struct metrics_counters *counters);
void metrics_counters_free(struct metrics_counters *counters);

/* Counts what one of the tree's actions tells: a SPAWN of a restarting
 * child is a restart; a REPLY to a start is a start result. Out of memory
 * loses the count, never the action. */
void metrics_record_action(struct metrics_counters *counters, const struct action *action,
                           ds_time_ms now);
/* A start_child request (token != 0) goes to the tree at `now`: its answer
 * (a REPLY with that token) is a sample of the start latency. */
void metrics_start_requested(struct metrics_counters *counters, request_token token, ds_time_ms now);
/* A reload was applied (ok) or refused, at Unix time now_unix. */
void metrics_record_reload(struct metrics_counters *counters, bool ok, double now_unix);
/* Counts a worker's exit (supervisor and child may be NULL if unknown). */
void metrics_record_exit(struct metrics_counters *counters, const char *supervisor,
                         const char *child, const struct child_exit *how);

#endif
