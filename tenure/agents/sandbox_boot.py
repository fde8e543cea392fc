"""The first code a ``run_python`` sandbox runs (``python -I sandbox_boot.py SETTINGS``): it raises the
walls, then runs the agent's code or tests. Standard library only; it is a script, never imported.

Walls, each where the platform has it (``tenure.agents.sandbox`` says which held):

- resource limits: address space (memory), CPU seconds, size of any file written, open files, no core;
- a network namespace of its own (Linux, root or unprivileged user namespaces): no interface but a
  loopback that is down;
- Landlock (Linux ≥ 5.13): the kernel lets the process and its children read only the Python
  installation and system libraries, write only the working copy, and (ABI ≥ 4) make no TCP connection;
- an audit hook (every platform): refuses starting processes, creating sockets, loading ctypes/cffi, and
  opening or changing a file outside those places. It is Python-level: native code could pass it, which
  is why the kernel walls come first where they exist.
"""

import json
import os
import resource
import sys

DENIED_IMPORTS = frozenset({"ctypes", "_ctypes", "_posixsubprocess", "cffi", "_cffi_backend"})
PROCESS_EVENTS = frozenset(
    {
        "os.fork",
        "os.forkpty",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.system",
        "os.kill",
        "os.killpg",
        "subprocess.Popen",
        "signal.pthread_kill",
    }
)
PATH_EVENTS = {  # event → indexes of its path arguments
    "os.remove": (0,),
    "os.rename": (0, 1),
    "os.rmdir": (0,),
    "os.mkdir": (0,),
    "os.symlink": (0, 1),
    "os.link": (0, 1),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.truncate": (0,),
    "os.utime": (0,),
    "os.mkfifo": (0,),
    "os.mknod": (0,),
}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


def limit_resources(memory_mb: int, cpu_s: int, file_mb: int) -> list[str]:
    held = []
    for name, value in (
        ("RLIMIT_AS", memory_mb * 2**20),
        ("RLIMIT_CPU", cpu_s),
        ("RLIMIT_FSIZE", file_mb * 2**20),
        ("RLIMIT_NOFILE", 256),
        ("RLIMIT_CORE", 0),
    ):
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
            held.append(name)
        except (AttributeError, ValueError, OSError):
            pass
    return held


def _libc():  # type: ignore[no-untyped-def]
    import ctypes

    return ctypes, ctypes.CDLL(None, use_errno=True)


def own_network() -> bool:
    """A network namespace of its own: as root directly, else inside a new user namespace."""
    if not sys.platform.startswith("linux"):
        return False
    _, libc = _libc()
    clone_newuser, clone_newnet = 0x10000000, 0x40000000
    return libc.unshare(clone_newnet) == 0 or libc.unshare(clone_newuser | clone_newnet) == 0


