/*
 * The spawners: one small process per plugin file, forked by the host
 * before anything else exists in it, that loads its plugin once and forks
 * that plugin's workers on the host's request.
 *
 * Why separate processes: fork() costs grow with the forking process's
 * size (page tables, mappings) and with the fork handlers its libraries
 * registered. The host grows with its children and its clients; a spawner
 * stays the size of one plugin. One per plugin because plugins differ:
 * auth_loader brings libcurl, TLS and p11-kit (about 200 mappings and fork
 * handlers that run in every child); a worker of a small plugin forked
 * from that process paid for all of it (a third slower per start,
 * measured by tools/bench). Loading plugins here also keeps their
 * constructors and libraries out of the host, and a plugin that crashes
 * at load time cannot take the host down.
 *
 * A spawner is its workers' parent: it reaps them and tells the host how
 * each one ended. One SOCK_SEQPACKET socket joins each spawner to the host;
 * every message is one record, so no framing is needed, and descriptors
 * travel with SCM_RIGHTS. Because a spawner sends SPAWNED for a pid before
 * it can ever send EXITED for it, the host never sees an exit of a pid it
 * does not know yet from that spawner (across spawners only the kernel's
 * pid counter keeps pids apart: README "Known limits").
 *
 * Spares (spawner.c): workers forked and prepared ahead, to which the host
 * writes a start's job itself.
 *
 * Death: a spawner gets SIGKILL when the host dies (PR_SET_PDEATHSIG),
 * and each worker gets SIGKILL when its spawner dies, so a killed host
 * leaves no worker behind; a spawner that dies makes the host exit.
 */
#ifndef DYNSUP_SPAWNER_H
#define DYNSUP_SPAWNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

enum spawner_message_type {
    SPAWNER_LOADED = 1,  /* spawner → host, once: text report of plugin loading */
    SPAWNER_SPAWN,       /* host → spawner: fork a worker */
    SPAWNER_SPAWNED,     /* spawner → host: result; on success carries 2 fds (output, report) */
    SPAWNER_EXITED,      /* spawner → host: workers (or spares) were reaped: an array of
                            struct spawner_exited, 1 to SPAWNER_EXITED_MAX of them */
    SPAWNER_SPARE_WANTED,/* host → spawner: fork a spare (no payload) */
    SPAWNER_SPARE,       /* spawner → host: the spare; on success carries 3 fds
                            (job pipe write end, output, report) */
    SPAWNER_PING,        /* host → spawner: are you there? (no payload) */
    SPAWNER_PONG,        /* spawner → host: the answer (no payload) */
};

/* A spare takes one job record of at most SPARE_JOB_MAX bytes, written
 * whole to its job pipe (one write of at most PIPE_BUF bytes is atomic);
 * a larger start goes through the spawner. */
#define SPARE_JOB_MAX 4096

/* Largest record either side sends; a SPAWN request over it is refused by
 * the host before sending (the protocol's line limit keeps real ones far
 * below). */
#define SPAWNER_MAX_MESSAGE (192 * 1024)

struct spawner_spawned {
    uint64_t key;
    int32_t pid;         /* > 0 on success */
    int32_t error;       /* errno of the failed step, 0 on success */
    char detail[200];    /* what failed, on failure */
};

struct spawner_spare {
    int32_t pid;         /* > 0 on success */
    int32_t error;       /* errno of the failed step, 0 on success */
};

struct spawner_exited {
    int32_t pid;
    int32_t wait_status; /* as from waitpid */
};

/* The exits one reaping pass found travel in one EXITED record (issue 13:
 * during a stop of 10,000 workers a message per exit was a send in the
 * spawner and a receive and a wake-up in the host for each). A pass sends
 * what it reaped before the spawner waits again, so no exit waits for
 * others. 512 exits are a 4 KiB record. */
#define SPAWNER_EXITED_MAX 512
struct spawner_exited_batch {
    uint32_t type;       /* SPAWNER_EXITED */
    struct spawner_exited exits[SPAWNER_EXITED_MAX];
};
_Static_assert(offsetof(struct spawner_exited_batch, exits) == sizeof(uint32_t),
               "the records follow the type with no padding, as they travel");

/* What the worker reports on its report pipe after init, one write. */
struct worker_report {
    int32_t init_result; /* enum init_result of supervisor.h */
    char detail[252];    /* why init failed, when it did */
};

