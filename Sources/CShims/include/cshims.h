#ifndef LOGSTORE_CSHIMS_H
#define LOGSTORE_CSHIMS_H
#ifdef __linux__
#include <malloc.h>
#endif

/// Limits glibc's malloc arenas (no-op elsewhere): request bodies are large, short-lived
/// buffers freed on many threads, and the default of 8 arenas per core keeps them resident.
static inline void logstore_limit_malloc_arenas(int arenas) {
#ifdef __linux__
    mallopt(M_ARENA_MAX, arenas);
#endif
}

/// Returns freed heap memory to the operating system (no-op elsewhere).
static inline void logstore_trim_heap(void) {
#ifdef __linux__
    malloc_trim(0);
#endif
}
#endif
