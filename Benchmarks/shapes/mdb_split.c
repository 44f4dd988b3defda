/* Where the bytes of LMDB files go: for each file, each named table's pages (branch, leaf,
 * overflow) and entries, the free pages, and the file and lock file sizes, in bytes.
 *   cc -O2 -o /tmp/mdb_split Benchmarks/shapes/mdb_split.c -llmdb
 *   /tmp/mdb_split DATA/catalog.mdb DATA/segments/YYYY-MM-DD*.mdb
 * A compacted day's "shared" table is split by table (key prefix).
 * Opens each file read-only (MDB_NOSUBDIR); safe beside a running server. */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static long long fsize(const char *p) { struct stat st; return stat(p, &st) == 0 ? (long long)st.st_size : 0; }

static long long pages(MDB_stat *s) { return (long long)(s->ms_branch_pages + s->ms_leaf_pages + s->ms_overflow_pages); }

/* A compacted day's or a catalog's "shared" table holds its tables as key ranges after a
 * prefix byte (Keys.segmentSharedPrefixes, Keys.catalogSharedPrefixes): per range, entries, bytes of keys and small values, and the
 * overflow pages of big values. */
static void split_shared(MDB_txn *txn, MDB_dbi dbi, long long psize, int catalog) {
    static const char *segment[] = {"", "meta", "streams", "stream_stats", "head", "sealed", "blockdir", "blocks",
                                    "chunks", "docids", "postings", "postruns", "packs"};
    static const char *catalogs[] = {"", "meta", "segments", "tombstones", "deleted_streams", "indices", "streams", "?",
                                     "?", "?", "?", "?", "?"};
    const char **names = catalog ? catalogs : segment;
    long long entries[256] = {0}, inline_bytes[256] = {0}, overflow[256] = {0};
    MDB_cursor *c; MDB_val k, v;
    if (mdb_cursor_open(txn, dbi, &c)) return;
    while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
        unsigned char p = k.mv_size ? *(unsigned char *)k.mv_data : 0;
        entries[p]++;
        if (v.mv_size > (size_t)psize / 2 - 16) {
            inline_bytes[p] += 8 + k.mv_size + 8 + 2;
            overflow[p] += (v.mv_size + 16 + psize - 1) / psize;
        } else inline_bytes[p] += 8 + k.mv_size + v.mv_size + 2;
    }
    mdb_cursor_close(c);
    for (int p = 0; p < 256; p++)
        if (entries[p])
            printf("    %-14s %10lld bytes on leaves %8lld entries, %lld overflow pages\n", p < 13 ? names[p] : "?", inline_bytes[p],
                   entries[p], overflow[p]);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        MDB_env *env; MDB_txn *txn; MDB_dbi main; MDB_cursor *cur; MDB_val k, v; MDB_stat st; MDB_envinfo info;
        char lock[4096];
        snprintf(lock, sizeof lock, "%s-lock", argv[i]);
        if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 64) || mdb_env_set_mapsize(env, 1LL << 36)) return 1;
        int rc = mdb_env_open(env, argv[i], MDB_NOSUBDIR | MDB_RDONLY, 0644);
        if (rc) { fprintf(stderr, "%s: %s\n", argv[i], mdb_strerror(rc)); mdb_env_close(env); continue; }
        mdb_env_stat(env, &st);
        mdb_env_info(env, &info);
        long long psize = st.ms_psize;
        printf("%s: file %lld lock %lld used %lld (pages: main %lld)\n", argv[i], fsize(argv[i]), fsize(lock),
               (long long)(info.me_last_pgno + 1) * psize, pages(&st) * psize);
        mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
        long long freed = 0;
        MDB_cursor *fc;
        if (mdb_cursor_open(txn, 0, &fc) == 0) {
            while (mdb_cursor_get(fc, &k, &v, MDB_NEXT) == 0) freed += *(size_t *)v.mv_data;
            mdb_cursor_close(fc);
        }
        MDB_stat fst; mdb_stat(txn, 0, &fst);
        printf("  %-16s %10lld bytes (%lld free pages listed, freelist table %lld)\n", "free", freed * psize, freed, pages(&fst) * psize);
        mdb_dbi_open(txn, NULL, 0, &main);
        mdb_cursor_open(txn, main, &cur);
        while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
            char name[256];
            size_t n = k.mv_size < 255 ? k.mv_size : 255;
            memcpy(name, k.mv_data, n); name[n] = 0;
            MDB_dbi dbi;
            if (mdb_dbi_open(txn, name, 0, &dbi)) continue;
            MDB_stat s; mdb_stat(txn, dbi, &s);
            printf("  %-16s %10lld bytes %8zu entries (%zu leaf, %zu branch, %zu overflow pages)\n", name, pages(&s) * psize,
                   s.ms_entries, s.ms_leaf_pages, s.ms_branch_pages, s.ms_overflow_pages);
            if (strcmp(name, "shared") == 0) split_shared(txn, dbi, psize, strstr(argv[i], "catalog") != NULL);
        }
        mdb_cursor_close(cur);
        mdb_txn_abort(txn);
        mdb_env_close(env);
    }
    return 0;
}
