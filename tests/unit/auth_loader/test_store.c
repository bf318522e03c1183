/* The store: atomic replacement, no leftovers on failure, the validators
 * file, and the removal of temp files an interrupted run left behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

/* Each test gets a fresh folder; `state` points at its fixture. */
struct fixture {
    char folder[64];
    char store[128];
};

static int remove_entry(const char *path, const struct stat *info, int type, struct FTW *ftw)
{
    (void)info;
    (void)type;
    (void)ftw;
    return remove(path);
}

static int make_folder(void **state)
{
    struct fixture *fixture = calloc(1, sizeof *fixture);
    if (fixture == NULL)
        return -1;
    snprintf(fixture->folder, sizeof fixture->folder, "/tmp/auth_loader_store.XXXXXX");
    if (mkdtemp(fixture->folder) == NULL)
        return -1;
    snprintf(fixture->store, sizeof fixture->store, "%s/rules.json", fixture->folder);
    *state = fixture;
    return 0;
}

static int remove_folder(void **state)
{
    struct fixture *fixture = *state;
    chmod(fixture->folder, 0700);
    nftw(fixture->folder, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(fixture);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    assert_int_equal(fclose(file), 0);
}

/* The whole file in a malloc'ed NUL-terminated buffer; *length its size. */
static char *read_file(const char *path, size_t *length)
{
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    char *bytes = calloc(1, 1 << 16);
    assert_non_null(bytes);
    *length = fread(bytes, 1, (1 << 16) - 1, file);
    fclose(file);
    return bytes;
}

static void assert_file_holds(const char *path, const char *expected)
{
    size_t length = 0;
    char *bytes = read_file(path, &length);
    assert_int_equal(length, strlen(expected));
    assert_memory_equal(bytes, expected, length);
    free(bytes);
}

/* Number of entries in `folder` besides "." and "..". */
static int count_entries(const char *folder)
{
    DIR *dir = opendir(folder);
    assert_non_null(dir);
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL)
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
            count++;
    closedir(dir);
    return count;
}

static int exists(const char *path)
{
    struct stat info;
    return lstat(path, &info) == 0;
}

static void test_saving_creates_the_store_with_exactly_the_given_bytes(void **state)
{
    struct fixture *fixture = *state;
    static const char bytes[] = "{\"rules\": []}\0binary\xff tail";
    struct loader_error err = {{0}};
    assert_int_equal(store_save_atomic(fixture->store, bytes, sizeof bytes - 1, &err), 0);
    size_t length = 0;
    char *saved = read_file(fixture->store, &length);
    assert_int_equal(length, sizeof bytes - 1);
    assert_memory_equal(saved, bytes, length);
    free(saved);
    assert_int_equal(count_entries(fixture->folder), 1);
}

static void test_saving_replaces_longer_old_bytes_without_leaving_a_tail(void **state)
{
    struct fixture *fixture = *state;
    write_file(fixture->store, "{\"rules\": [{\"client\": \"old\", \"service\": \"old\"}]}\n");
    struct loader_error err = {{0}};
    assert_int_equal(store_save_atomic(fixture->store, "{}", 2, &err), 0);
    assert_file_holds(fixture->store, "{}");
    assert_int_equal(count_entries(fixture->folder), 1);
}

static void test_saving_replaces_the_file_rather_than_rewriting_it(void **state)
{
    struct fixture *fixture = *state;
    write_file(fixture->store, "old");
    /* A reader holding the old file keeps seeing the old bytes. */
    int reader = open(fixture->store, O_RDONLY);
    assert_true(reader >= 0);
    struct loader_error err = {{0}};
    assert_int_equal(store_save_atomic(fixture->store, "new", 3, &err), 0);
    char seen[8] = {0};
    assert_int_equal(read(reader, seen, sizeof seen - 1), 3);
    assert_string_equal(seen, "old");
    close(reader);
    assert_file_holds(fixture->store, "new");
}

static void test_a_replaced_store_keeps_its_mode(void **state)
{
    struct fixture *fixture = *state;
    write_file(fixture->store, "old");
    assert_int_equal(chmod(fixture->store, 0640), 0);
    struct loader_error err = {{0}};
    assert_int_equal(store_save_atomic(fixture->store, "new", 3, &err), 0);
    struct stat info;
    assert_int_equal(stat(fixture->store, &info), 0);
    assert_int_equal(info.st_mode & 07777, 0640);
}

static void test_a_store_path_that_is_a_folder_fails_and_leaves_no_temp(void **state)
{
    struct fixture *fixture = *state;
    assert_int_equal(mkdir(fixture->store, 0755), 0);
    struct loader_error err = {{0}};
    assert_int_equal(store_save_atomic(fixture->store, "new", 3, &err), -1);
    assert_non_null(strstr(err.message, "cannot replace"));
    assert_non_null(strstr(err.message, fixture->store));
    struct stat info;
    assert_int_equal(stat(fixture->store, &info), 0);
    assert_true(S_ISDIR(info.st_mode));
    assert_int_equal(count_entries(fixture->folder), 1);
}

