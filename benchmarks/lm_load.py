"""How long a character LM file takes to load, and the memory it holds once loaded.

    python benchmarks/lm_load.py src/aksar/zoo/khmer_rec_v7/lm.json.gz src/aksar/zoo/thai_rec_v3/lm.json.gz

Each file is loaded in a fresh process (so one file's memory never counts towards another's): the median of
``--rounds`` loads in seconds, and the growth of the process's resident memory from before the first load to
after it (Linux ``/proc/self/statm``). Give a format-1 file beside its format-2 copy to compare the formats.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = """
import gc, json, statistics, sys, time
from aksar.text.charlm import CharLM

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6

path, rounds = sys.argv[1], int(sys.argv[2])
before = rss_mb()
lm = CharLM.load(path)
gc.collect()
grown = rss_mb() - before
times = []
for _ in range(rounds):
    start = time.perf_counter()
    CharLM.load(path)
    times.append(time.perf_counter() - start)
print(json.dumps({"order": lm.order, "ngrams": len(lm.grams), "seconds": statistics.median(times),
                  "memory_mb": grown}))
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="LM files (aksar lm build)")
    ap.add_argument("--rounds", type=int, default=3, help="loads timed per file (default 3)")
    args = ap.parse_args(argv)
    print("| file | order | n-grams | load (median) | memory once loaded |\n|---|---:|---:|---:|---:|")
    for path in args.files:
        done = subprocess.run([sys.executable, "-c", CHILD, path, str(args.rounds)], capture_output=True, text=True)
        if done.returncode:
            print(f"lm_load: {path}: {done.stderr.strip().splitlines()[-1]}", file=sys.stderr)
            return 1
        r = json.loads(done.stdout)
        print(f"| {path} | {r['order']} | {r['ngrams']:,} | {r['seconds']:.2f} s | {r['memory_mb']:.0f} MB |",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
