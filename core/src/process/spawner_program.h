#ifndef DYNSUP_SPAWNER_PROGRAM_H
#define DYNSUP_SPAWNER_PROGRAM_H

#include <stddef.h>

/*
 * Which program a spawner runs. Every worker is a fork of its spawner and
 * maps everything the spawner maps, so the spawner is its own small program,
 * dynsup-spawner (libc only), rather than a second image of dynsup-host
 * (libuv, jansson, iniparser: twice the mappings, each one paid again by
 * every worker's fork and exit).
 *
 * spawner_program_choose, once at host start, looks for dynsup-spawner
 * beside the running dynsup-host (the build tree, or a relocated install),
 * then at the path it is installed to; it opens the one it finds and keeps
 * that descriptor, so every later launch (a reload, a spawner's relaunch)
 * runs that very file even if the path is replaced meanwhile (a package
 * upgrade). With neither, spawners run as `dynsup-host --internal-spawner`.
 * Writes a sentence saying which and why into `why` (for the host's log).
 */
void spawner_program_choose(char *why, size_t size);

/* In the forked child: execs the chosen program with argv (argv[0] is
 * replaced by the program's name; argv[3] and argv[4] are the plugin
 * folder and file). If the exec fails, sends the host a load report that
 * says why on the spawner's socket and exits 127. */
_Noreturn void spawner_program_exec(char **argv);

#endif
