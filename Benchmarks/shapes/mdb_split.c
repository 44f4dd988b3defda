/* Where the bytes of LMDB files go: for each file, each named table's pages (branch, leaf,
 * overflow) and entries, the free pages, and the file and lock file sizes, in bytes.
 *   cc -O2 -o /tmp/mdb_split Benchmarks/shapes/mdb_split.c -llmdb
 *   /tmp/mdb_split DATA/catalog.mdb DATA/segments/YYYY-MM-DD*.mdb
 * Opens each file read-only (MDB_NOSUBDIR); safe beside a running server. */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static long long fsize(const char *p) { struct stat st; return stat(p, &st) == 0 ? (long long)st.st_size : 0; }

static long long pages(MDB_stat *s) { return (long long)(s->ms_branch_pages + s->ms_leaf_pages + s->ms_overflow_pages); }

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
        }
        mdb_cursor_close(cur);
        mdb_txn_abort(txn);
        mdb_env_close(env);
    }
    return 0;
}
