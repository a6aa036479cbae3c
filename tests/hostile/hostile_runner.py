"""Run hostile cases so that a hang or a memory blow-up kills only the case.

The parent (pytest) starts a *worker*: a fresh Python with an address-space limit
(``MEMORY_LIMIT``), one BLAS thread and matplotlib's Agg backend, which imports
akida_nb once. For each request the worker forks a child that runs one case in its
own directory (so a target registered by one case never leaks into the next),
and answers with an :class:`Outcome`. A child still running after ``KILL_AFTER``
seconds is killed (``hang``); a child that runs out of address space raises
``MemoryError`` (``blowup``) or dies (``killed``).

The limits are hang and blow-up detectors, not timings.

CLI cases run as real subprocesses (``python -m akida_nb.cli``) under the same limits.

Examples
--------
>>> Outcome("error", "SpecError", "layers: missing").failed
False
>>> Outcome("crash", "TypeError", "...").failed
True
"""
from __future__ import annotations

import hashlib
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

KILL_AFTER = float(os.environ.get("HOSTILE_KILL_AFTER", "30"))
"""Seconds after which a case counts as hung and is killed (30; lower it only to try the suite quickly)."""
MEMORY_LIMIT = 2 << 30
"""Address-space limit of every case (bytes)."""
MESSAGE_LIMIT = 300
"""An akida_nb error message longer than this (or on several lines) is a failure."""

HERE = Path(__file__).resolve().parent
PACKAGE_ROOT = HERE.parents[1]


@dataclass
class Outcome:
    """What one case did.

    ``status`` is one of ``ok`` (a normal result), ``error`` (an akida_nb error, bounded),
    and the failures ``crash`` (another exception), ``hang``, ``blowup`` (MemoryError),
    ``killed`` (died of a signal), ``wrong`` (a silent wrong answer), ``message`` (an
    akida_nb error whose message is not one bounded line), ``files`` (a file other than
    the output changed), ``exit`` (a CLI exit status other than 0/1/2 or the one expected).
    """

    status: str
    kind: str = ""
    detail: str = ""
    reached: bool = True
    extra: dict = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status not in ("ok", "error")

    def __str__(self) -> str:
        return f"{self.status}: {self.kind} {self.detail}".strip()


