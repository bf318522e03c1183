/*
 * The host's side of the metrics: gathers what metrics_format needs (the
 * tree, the history counters, the plugins, the process's own figures from
 * /proc/self) and answers the metrics request. Runs on the loop only; the
 * HTTP endpoint's thread gets the text through metrics_http's snapshot.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host_internal.h"
#include "host_notify.h"
#include "metrics.h"
#include "metrics_http.h"

/* How long a process_open_fds figure found by listing is reused. */
#define OPEN_FDS_LISTING_REUSE_MS 1000

/* The host's open descriptors, or -1. Listing /proc/self/fd costs
 * O(descriptors), ~10 ms with 10,000 clients connected: done for every
 * metrics request, hundreds of clients asking held the loop for seconds.
 * Linux 6.2 and later give the count as that folder's st_size (from the
 * descriptor table's bitmap: no listing, no descriptor of ours); older
 * kernels say 0 there, and then the listing is done at most once a
 * second, its figure reused meanwhile (a gauge up to a second old). */
static double count_open_fds(struct host *host)
{
    struct stat folder;
    if (stat("/proc/self/fd", &folder) == 0 && folder.st_size > 0)
        return (double)folder.st_size;
    ds_time_ms now = host_now(host);
    if (host->open_fds_listing.done &&
        now - host->open_fds_listing.at < OPEN_FDS_LISTING_REUSE_MS)
        return host->open_fds_listing.count;
    DIR *fds = opendir("/proc/self/fd");
    if (!fds)
        return -1;
    double count = 0;
    for (struct dirent *entry; (entry = readdir(fds)) != NULL;)
        if (entry->d_name[0] != '.')
            count++;
    closedir(fds);
    host->open_fds_listing.count = count - 1; /* the folder's own descriptor */
    host->open_fds_listing.at = now;
    host->open_fds_listing.done = true;
    return host->open_fds_listing.count;
}

/* From /proc/self only (the unit's ProcSubset=pid hides the rest). */
static void read_process_figures(struct host *host, struct process_figures *figures)
{
    figures->cpu_seconds = figures->resident_bytes = figures->virtual_bytes = -1;
    figures->open_fds = figures->max_fds = -1;
    double ticks = (double)sysconf(_SC_CLK_TCK);
    double page = (double)sysconf(_SC_PAGESIZE);
    FILE *stat = fopen("/proc/self/stat", "r");
    if (stat) {
        char text[1024];
        size_t length = fread(text, 1, sizeof text - 1, stat);
        text[length] = '\0';
        fclose(stat);
        /* after "(comm)", which may hold spaces: state is field 3 */
        char *rest = strrchr(text, ')');
        unsigned long utime, stime, vsize;
        long rss;
        if (rest && sscanf(rest + 2,
                           "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d "
                           "%*d %*d %*u %lu %ld",
                           &utime, &stime, &vsize, &rss) == 4 && ticks > 0) {
            figures->cpu_seconds = (double)(utime + stime) / ticks;
            figures->virtual_bytes = (double)vsize;
            figures->resident_bytes = (double)rss * page;
        }
    }
    figures->open_fds = count_open_fds(host);
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0)
        figures->max_fds = limit.rlim_cur == RLIM_INFINITY ? -1 : (double)limit.rlim_cur;
    figures->start_time_seconds = host->started_at_unix;
}

char *host_metrics_text(struct host *host)
{
    struct metrics_plugin *plugins = calloc(host->spawner_count + 1, sizeof *plugins);
    if (!plugins)
        return NULL;
    size_t plugin_count = 0;
    /* One spawner per loaded generation of a plugin file (as `plugins`
     * lists them): the ones alive. */
    for (size_t i = 0; i < host->spawner_count; i++) {
        const struct spawner_link *link = host->spawners[i];
        if (link->pid <= 0 || link->lost)
            continue;
        plugins[plugin_count++] = (struct metrics_plugin){
            .name = link->name,
            .version = link->version,
            .file = link->file,
            .generation = link->generation,
            .workers = link->worker_count,
            .current = !link->retired,
        };
    }
    struct process_figures process;
    read_process_figures(host, &process);
    ds_time_ms now = host_now(host);
    struct metrics_input input = {
        .tree = host->tree,
        .now = now,
        .uptime_seconds = (double)now / 1000.0,
        .counters = &host->counters,
        .plugins = plugins,
        .plugin_count = plugin_count,
        .version = DYNSUP_VERSION,
        .sd_notify_built = host_notify_built(),
        .http_built = metrics_http_built(),
        .process = &process,
    };
    char *text = metrics_format(&input);
    free(plugins);
    return text;
}

char *host_metrics_reply(struct host *host)
{
    char *text = host_metrics_text(host);
    char *line = text ? metrics_format_reply(text) : NULL;
    free(text);
    return line;
}
