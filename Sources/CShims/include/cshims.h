#ifndef LOGSTORE_CSHIMS_H
#define LOGSTORE_CSHIMS_H
#include <stddef.h>
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

/// Unmaps this process's pages of the executable's read-only segments (machine code,
/// constants) with `MADV_DONTNEED`, and returns the bytes covered (0 elsewhere than Linux).
/// Those pages are never written, so they stay in the kernel's page cache and the next use
/// maps them again (a minor fault); until then they no longer count in the process's resident
/// set. Writable segments (relocated data, RELRO, .data, .bss) are never touched, and nothing
/// is released while a debugger is attached (its breakpoints live in private copies of code
/// pages).
size_t logstore_release_code_pages(void);

/// Serves allocations of `bytes` and more from mappings of their own (no-op elsewhere).
static inline void logstore_set_mmap_threshold(int bytes) {
#ifdef __linux__
    mallopt(M_MMAP_THRESHOLD, bytes);
#endif
}

/// Returns freed heap memory to the operating system (no-op elsewhere).
static inline void logstore_trim_heap(void) {
#ifdef __linux__
    malloc_trim(0);
#endif
}
#endif