def landlock(read_roots: list[str], write_root: str) -> int:
    """Restrict the file system (and TCP, ABI ≥ 4) with Landlock; the ABI it used, 0 when unavailable."""
    if not sys.platform.startswith("linux"):
        return 0
    ctypes, libc = _libc()
    libc.syscall.restype = ctypes.c_long
    create, add, restrict = 444, 445, 446  # the same numbers on x86_64 and the generic table (arm64)
    abi = libc.syscall(create, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if abi < 1:
        return 0
    fs_bits = {1: 13, 2: 14, 3: 15, 4: 15}.get(abi, 16)  # rights each ABI knows: bit 13 REFER, 14 TRUNCATE…
    handled_fs = (1 << fs_bits) - 1
    read = 1 | 4 | 8  # EXECUTE, READ_FILE, READ_DIR

    class Ruleset(ctypes.Structure):
        _fields_ = (("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64))

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = (("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))

    size = 8 if abi < 4 else 16 if abi < 6 else 24
    attr = Ruleset(handled_fs, 3 if abi >= 4 else 0, 3 if abi >= 6 else 0)  # no TCP; no signals out
    ruleset = libc.syscall(create, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        return 0
    file_rights = 1 | 2 | 4 | (1 << 14 if abi >= 3 else 0)  # what a rule on a single file may grant
    rules = [(p, read) for p in read_roots] + [(write_root, handled_fs), ("/dev/null", file_rights)]
    for path, allowed in rules:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        if not os.path.isdir(path):  # noqa: PTH112 (the boot script keeps to os)
            allowed &= file_rights
        rule = PathBeneath(allowed, fd)
        libc.syscall(add, ctypes.c_int(ruleset), ctypes.c_int(1), ctypes.byref(rule), ctypes.c_uint32(0))
        os.close(fd)
    pr_set_no_new_privs = 38
    libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0)
    done = libc.syscall(restrict, ctypes.c_int(ruleset), ctypes.c_uint32(0)) == 0
    os.close(ruleset)
    return abi if done else 0


def audit_hook(read_roots: list[str], write_root: str):  # type: ignore[no-untyped-def]
    """The hook refusing what the sandbox does not allow (see the module's docstring)."""
    writable = os.path.realpath(write_root) + os.sep
    readable = tuple(os.path.realpath(r) for r in read_roots)

    def where(path: object) -> str | None:
        if isinstance(path, int):
            return None  # an open file descriptor: already allowed when it was opened
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        return os.path.realpath(os.fspath(path))  # type: ignore[arg-type]

    def inside(path: str, roots: tuple[str, ...]) -> bool:
        return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)

    def hook(event: str, args: tuple) -> None:  # type: ignore[type-arg]
        if event == "import" and args[0] in DENIED_IMPORTS:
            raise ImportError(f"the sandbox does not allow importing {args[0]}")
        if event in PROCESS_EVENTS:
            raise PermissionError("the sandbox does not allow starting processes or sending signals")
        if event == "socket.__new__":
            raise PermissionError("the sandbox has no network: sockets are not allowed")
        if event == "open":
            path, mode, flags = args
            target = where(path)
            if target is None or target == os.devnull:
                return
            writes = any(c in (mode or "") for c in "wax+") or bool((flags or 0) & WRITE_FLAGS)
            if writes and not (target + os.sep).startswith(writable):
                raise PermissionError(f"the sandbox may write only in its working copy, not {path}")
            if not writes and not inside(target, (writable.rstrip(os.sep), *readable)):
                raise PermissionError(f"the sandbox may not read {path}")
        elif event in ("os.listdir", "os.scandir"):
            target = where(args[0] if args[0] is not None else ".")
            if target is not None and not inside(target, (writable.rstrip(os.sep), *readable)):
                raise PermissionError(f"the sandbox may not list {args[0]}")
        elif event in PATH_EVENTS:
            for i in PATH_EVENTS[event]:
                target = where(args[i]) if i < len(args) else None
                if target is not None and not (target + os.sep).startswith(writable):
                    raise PermissionError(
                        f"the sandbox may change files only in its working copy, not {args[i]}"
                    )

    return hook


def main() -> None:
    settings = json.loads(sys.argv[1])
    sys.path.pop(0)  # this script's folder: not the agent's to import from
    sys.dont_write_bytecode = True
    work, reads = settings["workdir"], settings["read_roots"]
    if settings["mode"] == "tests":
        import pytest  # before the hook: pytest itself imports subprocess (the tests cannot start one)
    walls = limit_resources(settings["memory_mb"], settings["cpu_s"], settings["file_mb"])
    if own_network():
        walls.append("network namespace")
    if abi := landlock(reads, work):
        walls.append(f"landlock ABI {abi}")
    for name in [m for m in sys.modules if m.split(".")[0] in DENIED_IMPORTS]:
        del sys.modules[name]  # loaded above for the kernel calls; an import now goes through the hook
    sys.addaudithook(audit_hook(reads, work))
    walls.append("audit hook")
    os.write(settings["walls_fd"], json.dumps(walls).encode())  # a pipe the parent handed down
    os.close(settings["walls_fd"])
    if settings["mode"] == "tests":
        sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "."]))
    import runpy

    sys.argv = [settings["script"]]
    try:
        runpy.run_path(settings["script"], run_name="__main__")
    except SystemExit:
        raise
    except BaseException as exc:  # the traceback without this script's and runpy's frames
        import traceback

        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == settings["script"]]
        sys.stderr.write("Traceback (most recent call last):\n" + "".join(traceback.format_list(frames)))
        sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
        sys.exit(1)


if __name__ == "__main__":
    main()