static void test_a_missing_folder_fails_naming_the_folder(void **state)
{
    struct fixture *fixture = *state;
    char store[160];
    snprintf(store, sizeof store, "%s/absent/rules.json", fixture->folder);
    struct loader_error err = {{0}};
    assert_int_equal(store_save_atomic(store, "new", 3, &err), -1);
    assert_non_null(strstr(err.message, "cannot create a temp file in"));
    assert_non_null(strstr(err.message, "/absent"));
    assert_non_null(strstr(err.message, strerror(ENOENT)));
}

static void test_a_failed_write_keeps_the_old_bytes_and_removes_the_temp(void **state)
{
    struct fixture *fixture = *state;
    write_file(fixture->store, "old bytes");
    /* A file-size limit makes write() fail with EFBIG half-way through,
     * a real short write as a full disk would give. */
    struct rlimit saved_limit;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved_limit), 0);
    struct rlimit small = {.rlim_cur = 4096, .rlim_max = saved_limit.rlim_max};
    void (*saved_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);

    static char big[65536];
    memset(big, 'x', sizeof big);
    struct loader_error err = {{0}};
    int status = store_save_atomic(fixture->store, big, sizeof big, &err);

    setrlimit(RLIMIT_FSIZE, &saved_limit);
    signal(SIGXFSZ, saved_handler);
    assert_int_equal(status, -1);
    assert_non_null(strstr(err.message, "cannot write"));
    assert_file_holds(fixture->store, "old bytes");
    assert_int_equal(count_entries(fixture->folder), 1);
}

static void test_a_read_only_folder_fails_and_keeps_the_old_bytes(void **state)
{
    struct fixture *fixture = *state;
    if (geteuid() == 0)
        skip(); /* root writes into read-only folders anyway */
    write_file(fixture->store, "old bytes");
    assert_int_equal(chmod(fixture->folder, 0500), 0);
    struct loader_error err = {{0}};
    assert_int_equal(store_save_atomic(fixture->store, "new", 3, &err), -1);
    assert_non_null(strstr(err.message, strerror(EACCES)));
    assert_file_holds(fixture->store, "old bytes");
}

static void test_the_meta_file_sits_beside_the_store(void **state)
{
    (void)state;
    char *path = store_meta_path("var/auth_rules.json");
    assert_string_equal(path, "var/auth_rules.json.meta");
    free(path);
}

static void test_validators_survive_a_save_and_load_round_trip(void **state)
{
    struct fixture *fixture = *state;
    struct store_meta saved = {.etag = "\"abc123\"", .last_modified = "Tue, 25 Nov 2025 11:40:00 GMT"};
    struct loader_error err = {{0}};
    assert_int_equal(store_meta_save(fixture->store, &saved, &err), 0);
    struct store_meta loaded = {0};
    assert_int_equal(store_meta_load(fixture->store, &loaded, &err), 0);
    assert_string_equal(loaded.etag, saved.etag);
    assert_string_equal(loaded.last_modified, saved.last_modified);
    store_meta_clear(&loaded);
    assert_null(loaded.etag);
    assert_int_equal(count_entries(fixture->folder), 1); /* just rules.json.meta */
}

static void test_a_single_validator_round_trips_and_the_other_stays_absent(void **state)
{
    struct fixture *fixture = *state;
    struct store_meta saved = {.etag = "W/\"weak\""};
    struct loader_error err = {{0}};
    assert_int_equal(store_meta_save(fixture->store, &saved, &err), 0);
    struct store_meta loaded = {0};
    assert_int_equal(store_meta_load(fixture->store, &loaded, &err), 0);
    assert_string_equal(loaded.etag, "W/\"weak\"");
    assert_null(loaded.last_modified);
    store_meta_clear(&loaded);
}

static void test_saving_no_validators_removes_a_stale_meta_file(void **state)
{
    struct fixture *fixture = *state;
    struct store_meta old = {.etag = "\"old\""};
    struct store_meta none = {0};
    struct loader_error err = {{0}};
    assert_int_equal(store_meta_save(fixture->store, &old, &err), 0);
    assert_int_equal(store_meta_save(fixture->store, &none, &err), 0);
    assert_int_equal(count_entries(fixture->folder), 0);
    struct store_meta loaded = {0};
    assert_int_equal(store_meta_load(fixture->store, &loaded, &err), 0);
    assert_null(loaded.etag);
}

static void test_a_missing_meta_file_means_no_validators(void **state)
{
    struct fixture *fixture = *state;
    struct store_meta loaded = {0};
    struct loader_error err = {{0}};
    assert_int_equal(store_meta_load(fixture->store, &loaded, &err), 0);
    assert_null(loaded.etag);
    assert_null(loaded.last_modified);
}

