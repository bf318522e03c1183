/*
 * Helpers of the plugin loader tests. See support_plugin_loader.h.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "plugin_loader.h"

#include "support_plugin_loader.h"

const char *required_env(const char *name)
{
    const char *value = getenv(name);
    if (value == NULL || *value == '\0')
        fail_msg("%s is not set: run this test through ctest", name);
    return value;
}

char *join_path(const char *dir, const char *file)
{
    char *path = NULL;
    assert_true(asprintf(&path, "%s/%s", dir, file) >= 0);
    return path;
}