def limit_resources() -> None:
    """In a child process: cap the address space and forbid core dumps."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_ROOT), str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg",
               PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
    return env


def snapshot(directory: Path) -> dict[str, tuple]:
    """Every entry under ``directory``: type, size and content hash (regular files), link target."""
    out: dict[str, tuple] = {}
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            p = Path(root) / name
            rel = str(p.relative_to(directory))
            st = p.lstat()
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_file() and not p.is_fifo():
                out[rel] = ("file", st.st_size, hashlib.sha256(p.read_bytes()).hexdigest())
            else:
                out[rel] = ("other", st.st_mode)
    return out


def changed_files(before: dict, after: dict, allowed: str | None = None) -> list[str]:
    names = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    return sorted(n for n in names if n != allowed)


# ---------------------------------------------------------------------------------------------- framing
def _send(stream, obj) -> None:
    data = pickle.dumps(obj)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _recv(stream):
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError
    (n,) = struct.unpack("<Q", head)
    return pickle.loads(stream.read(n))


# ---------------------------------------------------------------------------------------------- parent side
class Worker:
    """A worker process; :meth:`run` sends one request and returns its :class:`Outcome`."""

    def __init__(self) -> None:
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve())], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, env=child_env(),
                                     preexec_fn=limit_resources)  # noqa: PLW1509 - sets rlimits only
        self.lock = threading.Lock()

    def run(self, request: dict) -> Outcome:
        with self.lock:
            try:
                _send(self.proc.stdin, request)
                # the worker kills a hung case itself after KILL_AFTER; this is only a safety net
                ready, _, _ = select.select([self.proc.stdout], [], [], KILL_AFTER + 30)
                if not ready:
                    raise TimeoutError
                return _recv(self.proc.stdout)
            except (EOFError, BrokenPipeError, TimeoutError, pickle.UnpicklingError) as e:
                self.close()
                self.__init__()
                return Outcome("killed", "worker", f"the worker itself stopped ({type(e).__name__})")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._log.close()


def run_cli(argv: list[str], cwd: Path, output: str | None = None) -> Outcome:
    """Run ``akida-nb ARGV`` in ``cwd`` as a subprocess under the limits; exit status in ``extra``."""
    before = snapshot(cwd)
    try:
        proc = subprocess.run([sys.executable, "-m", "akida_nb.cli", *argv], cwd=cwd, env=child_env(),
                              capture_output=True, timeout=KILL_AFTER, preexec_fn=limit_resources,
                              check=False)
    except subprocess.TimeoutExpired:
        return Outcome("hang", "cli", f"killed after {KILL_AFTER:.0f} s")
    err = proc.stderr.decode("utf-8", "backslashreplace")
    extra = {"code": proc.returncode, "stdout": proc.stdout, "stderr": err}
    if proc.returncode < 0:
        return Outcome("killed", "cli", f"signal {-proc.returncode}", extra=extra)
    if proc.returncode not in (0, 1, 2):
        first = err.strip().splitlines()[-1:] or [""]
        return Outcome("exit", f"exit {proc.returncode}", first[0][:200], extra=extra)
    if err.count("\n") > 1 or len(err) > 600 or "Traceback" in err:
        return Outcome("message", f"exit {proc.returncode}", f"stderr of {len(err)} chars, "
                       f"{err.count(chr(10))} lines", extra=extra)
    changed = changed_files(before, snapshot(cwd), output)
    if changed:
        return Outcome("files", f"exit {proc.returncode}", f"changed: {changed}", extra=extra)
    return Outcome("error" if proc.returncode == 2 else "ok", f"exit {proc.returncode}", err.strip()[:200],
                   extra=extra)


# ---------------------------------------------------------------------------------------------- worker side
def classify(exc: BaseException | None) -> Outcome:
    """The outcome of a case that raised ``exc`` (``None``: returned normally)."""
    import akida_nb as ak
    from akida_nb.errors import brief

    if exc is None:
        return Outcome("ok")
    kind = type(exc).__name__
    if type(exc).__name__ == "WrongAnswer":
        return Outcome("wrong", kind, str(exc)[:300])
    if isinstance(exc, ak.AkidaNbError):
        try:
            text = str(exc)
        except Exception as e:  # noqa: BLE001 - a message that cannot be formatted is a crash
            return Outcome("crash", f"{kind}.__str__", type(e).__name__)
        if "\n" in text or len(text) > MESSAGE_LIMIT:
            return Outcome("message", kind, f"{len(text)} chars: {brief(text, 120)}")
        return Outcome("error", kind, text)
    if isinstance(exc, MemoryError):
        return Outcome("blowup", kind, "MemoryError under the address-space limit")
    try:
        detail = brief(str(exc), 160)
    except Exception:  # noqa: BLE001
        detail = ""
    return Outcome("crash", kind, detail)


def _run_in_child(request: dict) -> Outcome:
    import hostile_cases

    directory = Path(request["dir"])
    directory.mkdir(parents=True, exist_ok=True)
    os.chdir(directory)
    try:
        job = hostile_cases.prepare(request, directory)
    except Exception as e:  # noqa: BLE001 - the generator made something that cannot be written
        return Outcome("ok", "setup", f"{type(e).__name__}: {e}"[:200], reached=False)
    before = snapshot(directory)
    try:
        extra = job() or {}
        outcome = classify(None)
        outcome.extra = extra
    except BaseException as e:  # noqa: BLE001 - the point is to see everything
        outcome = classify(e)
    changed = changed_files(before, snapshot(directory), request.get("output"))
    if changed and not outcome.failed:
        return Outcome("files", outcome.kind, f"changed: {changed}")
    return outcome


def _fork_case(request: dict) -> Outcome:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_fd)
        try:
            outcome = _run_in_child(request)
        except BaseException as e:  # noqa: BLE001
            outcome = Outcome("crash", type(e).__name__, "in the runner")
        try:
            data = pickle.dumps(outcome)
        except Exception:  # noqa: BLE001
            data = pickle.dumps(Outcome(outcome.status, outcome.kind, outcome.detail, outcome.reached))
        with os.fdopen(write_fd, "wb") as f:
            f.write(data)
        os._exit(0)
    os.close(write_fd)
    chunks = []
    deadline = time.monotonic() + KILL_AFTER
    with os.fdopen(read_fd, "rb") as f:
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([f], [], [], max(left, 0))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return Outcome("hang", "", f"killed after {KILL_AFTER:.0f} s")
            chunk = os.read(f.fileno(), 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if not chunks:
        if os.WIFSIGNALED(status):
            return Outcome("killed", "", f"signal {os.WTERMSIG(status)} (memory or a crash in C)")
        return Outcome("killed", "", f"exited with {os.WEXITSTATUS(status)} and no answer")
    return pickle.loads(b"".join(chunks))


def serve() -> None:
    """The worker's loop: read requests on stdin, answer on stdout (the real stdout is kept private)."""
    out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    import hostile_cases  # noqa: F401 - imports akida_nb once, before forking
    import pandas  # noqa: F401

    import akida_nb.fixes  # noqa: F401

    stdin = sys.stdin.buffer
    while True:
        try:
            request = _recv(stdin)
        except EOFError:
            return
        _send(out, _fork_case(request))


if __name__ == "__main__":  # run as a script: serve from the importable module, so outcomes unpickle
    import hostile_runner

    hostile_runner.serve()