static void test_a_broken_meta_file_is_reported_and_gives_no_validators(void **state)
{
    struct fixture *fixture = *state;
    char meta_path[160];
    snprintf(meta_path, sizeof meta_path, "%s.meta", fixture->store);
    const char *broken[] = {"{\"etag\": ", "[\"etag\"]", "{\"etag\": 5}"};
    for (size_t i = 0; i < 3; i++) {
        write_file(meta_path, broken[i]);
        struct store_meta loaded = {0};
        struct loader_error err = {{0}};
        assert_int_equal(store_meta_load(fixture->store, &loaded, &err), -1);
        assert_non_null(strstr(err.message, meta_path));
        assert_null(loaded.etag);
        assert_null(loaded.last_modified);
    }
}

static void test_stale_temp_cleanup_removes_only_our_pattern(void **state)
{
    struct fixture *fixture = *state;
    const char *ours[] = {".rules.json.tmp.abc123", ".rules.json.tmp.XYZ789"};
    const char *not_ours[] = {
        "rules.json",               /* the store itself */
        ".rules.json.tmp.abc12",    /* suffix too short */
        ".rules.json.tmp.abc1234",  /* suffix too long */
        ".rules.json.tmp.ab-123",   /* not a mkstemp-like suffix */
        ".other.json.tmp.abc123",   /* another store's temp */
        "rules.json.tmp.abc123",    /* no leading dot */
        ".rules.json.meta.tmp.abc12",
    };
    char path[256];
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", fixture->folder, ours[i]);
        write_file(path, "partial");
    }
    for (size_t i = 0; i < sizeof not_ours / sizeof not_ours[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", fixture->folder, not_ours[i]);
        write_file(path, "keep");
    }
    snprintf(path, sizeof path, "%s/.rules.json.tmp.dir123", fixture->folder);
    assert_int_equal(mkdir(path, 0755), 0); /* a folder is never removed */

    int removed = -1;
    struct loader_error err = {{0}};
    /* -1 only for the folder it refused to remove, which it names. */
    assert_int_equal(store_remove_stale_temps(fixture->store, &removed, &err), -1);
    assert_non_null(strstr(err.message, ".rules.json.tmp.dir123"));
    assert_int_equal(removed, 2);
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", fixture->folder, ours[i]);
        assert_false(exists(path));
    }
    for (size_t i = 0; i < sizeof not_ours / sizeof not_ours[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", fixture->folder, not_ours[i]);
        assert_true(exists(path));
    }
    snprintf(path, sizeof path, "%s/.rules.json.tmp.dir123", fixture->folder);
    assert_true(exists(path));
}

static void test_stale_temp_cleanup_of_a_clean_folder_removes_nothing(void **state)
{
    struct fixture *fixture = *state;
    write_file(fixture->store, "keep");
    int removed = -1;
    struct loader_error err = {{0}};
    assert_int_equal(store_remove_stale_temps(fixture->store, &removed, &err), 0);
    assert_int_equal(removed, 0);
    assert_file_holds(fixture->store, "keep");
}

static void test_stale_temp_cleanup_of_a_missing_folder_is_an_error(void **state)
{
    (void)state;
    struct loader_error err = {{0}};
    assert_int_equal(store_remove_stale_temps("/nonexistent-auth-loader/rules.json", NULL, &err),
                     -1);
    assert_non_null(strstr(err.message, "/nonexistent-auth-loader"));
}

#define FOLDER_TEST(name) cmocka_unit_test_setup_teardown(name, make_folder, remove_folder)

int main(void)
{
    const struct CMUnitTest tests[] = {
        FOLDER_TEST(test_saving_creates_the_store_with_exactly_the_given_bytes),
        FOLDER_TEST(test_saving_replaces_longer_old_bytes_without_leaving_a_tail),
        FOLDER_TEST(test_saving_replaces_the_file_rather_than_rewriting_it),
        FOLDER_TEST(test_a_replaced_store_keeps_its_mode),
        FOLDER_TEST(test_a_store_path_that_is_a_folder_fails_and_leaves_no_temp),
        FOLDER_TEST(test_a_missing_folder_fails_naming_the_folder),
        FOLDER_TEST(test_a_failed_write_keeps_the_old_bytes_and_removes_the_temp),
        FOLDER_TEST(test_a_read_only_folder_fails_and_keeps_the_old_bytes),
        cmocka_unit_test(test_the_meta_file_sits_beside_the_store),
        FOLDER_TEST(test_validators_survive_a_save_and_load_round_trip),
        FOLDER_TEST(test_a_single_validator_round_trips_and_the_other_stays_absent),
        FOLDER_TEST(test_saving_no_validators_removes_a_stale_meta_file),
        FOLDER_TEST(test_a_missing_meta_file_means_no_validators),
        FOLDER_TEST(test_a_broken_meta_file_is_reported_and_gives_no_validators),
        FOLDER_TEST(test_stale_temp_cleanup_removes_only_our_pattern),
        FOLDER_TEST(test_stale_temp_cleanup_of_a_clean_folder_removes_nothing),
        FOLDER_TEST(test_stale_temp_cleanup_of_a_missing_folder_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
