/*
 * The scratch folder of the configuration tests. See support_config.h.
 */
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "config_values.h"

#include "support_config.h"

static int remove_entry(const char *path, const struct stat *info, int flag, struct FTW *walk)
{
    (void)info, (void)flag, (void)walk;
    return remove(path);
}

int setup(void **state)
{
    struct scratch *s = calloc(1, sizeof *s);
    assert_non_null(s);
    strcpy(s->dir, "/tmp/dynsup-config-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    error_list_init(&s->errors);
    *state = s;
    return 0;
}

int teardown(void **state)
{
    struct scratch *s = *state;
    config_free(&s->cfg);
    error_list_free(&s->errors);
    nftw(s->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(s);
    return 0;
}

const char *scratch_path(struct scratch *s, const char *name)
{
    snprintf(s->path, sizeof s->path, "%s/%s", s->dir, name);
    return s->path;
}

/* Writes dir/name; a name under children.d/ creates that folder. */
void write_file(struct scratch *s, const char *name, const char *text)
{
    mkdir(scratch_path(s, "children.d"), 0700);
    FILE *out = fopen(scratch_path(s, name), "w");
    assert_non_null(out);
    fputs(text, out);
    fclose(out);
}

int load_path(struct scratch *s, const char *path)
{
    config_free(&s->cfg);
    error_list_free(&s->errors);
    s->status = config_load(path, &s->cfg, &s->errors);
    return s->status;
}

/* Writes the host file (and an empty children.d) and loads it. */
int load_host(struct scratch *s, const char *host_text)
{
    write_file(s, "dynsup.ini", host_text);
    char path[512];
    snprintf(path, sizeof path, "%s/dynsup.ini", s->dir);
    return load_path(s, path);
}

void print_errors(const struct scratch *s)
{
    for (size_t i = 0; i < s->errors.count; i++)
        print_message("  error: %s\n", s->errors.messages[i]);
}

void assert_loaded_cleanly(const struct scratch *s)
{
    if (s->status != 0 || s->errors.count != 0) {
        print_errors(s);
        fail_msg("expected no errors, got %zu", s->errors.count);
    }
}

void assert_error(const struct scratch *s, const char *fragment)
{
    for (size_t i = 0; i < s->errors.count; i++)
        if (strstr(s->errors.messages[i], fragment) != NULL) {
            assert_int_equal(s->status, -1);
            return;
        }
    print_errors(s);
    fail_msg("no error contains: %s", fragment);
}

const char *test_data(void)
{
    const char *dir = getenv("DYNSUP_TEST_DATA");
    if (dir == NULL || *dir == '\0')
        fail_msg("DYNSUP_TEST_DATA is not set: run this test through ctest");
    return dir;
}
