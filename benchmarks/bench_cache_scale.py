"""The decoded-once cache at ImageNet-like scale: build, read, kill halfway and resume.

Stages (each reported):
1. generate `--images` JPEGs (default 100,000) of 300-500 px sides, smooth random content plus
   grain (they compress like photos: about 40 KB each), in an ImageFolder layout of 100 classes,
   once, into `--jpeg-dir` (outside the repository; reused when it already holds them);
2. print the cache's disk-use formula (`vaal_core.datasets.cache.disk_use`) before the build;
3. build the cache in a child process (`--workers` decoding processes), SIGKILL its whole
   process group once half the chunks are marked done (the chunks in flight die mid-way, as in a
   real kill; the deterministic kill right after a chunk is tests/test_cache_integrity.py's
   failpoint `cache_after_chunk`), then resume the build in a second child. Every decoded row is
   logged by the process that decoded it, so the benchmark counts rows decoded twice (only rows
   of the chunks in flight may be; of a finished chunk, none) and reports images/second per
   window of chunks from first to last (from the chunk markers' times) and the RSS of the
   building processes at each tenth of the chunks;
4. read every image once in random batches through `CacheReader` (checksums verified on the
   first touch of each chunk), RSS sampled along the way;
5. measured disk use (allocated blocks) against the printed formula.

Usage: nice -n 10 python benchmarks/bench_cache_scale.py [--images 100000] [--resolution 128]
       [--workers 2] [--jpeg-dir /tmp/vaal-bench-jpegs] [--cache-root /tmp/vaal-bench-cache]
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CLASSES = 100


def jpeg_path(folder: Path, i: int) -> Path:
    return folder / f"c{i % CLASSES:03d}" / f"{i:07d}.jpg"


def generate(folder: Path, n: int, seed: int = 0) -> float:
    """Write the JPEGs that are missing (resumable); return seconds spent."""
    from PIL import Image

    from vaal_core.storage import write_atomic

    t = time.perf_counter()
    for c in range(CLASSES):
        (folder / f"c{c:03d}").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        path = jpeg_path(folder, i)
        if path.exists():
            continue
        rng = np.random.default_rng([seed, i])  # per image: a resumed generation is identical
        h, w = (int(v) for v in rng.integers(300, 501, 2))
        small = rng.integers(0, 256, (h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
        arr = np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC), dtype=np.int16)
        arr = arr + rng.integers(-12, 13, (h, w, 3), dtype=np.int16)
        image = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        # whole or absent: a killed generation leaves no truncated JPEG
        write_atomic(path, lambda f, image=image: image.save(f, "JPEG", quality=85))
    return time.perf_counter() - t


class LoggedSource:
    """The JPEG folder as a `FileSource`, logging every row it decodes (int32, one file per
    process, O_APPEND) so the benchmark can count rows decoded more than once."""

    def __init__(self, root: Path, n: int, log_dir: Path):
        from vaal_core.datasets.cache import FileSource

        paths = [str(jpeg_path(Path(""), i)) for i in range(n)]
        self.inner = FileSource(root, paths, np.arange(n) % CLASSES)
        self.labels, self.log_dir, self._fd, self._pid = self.inner.labels, log_dir, None, -1

    def __len__(self) -> int:
        return len(self.inner)

    def fingerprint_items(self):
        return self.inner.fingerprint_items()

    def row(self, i: int, resolution: int) -> np.ndarray:
        if self._pid != os.getpid():
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
            self._fd, self._pid = (
                os.open(self.log_dir / f"rows-{os.getpid()}.i32", flags),
                os.getpid(),
            )
        os.write(self._fd, np.int32(i).tobytes())
        return self.inner.row(i, resolution)


def _key(source, resolution: int):
    from vaal_core.datasets.cache import CacheKey, source_hash

    return CacheKey("bench-scale", "train", resolution, source_hash(source.fingerprint_items()))


def child_build(args: argparse.Namespace) -> int:
    """One build process (killed by the failpoint, or the resume); prints its peak RSS."""
    from vaal_core.datasets.cache import build_cache

    src = LoggedSource(args.jpeg_dir, args.images, args.log_dir)
    key = _key(src, args.resolution)
    build_cache(src, key, args.cache_root, workers=args.workers, progress=False)
    return 0


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def run_child(args, workers: int, kill_at: int | None, done: Path, total: int) -> dict:
    """Start a build child; sample its RSS (and its decoding workers') at each tenth of the chunks;
    with `kill_at`, SIGKILL its whole process group once that many chunks are marked done (the
    chunks in flight then are lost mid-way, as in a real kill)."""
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    env.pop("VAAL_FAILPOINT", None)
    cmd = [sys.executable, __file__, "--child-build", "--images", str(args.images),
           "--resolution", str(args.resolution), "--workers", str(workers),
           "--jpeg-dir", str(args.jpeg_dir), "--cache-root", str(args.cache_root),
           "--log-dir", str(args.log_dir)]  # fmt: skip
    t = time.time()
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    samples, next_tenth, finished_at_kill = [], 0, None
    while proc.poll() is None:
        n = len(list(done.glob("[0-9]*"))) if done.is_dir() else 0
        if kill_at is not None and n >= kill_at and finished_at_kill is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            finished_at_kill = sorted(int(q.name) for q in done.glob("[0-9]*"))
            break
        if n * 10 >= next_tenth * total:
            main_rss = _rss_mb(proc.pid)
            workers_rss = [_rss_mb(c) for c in _children(proc.pid)]
            samples.append((n, main_rss, max(workers_rss, default=0.0)))
            next_tenth = n * 10 // total + 1
        time.sleep(1.0)
    return {"rc": proc.returncode, "seconds": time.time() - t, "rss": samples, "start": t,
            "finished_at_kill": finished_at_kill,
            "end": time.time()}  # fmt: skip


def chunk_rates(
    done: Path, chunk: int, n: int, start: float, end: float, windows: int = 5
) -> list[tuple[int, int, float]]:
    """(first chunk, last chunk, images/s) per window of the chunks a build process finished
    between `start` and `end` (wall clock), in completion order, from the markers' mtimes."""
    marks = sorted(
        (p.stat().st_mtime, int(p.name))
        for p in done.glob("[0-9]*")
        if start <= p.stat().st_mtime <= end
    )
    out, size, t = [], max(1, -(-len(marks) // windows)), start
    for w in range(0, len(marks), size):
        part = marks[w : w + size]
        images = sum(min(chunk, n - c * chunk) for _, c in part)
        seconds = part[-1][0] - t
        out.append((part[0][1], part[-1][1], images / seconds if seconds > 0 else float("nan")))
        t = part[-1][0]
    return out


def read_all(folder: Path, batch: int = 256) -> dict:
    """Verify every chunk, then read every image once in random batches; RSS at each tenth."""
    from vaal_core.datasets.cache import CacheReader

    reader = CacheReader(folder)
    chunks = -(-len(reader) // reader.chunk)
    t = time.perf_counter()
    reader.verify(range(chunks))
    verify_s = time.perf_counter() - t
    order = np.random.default_rng(0).permutation(len(reader))
    rss, rates, t0 = [], [], time.perf_counter()
    tenth = max(1, len(order) // 10)
    for start in range(0, len(order), batch):
        reader.read(order[start : start + batch])
        done = start + batch
        if done // tenth != start // tenth or done >= len(order):
            now = time.perf_counter()
            rss.append((min(done, len(order)), _rss_mb(os.getpid())))
            rates.append(min(done, len(order)) / (now - t0))
    reader.close()
    return {"verify_s": verify_s, "read_s": time.perf_counter() - t0, "rss": rss, "rates": rates,
            "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # fmt: skip


def decoded_twice(log_dir: Path, finished: list[int], chunk: int) -> tuple[int, int, int]:
    """(rows decoded, rows decoded more than once, of those: rows of chunks that were finished
    when the build was killed); row 0's shape probe not counted."""
    rows = np.concatenate(
        [np.fromfile(p, dtype=np.int32) for p in log_dir.glob("rows-*.i32")] or [np.zeros(0)]
    ).astype(np.int64)
    counts = np.bincount(rows) if len(rows) else np.zeros(1, dtype=np.int64)
    counts[0] = min(counts[0], 1)
    twice = np.flatnonzero(counts > 1)
    of_finished = int(np.isin(twice // chunk, finished).sum())
    return int(len(rows)), int(len(twice)), of_finished


def allocated(folder: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in folder.rglob("*") if p.is_file())


def _args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=100_000)
    p.add_argument("--resolution", type=int, default=128)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--jpeg-dir", type=Path, default=Path("/tmp/vaal-bench-jpegs"))
    p.add_argument("--cache-root", type=Path, default=Path("/tmp/vaal-bench-cache"))
    p.add_argument("--log-dir", type=Path, default=Path("/tmp/vaal-bench-cache-log"))
    p.add_argument("--generate-only", action="store_true")
    p.add_argument("--child-build", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> int:
    import shutil

    from vaal_core.datasets.cache import CHUNK, cache_dir_for, disk_use
    from vaal_core.train.device import cpu_model_name

    args = _args(argv)
    if args.child_build:
        return child_build(args)
    print(f"CPU: {cpu_model_name()}, {os.cpu_count()} cores; load at start {os.getloadavg()}")
    s = generate(args.jpeg_dir, args.images)
    print(f"generate: {args.images:,} JPEGs in {args.jpeg_dir}: {s:.0f} s", flush=True)
    if args.generate_only:
        return 0
    for d in (args.cache_root, args.log_dir):
        shutil.rmtree(d, ignore_errors=True)
    args.log_dir.mkdir(parents=True)
    src = LoggedSource(args.jpeg_dir, args.images, args.log_dir)
    folder = cache_dir_for(args.cache_root, _key(src, args.resolution))
    shape = (3, args.resolution, args.resolution)
    use = disk_use(args.images, shape, CHUNK)
    print(f"disk use, printed before the build: {use.formula(args.images, shape, CHUNK)}")
    chunks = -(-args.images // CHUNK)
    half = chunks // 2 - 1
    done = folder / "done"
    first = run_child(args, args.workers, half, done, chunks)
    finished = first["finished_at_kill"] or []
    print(f"build ({args.workers} workers) killed with SIGKILL to its process group once {half} "
          f"chunks were done: rc {first['rc']}, {len(finished)}/{chunks} chunks finished, "
          f"{first['seconds']:.0f} s")  # fmt: skip
    second = run_child(args, args.workers, None, done, chunks)
    print(f"resumed ({args.workers} workers): rc {second['rc']}, {second['seconds']:.0f} s")
    decoded, twice, of_finished = decoded_twice(args.log_dir, finished, CHUNK)
    print(f"rows decoded: {decoded:,} (one is the shape probe) of {args.images:,}; rows decoded "
          f"twice: {twice} (rows of the chunks in flight at the kill), of finished chunks: "
          f"{of_finished}")  # fmt: skip
    print("RSS while building, MB (chunks done: builder, largest decoding worker):")
    for name, run in (("killed", first), ("resumed", second)):
        print(f"  {name}: " + ", ".join(f"{n}: {a:.0f}/{b:.0f}" for n, a, b in run["rss"]))
    print("images/s per window of chunks in completion order (first..last chunk finished):")
    for name, run in (("killed", first), ("resumed", second)):
        rates = chunk_rates(done, CHUNK, args.images, run["start"], run["end"])
        print(f"  {name}: " + ", ".join(f"{lo}..{hi}: {r:.0f}" for lo, hi, r in rates))
    got = allocated(folder)
    print(f"disk use: measured {got:,} B allocated; formula {use.total:,} B; "
          f"difference {got - use.total:+,} B")  # fmt: skip
    r = read_all(folder)
    print(f"read: checksum pass over {chunks} chunks {r['verify_s']:.1f} s "
          f"({args.images / r['verify_s']:.0f} img/s); every image once in random batches of 256: "
          f"{r['read_s']:.1f} s; max RSS {r['maxrss_mb']:.0f} MB")  # fmt: skip
    print("  RSS MB at images read: " + ", ".join(f"{n}: {m:.0f}" for n, m in r["rss"]))
    print("  cumulative img/s at each tenth: " + ", ".join(f"{x:.0f}" for x in r["rates"]))
    print(f"load at end {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
