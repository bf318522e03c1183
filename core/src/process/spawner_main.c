/*
 * dynsup-spawner: the program a spawner runs (spawner_program.h says why it
 * is not dynsup-host). Launched by the host only, with the same arguments
 * as `dynsup-host --internal-spawner`:
 *   dynsup-spawner --internal-spawner CONFIG PLUGIN_DIR FILE WORK_DIR HOST_PID
 * and its socket to the host on descriptor 3.
 */
#include <stdio.h>
#include <string.h>

#include "spawner.h"

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], SPAWNER_EXEC_MARK) != 0) {
        fprintf(stderr, "dynsup-spawner: started by dynsup-host only (one per plugin); "
                        "run `dynsup-host run CONFIG` instead\n");
        return 2;
    }
    return spawner_exec_main(argc, argv);
}
