#!/usr/bin/env bash
# Regenerates deploy/logstore.order: the functions a serving logstore runs, in the order the
# linker should place them (`make release` passes it to lld as --symbol-ordering-file).
#
# Why: the kernel maps a binary's code in 64 KiB windows around each page it touches, so code
# run now and then, spread over the 24 MB of .text, kept ~15 MB of it resident. Placed together
# the functions actually run fill ~6 MB, and the server's resident code shrinks by ~5 MB.
# A stale file costs only memory: functions it does not name are placed after the named ones.
#
# How: runs the side-by-side benchmark's quick workload (ingest, sealing, index flushes, job-log
# reads, searches, tail) against a release build under valgrind's callgrind, and lists every
# function of the binary that ran. A name defined more than once (helpers and specializations
# the compiler emits in several modules) moves every copy: it is listed only when each copy
# sits in a small section of its own, not inside a large one (static libraries' objects built
# without per-function sections).
#
# Needs valgrind (apt-get install valgrind) and the bench venv (make bench-venv); ~6 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "error: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
[ -x .venv/bin/python ] || { echo "error: needs the bench venv (make bench-venv)" >&2; exit 1; }
work=$(mktemp -d /tmp/logstore-order.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "building the release binary ..." >&2
make -s release RELEASE_EXTRA="-Xlinker -Map=$work/logstore.map" >&2
# valgrind 3.19 cannot read the DWARF 5 the toolchain writes; the symbol table is enough.
objcopy --strip-debug .build/release/logstore "$work/logstore"
cat > "$work/serve.sh" <<EOF
#!/usr/bin/env bash
if [ "\$1" = serve ]; then
  exec valgrind --tool=callgrind --callgrind-out-file=$work/callgrind.%p --dump-instr=no \
    --collect-jumps=no --demangle=no "$work/logstore" "\$@"
fi
exec "$work/logstore" "\$@"
EOF
chmod +x "$work/serve.sh"

echo "running the quick workload under callgrind ..." >&2
.venv/bin/python Benchmarks/load/sidebyside.py --systems logstore --quick --lines-per-job 100 \
  --small-seconds 5 --rates 10,50 --logstore-rates 10,50 --read-seconds 5 --ingest-rate 3000 \
  --search-reps 2 --search-seconds 5 --tail-samples 5 --settle 120 --timeout 60 \
  --bin "$work/serve.sh" --json "$work/run.json" > "$work/run.log" 2>&1 ||
  { tail -20 "$work/run.log" >&2; exit 1; }

python3 - "$work" > deploy/logstore.order <<'EOF'
import collections, glob, re, subprocess, sys
work = sys.argv[1]
ran = []
seen = set()
for path in glob.glob(f"{work}/callgrind.*"):
    objects, functions = {}, {}
    current_object = called_object = None
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        m = re.match(r"(c?ob)=\((\d+)\)(?: (.*))?$", line)
        if m:
            kind, key, name = m.groups()
            if name:
                objects[key] = name
            if kind == "ob":
                current_object = objects.get(key)
            else:
                called_object = objects.get(key)
            continue
        m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?$", line)
        if not m:
            continue
        kind, key, name = m.groups()
        if name:
            functions[key] = name
        owner = current_object if kind == "fn" else (called_object or current_object)
        called_object = None  # a cob= line names the object of the next cfn= only
        if owner and owner.endswith("/logstore"):
            name = functions[key].split("'")[0]  # callgrind marks recursion levels as name'2
            if name not in seen and not name.startswith(("0x", "(")):
                seen.add(name)
                ran.append(name)
# The link map: each input section of .text (address, size, file) and the symbols in it.
sections = collections.defaultdict(list)  # symbol -> sizes of the sections holding its copies
in_text = False
size = None
for line in open(f"{work}/logstore.map"):
    m = re.match(r"\s*[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+ (\S.*)$", line)
    if m:  # an output section
        in_text = m.group(2).strip() == ".text"
        continue
    if not in_text:
        continue
    m = re.match(r"\s*[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+\s{9}(\S.*)$", line)
    if m:  # an input section
        size = int(m.group(1), 16)
        continue
    m = re.match(r"\s*[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+\d+\s{17}(\S.*)$", line)
    if m and size is not None:
        sections[m.group(1).strip()].append(size)
kept, skipped = [], 0
for name in ran:
    sizes = sections.get(name)
    if sizes is None or len(sizes) == 1 or max(sizes) <= 16384:
        kept.append(name)  # not in the map: a section of its own (C++ runtime)
    else:
        skipped += 1
print(f"{len(kept)} functions ordered ({len(ran)} ran; {skipped} left out: a copy inside a large section)", file=sys.stderr)
print("\n".join(kept))
EOF
# The build does not track the file's contents: remove the binary so that it is linked again.
rm -f .build/release/logstore
echo "wrote deploy/logstore.order; make release links with it" >&2
