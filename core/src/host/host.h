/*
 * dynsup-host's `run` and `check`: the imperative shell around the pure
 * supervision tree (supervisor.h).
 */
#ifndef DYNSUP_HOST_H
#define DYNSUP_HOST_H

/* Runs the host in the foreground until it stops. Returns the process
 * exit status: 0 after a clean stop, 1 when the root's restart intensity
 * was exceeded or the spawner died, 2 on a config or plugin error. */
int host_run(const char *config_path);

/* Validates the config and every plugin; prints every error (or a
 * summary). Returns 0 if all is well, else 2. */
int host_check(const char *config_path);

#endif