/* A plugin as the spawner loaded it (host side copy). Owned by plugin_list. */
struct plugin_entry {
    char *name, *version, *file;
};
struct plugin_list {
    struct plugin_entry *items;
    size_t count;
};
void plugin_list_free(struct plugin_list *list);

/* "exit status N" or "killed by signal N (name)", from a waitpid status
 * (the spawner's own, or a worker's as EXITED carries it). */
void describe_wait_status(int wait_status, char *text, size_t size);

/* Host side: forks the spawner of one plugin file (file_name, of
 * plugin_dir), which loads it and reports, then moves to work_dir (the
 * host config's folder), so that every worker starts there and relative
 * paths in the config's arguments mean what they say. Returns 0 with the
 * spawner's pid and the host's end of the socket (non-blocking,
 * close-on-exec), the loaded plugin appended to plugins, and in
 * loaded_copy_fd the private copy the spawner loaded (close-on-exec; -1 if
 * it sent none); -1 with every loading error (the spawner is then already
 * gone). With copy_fd >= 0 (a copy it gave before), the spawner loads that
 * instead of the file: the same generation again. */
int spawner_launch(const char *plugin_dir, const char *file_name, const char *work_dir,
                   int copy_fd, pid_t *spawner_pid, int *socket_fd, int *loaded_copy_fd,
                   struct plugin_list *plugins, struct error_list *errors);

/* The spawner is a fresh image of dynsup-spawner (or, without it, of
 * dynsup-host: spawner_program.h), exec'ed as
 *   dynsup-spawner --internal-spawner CONFIG PLUGIN_DIR FILE WORK_DIR HOST_PID
 * with its socket on descriptor 3. Exec'ed, not just forked: a process
 * forked from a host whose loop runs would carry libuv's pthread_atfork
 * handler, which closes and remakes descriptors in every child it forks,
 * workers included. CONFIG (the host's config file, shown by ps) is set
 * once by the host with spawner_set_config_path. */
#define SPAWNER_EXEC_MARK "--internal-spawner"
/* The spawner's socket to the host, in the spawner. */
#define SPAWNER_SOCKET_FD 3
/* A relaunch (copy_fd of spawner_launch): one more word after HOST_PID,
 * --from-copy=N, the generation's private copy being descriptor N; the
 * spawner moves it to SPAWNER_COPY_FD and loads it instead of the file. */
#define SPAWNER_FROM_COPY_MARK "--from-copy"
#define SPAWNER_COPY_FD 4
void spawner_set_config_path(const char *config_path);
int spawner_exec_main(int argc, char **argv);

/* ---- message formats (spawner_protocol.c) */

/* A SPAWN record: this header, then NUL-separated strings (supervisor,
 * child id, name or "", plugin, then argc arguments, then setting_count
 * job settings: the child spec's execution environment, job_settings.h). */
struct spawn_header {
    uint32_t type;
    uint32_t argc;
    uint64_t key;
    uint32_t setting_count;
};

/* Unpacks a SPAWN record in place: the strings stay where they are and
 * job points into them, argv[] (capacity argv_capacity, which also holds
 * the job settings after the arguments' NULL) too. Returns the
 * plugin's name, or NULL if the record is malformed. Also runs in a
 * fresh worker (a spare's job): hot, as worker.h's WORKER_PATH says why. */
struct worker_job;
__attribute__((hot)) const char *spawner_decode_spawn(char *record, size_t length,
                                                      struct worker_job *job, char **argv,
                                                      size_t argv_capacity, uint64_t *key);

/* Reads the spawner's load report (text of "plugin\tNAME\tVERSION\tFILE"
 * and "error\tMESSAGE" lines, NUL-terminated in place at length): plugins
 * appended, errors added. Returns 0, or -1 if any error line came. */
int spawner_parse_load_report(char *text, size_t length, struct plugin_list *plugins,
                              struct error_list *errors);

/* Encodes a SPAWN request into buffer (capacity SPAWNER_MAX_MESSAGE).
 * Returns its length, or -1 if it does not fit. */
ssize_t spawner_encode_spawn(char *buffer, size_t capacity, uint64_t key, const char *supervisor,
                             const char *child_id, const char *name, const char *plugin,
                             char *const *argv, int argc, const struct job_settings_text *settings);

#endif
