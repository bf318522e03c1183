/*
 * The host's metrics in Prometheus' text exposition format (version
 * 0.0.4), for `dynsup-host metrics`, the {"cmd":"metrics"} request and the
 * optional HTTP endpoint (metrics_http.c). A pure formatter: the state
 * comes from the tree's query API, the history from metrics_counters, the
 * process figures from the caller (metrics_process.c reads them).
 *
 * Labels are supervisor, child (the child spec id), plugin, state, result,
 * kind: never a pid, which would make a new series at every restart.
 */
#ifndef DYNSUP_METRICS_H
#define DYNSUP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics_counters.h"
#include "supervisor.h"

/* One loaded generation of a plugin file (reload loads a changed file as
 * a new generation beside the old one until the old one's workers exit). */
struct metrics_plugin {
    const char *name, *version, *file;
    unsigned generation;     /* 0: not told (no label) */
    size_t workers;          /* its workers alive */
    bool current;            /* new starts run this generation */
};

/* The host process's own figures; a field below 0 is unknown and left out. */
struct process_figures {
    double cpu_seconds;
    double resident_bytes;
    double virtual_bytes;
    double open_fds;
    double max_fds;
    double start_time_seconds;  /* Unix time */
};

struct metrics_input {
    const struct tree *tree;
    ds_time_ms now;                       /* the tree's clock */
    double uptime_seconds;
    const struct metrics_counters *counters;
    const struct metrics_plugin *plugins;
    size_t plugin_count;
    const char *version;                  /* dynsup's release */
    bool sd_notify_built, http_built;
    const struct process_figures *process;   /* NULL: left out */
};

/* The whole exposition, '\n'-terminated, malloc'd; NULL when out of memory. */
char *metrics_format(const struct metrics_input *input);

/* The metrics request's answer line: {"result":"ok","metrics":TEXT}\n,
 * malloc'd; NULL when out of memory. */
char *metrics_format_reply(const char *text);

#endif
