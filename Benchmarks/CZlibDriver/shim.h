#include <stddef.h>
#include <zlib.h>

/* glibc's memmem (a GNU extension, so not in Swift's Glibc module), for counting keys in answers. */
extern void *memmem(const void *haystack, size_t haystacklen, const void *needle, size_t needlelen);
