/*
 * Prometheus text format of the host's state and history (see metrics.h).
 * Every family is written whole, HELP and TYPE first, its samples
 * together, as the format requires; the tree is walked once per family
 * that needs it.
 */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hashmap.h"

static const char *const state_names[] = {"starting", "running", "stopping", "restarting"};
#define STATE_COUNT 4

/* A label value with \\, " and newline escaped, as the format wants, and
 * other control characters replaced by "?". */
static void put_label(FILE *out, const char *name, const char *value)
{
    fprintf(out, "%s=\"", name);
    for (const char *c = value ? value : ""; *c; c++) {
        if (*c == '\\')
            fputs("\\\\", out);
        else if (*c == '"')
            fputs("\\\"", out);
        else if (*c == '\n')
            fputs("\\n", out);
        else if ((unsigned char)*c < 0x20 || *c == 0x7f)
            fputc('?', out); /* no terminal control sequence reaches `dynsup-host metrics` */
        else
            fputc(*c, out);
    }
    fputc('"', out);
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void number(FILE *out, double value)
{
    if (value == (double)(uint64_t)value && value < 1e15)
        fprintf(out, " %llu\n", (unsigned long long)value);
    else
        fprintf(out, " %.15g\n", value);
}

/* ---------------------------------------------------------------- state */

struct supervisor_walk {
    FILE *out;
    const struct tree *tree;
    size_t by_state[STATE_COUNT];
};

static void count_state(const struct child_info *child, void *context)
{
    struct supervisor_walk *walk = context;
    if ((unsigned)child->state < STATE_COUNT)
        walk->by_state[child->state]++;
}

static void supervisor_children(const struct supervisor_status *status, void *context)
{
    struct supervisor_walk *walk = context;
    memset(walk->by_state, 0, sizeof walk->by_state);
    tree_each_child(walk->tree, status->name, count_state, walk);
    for (size_t state = 0; state < STATE_COUNT; state++) {
        fputs("dynsup_supervisor_children{", walk->out);
        put_label(walk->out, "supervisor", status->name);
        fputc(',', walk->out);
        put_label(walk->out, "state", state_names[state]);
        fputc('}', walk->out);
        number(walk->out, (double)walk->by_state[state]);
    }
}

/* Children of one supervisor grouped by (child id, plugin, state). */
struct spec_group {
    const char *child, *plugin;
    size_t by_state[STATE_COUNT];
    char key[];
};

struct spec_walk {
    FILE *out;
    const struct tree *tree;
    struct hashmap groups;
    struct spec_group **order;
    size_t count, capacity;
    bool failed;
};

static void group_child(const struct child_info *child, void *context)
{
    struct spec_walk *walk = context;
    char key[256];
    snprintf(key, sizeof key, "%s\n%s", child->id, child->plugin);
    struct spec_group *group = hashmap_get_string(&walk->groups, key);
    if (!group) {
        if (walk->count == walk->capacity) {
            size_t wanted = walk->capacity ? walk->capacity * 2 : 8;
            void *grown = realloc(walk->order, wanted * sizeof *walk->order);
            if (!grown) {
                walk->failed = true;
                return;
            }
            walk->order = grown;
            walk->capacity = wanted;
        }
        group = calloc(1, sizeof *group + strlen(key) + 1);
        if (!group) {
            walk->failed = true;
            return;
        }
        strcpy(group->key, key);
        group->child = child->id;
        group->plugin = child->plugin;
        if (hashmap_put_string(&walk->groups, group->key, group) != 0) {
            free(group);
            walk->failed = true;
            return;
        }
        walk->order[walk->count++] = group;
    }
    if ((unsigned)child->state < STATE_COUNT)
        group->by_state[child->state]++;
}

static void spec_children(const struct supervisor_status *status, void *context)
{
    struct spec_walk *walk = context;
    hashmap_init(&walk->groups);
    walk->count = 0;
    tree_each_child(walk->tree, status->name, group_child, walk);
    for (size_t i = 0; i < walk->count; i++) {
        struct spec_group *group = walk->order[i];
        for (size_t state = 0; state < STATE_COUNT; state++) {
            if (group->by_state[state] == 0)
                continue;
            fputs("dynsup_children{", walk->out);
            put_label(walk->out, "supervisor", status->name);
            fputc(',', walk->out);
            put_label(walk->out, "child", group->child);
            fputc(',', walk->out);
            put_label(walk->out, "plugin", group->plugin);
            fputc(',', walk->out);
            put_label(walk->out, "state", state_names[state]);
            fputc('}', walk->out);
            number(walk->out, (double)group->by_state[state]);
        }
        free(group);
    }
    hashmap_free(&walk->groups);
}

enum supervisor_figure { FIGURE_RESTARTS_IN_WINDOW, FIGURE_ESCALATIONS };

struct figure_walk {
    FILE *out;
    const char *metric;
    enum supervisor_figure figure;
};

static void supervisor_figure(const struct supervisor_status *status, void *context)
{
    struct figure_walk *walk = context;
    fprintf(walk->out, "%s{", walk->metric);
    put_label(walk->out, "supervisor", status->name);
    fputc('}', walk->out);
    number(walk->out, walk->figure == FIGURE_RESTARTS_IN_WINDOW ? (double)status->restarts_in_window
                                                                : (double)status->times_restarted);
}

static void write_state(FILE *out, const struct metrics_input *input)
{
    family(out, "dynsup_supervisor_children", "gauge",
           "Children of a supervisor by state (restarting ones have no process).");
    struct supervisor_walk supervisors = {.out = out, .tree = input->tree};
    tree_each_supervisor(input->tree, input->now, supervisor_children, &supervisors);

    family(out, "dynsup_children", "gauge",
           "Children by supervisor, child spec, plugin and state (only non-zero ones).");
    struct spec_walk specs = {.out = out, .tree = input->tree};
    tree_each_supervisor(input->tree, input->now, spec_children, &specs);
    free(specs.order);

    family(out, "dynsup_supervisor_restarts_in_window", "gauge",
           "Child restarts inside the supervisor's max_seconds window (intensity).");
    struct figure_walk figure = {out, "dynsup_supervisor_restarts_in_window", FIGURE_RESTARTS_IN_WINDOW};
    tree_each_supervisor(input->tree, input->now, supervisor_figure, &figure);

    family(out, "dynsup_supervisor_escalations_total", "counter",
           "Times the supervisor exceeded its intensity and was restarted empty by the root.");
    figure = (struct figure_walk){out, "dynsup_supervisor_escalations_total", FIGURE_ESCALATIONS};
    tree_each_supervisor(input->tree, input->now, supervisor_figure, &figure);

    family(out, "dynsup_root_restarts_in_window", "gauge",
           "Supervisor restarts inside the root's max_seconds window.");
    fputs("dynsup_root_restarts_in_window", out);
    number(out, (double)tree_root_restarts_in_window(input->tree, input->now));
}

/* ---------------------------------------------------------------- history */

static void child_labels(FILE *out, const struct child_counters *entry)
{
    put_label(out, "supervisor", entry->supervisor);
    fputc(',', out);
    put_label(out, "child", entry->child);
}

static void write_history(FILE *out, const struct metrics_counters *counters)
{
    family(out, "dynsup_reloads_total", "counter",
           "Reloads (request, SIGHUP, watch) by result: applied (ok) or refused (invalid_config).");
    fputs("dynsup_reloads_total{result=\"ok\"}", out);
    number(out, (double)counters->reloads_ok);
    fputs("dynsup_reloads_total{result=\"invalid_config\"}", out);
    number(out, (double)counters->reloads_failed);
    family(out, "dynsup_config_last_load_success_timestamp_seconds", "gauge",
           "When the config in use was loaded: boot or the last applied reload (Unix time).");
    fputs("dynsup_config_last_load_success_timestamp_seconds", out);
    number(out, counters->last_good_config_unix);

    family(out, "dynsup_child_starts_total", "counter",
           "Answers to start_child (requests, events, autostart) by result.");
    for (size_t i = 0; i < counters->supervisor_count; i++) {
        const struct supervisor_counters *entry = counters->supervisors[i];
        for (int result = 0; result < START_RESULT_COUNT; result++) {
            if (entry->starts[result] == 0 && result > START_RESULT_IGNORE)
                continue;
            fputs("dynsup_child_starts_total{", out);
            put_label(out, "supervisor", entry->supervisor);
            fputc(',', out);
            put_label(out, "result", start_result_name(result));
            fputc('}', out);
            number(out, (double)entry->starts[result]);
        }
    }
    family(out, "dynsup_start_latency_seconds", "histogram",
           "Time from a start_child request on the control socket to its answer (init included).");
    for (size_t i = 0; i < counters->supervisor_count; i++) {
        const struct supervisor_counters *entry = counters->supervisors[i];
        for (size_t bucket = 0; bucket <= START_LATENCY_BUCKET_COUNT; bucket++) {
            fputs("dynsup_start_latency_seconds_bucket{", out);
            put_label(out, "supervisor", entry->supervisor);
            if (bucket < START_LATENCY_BUCKET_COUNT)
                fprintf(out, ",le=\"%g\"}", start_latency_buckets[bucket]);
            else
                fputs(",le=\"+Inf\"}", out);
            number(out, (double)(bucket < START_LATENCY_BUCKET_COUNT ? entry->latency_buckets[bucket]
                                                                    : entry->latency_count));
        }
        fputs("dynsup_start_latency_seconds_sum{", out);
        put_label(out, "supervisor", entry->supervisor);
        fputc('}', out);
        number(out, entry->latency_sum_seconds);
        fputs("dynsup_start_latency_seconds_count{", out);
        put_label(out, "supervisor", entry->supervisor);
        fputc('}', out);
        number(out, (double)entry->latency_count);
    }
    family(out, "dynsup_child_restarts_total", "counter",
           "Restarts of children by their supervisor's policy.");
    for (size_t i = 0; i < counters->child_count; i++) {
        fputs("dynsup_child_restarts_total{", out);
        child_labels(out, counters->children[i]);
        fputc('}', out);
        number(out, (double)counters->children[i]->restarts);
    }
    family(out, "dynsup_child_exits_total", "counter",
           "Worker process exits: normal (status 0), error (non-zero status), signal (killed).");
    for (size_t i = 0; i < counters->child_count; i++) {
        for (int kind = 0; kind < EXIT_KIND_COUNT; kind++) {
            fputs("dynsup_child_exits_total{", out);
            child_labels(out, counters->children[i]);
            fputc(',', out);
            put_label(out, "kind", exit_kind_name((enum exit_kind)kind));
            fputc('}', out);
            number(out, (double)counters->children[i]->exits[kind]);
        }
    }
}

/* ---------------------------------------------------------------- host */

static void write_host(FILE *out, const struct metrics_input *input)
{
    family(out, "dynsup_build_info", "gauge", "dynsup's release and the optional features built in.");
    fputs("dynsup_build_info{", out);
    put_label(out, "version", input->version);
    fputc(',', out);
    put_label(out, "sd_notify", input->sd_notify_built ? "yes" : "no");
    fputc(',', out);
    put_label(out, "metrics_http", input->http_built ? "yes" : "no");
    fputs("} 1\n", out);

    family(out, "dynsup_plugin_info", "gauge",
           "Loaded plugin generations with their version; current=\"yes\" serves new starts.");
    for (size_t i = 0; i < input->plugin_count; i++) {
        const struct metrics_plugin *plugin = &input->plugins[i];
        fputs("dynsup_plugin_info{", out);
        put_label(out, "plugin", plugin->name);
        fputc(',', out);
        put_label(out, "version", plugin->version);
        if (plugin->generation) {
            fprintf(out, ",generation=\"%u\",", plugin->generation);
            put_label(out, "current", plugin->current ? "yes" : "no");
        }
        fputc(',', out);
        put_label(out, "file", plugin->file);
        fputs("} 1\n", out);
    }
    family(out, "dynsup_plugin_workers", "gauge", "Workers alive per plugin generation.");
    for (size_t i = 0; i < input->plugin_count; i++) {
        const struct metrics_plugin *plugin = &input->plugins[i];
        fputs("dynsup_plugin_workers{", out);
        put_label(out, "plugin", plugin->name);
        fprintf(out, ",generation=\"%u\"}", plugin->generation);
        number(out, (double)plugin->workers);
    }

    family(out, "dynsup_uptime_seconds", "gauge", "Seconds since the host started.");
    fputs("dynsup_uptime_seconds", out);
    number(out, input->uptime_seconds);

    const struct process_figures *process = input->process;
    if (!process)
        return;
    struct {
        const char *name, *type, *help;
        double value;
    } figures[] = {
        {"process_cpu_seconds_total", "counter", "User and system CPU time of the host process.",
         process->cpu_seconds},
        {"process_resident_memory_bytes", "gauge", "Resident memory of the host process.",
         process->resident_bytes},
        {"process_virtual_memory_bytes", "gauge", "Virtual memory of the host process.",
         process->virtual_bytes},
        {"process_open_fds", "gauge", "Open descriptors of the host process.", process->open_fds},
        {"process_max_fds", "gauge", "The host process's descriptor limit.", process->max_fds},
        {"process_start_time_seconds", "gauge", "Start of the host process, in Unix time.",
         process->start_time_seconds},
    };
    for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++) {
        if (figures[i].value < 0)
            continue;
        family(out, figures[i].name, figures[i].type, figures[i].help);
        fputs(figures[i].name, out);
        number(out, figures[i].value);
    }
}

char *metrics_format(const struct metrics_input *input)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out)
        return NULL;
    write_host(out, input);
    if (input->tree)
        write_state(out, input);
    if (input->counters)
        write_history(out, input->counters);
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

char *metrics_format_reply(const char *text)
{
    json_t *answer = json_pack("{s:s, s:s}", "result", "ok", "metrics", text);
    char *line = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
    json_decref(answer);
    if (!line)
        return NULL;
    size_t length = strlen(line);
    char *terminated = realloc(line, length + 2);
    if (!terminated) {
        free(line);
        return NULL;
    }
    terminated[length] = '\n';
    terminated[length + 1] = '\0';
    return terminated;
}
