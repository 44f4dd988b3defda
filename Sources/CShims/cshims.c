#define _GNU_SOURCE
#include "cshims.h"

#ifdef __linux__
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/// `dl_iterate_phdr` visits the main program first (its name is empty): its loadable segments
/// without write permission are released, then the walk stops.
static int release_readonly_segments(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    if (info->dlpi_name != NULL && info->dlpi_name[0] != '\0') return 0;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    size_t *released = data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        // A writable segment holds private (copy-on-write) pages: the relocated data, RELRO
        // included, and .data/.bss. Dropping those would lose their contents.
        if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W) != 0) continue;
        uintptr_t start = (uintptr_t)info->dlpi_addr + (uintptr_t)ph->p_vaddr;
        uintptr_t end = start + (uintptr_t)ph->p_memsz;
        start = (start + page - 1) & ~(page - 1);  // whole pages inside the segment only
        end &= ~(page - 1);
        if (end > start && madvise((void *)start, end - start, MADV_DONTNEED) == 0) *released += end - start;
    }
    return 1;
}

/// Whether a debugger or tracer is attached (`TracerPid` in /proc/self/status): its software
/// breakpoints are private copies of code pages, which `MADV_DONTNEED` would discard.
static int is_traced(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) return 1;
    char line[256];
    int traced = 1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "TracerPid:", 10) == 0) {
            traced = atoi(line + 10) != 0;
            break;
        }
    }
    fclose(f);
    return traced;
}

size_t logstore_release_code_pages(void) {
    if (is_traced()) return 0;
    size_t released = 0;
    dl_iterate_phdr(release_readonly_segments, &released);
    return released;
}
#else
size_t logstore_release_code_pages(void) { return 0; }
#endif
