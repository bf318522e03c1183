/*
 * The error every auth_loader module fills on failure: one line of text a
 * human can act on, naming the path, URL or field that is wrong. The
 * struct is owned by the caller (usually on its stack); no heap involved.
 */
#ifndef AUTH_LOADER_ERROR_H
#define AUTH_LOADER_ERROR_H

#include <stdarg.h>
#include <stdio.h>

struct loader_error {
    char message[512];
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static inline void loader_error_set(struct loader_error *err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

#endif
