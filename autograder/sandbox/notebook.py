"""The sandbox a notebook runs in, built from the grader's own sandbox (`autograder.sandbox`): the same
isolation detection, bubblewrap command (no network, uid 65534, no keyring, read-only binds, tmpfs /tmp)
and cgroups.

Where bubblewrap is unusable, the runner is a separate process (as uid 65534 when possible) under
rlimits, and the isolation summary says NOT SANDBOXED.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .bwrap import SETPRIV, SUBMISSION_DIR, WORKER_PARENT, BwrapPlan, bwrap_command
from .cgroups import WorkerCgroup, in_cgroup
from .detect import IsolationKind, detect_isolation
from .pyenv import WORKER_PACKAGE, python_env
from .seccomp import filter_fd

if TYPE_CHECKING:
    from autograder.grading.notebooks.settings import NotebookGradingSettings

NOFILE = 1024
MIB = 2**20
TRUSTED_PACKAGES = ("exercise_code", "autograder")
"""The kit's packages: covered by an empty tmpfs where a non-editable install put them in site-packages."""


def bwrap_available() -> bool:
    """True when the grader's isolation check says bubblewrap works here."""
    return detect_isolation().kind is IsolationKind.BUBBLEWRAP


@dataclass
class SandboxRun:
    """How to start the runner: command, host cwd and environment, the paths it sees, the cgroup."""

    argv: list[str]
    cwd: str
    env: dict[str, str]
    isolation: str
    grader: str
    """Where the runner sees the folder with runner.py, job.json and the notebook."""
    submission: str
    scratch: str
    site: list[str]
    cgroup: WorkerCgroup | None = None
    workspace: Path | None = None
    """Process mode only: the host scratch folder to remove afterwards."""
    pid_namespace: bool = False
    """The runner has a pid namespace of its own (bubblewrap): every process in it is the submission's."""
    pass_fds: tuple[int, ...] = ()
    """File descriptors the command reads at start (the seccomp filter), closed by `close`."""

    def close(self) -> None:
        for fd in self.pass_fds:
            os.close(fd)
        self.pass_fds = ()
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        if self.workspace is not None:
            shutil.rmtree(self.workspace, ignore_errors=True)
            self.workspace = None


def _trusted_dirs(site: list[str]) -> list[str]:
    """Folders of the kit inside site-packages (a non-editable install): hidden from the notebook."""
    found = []
    for name in TRUSTED_PACKAGES:
        spec = importlib.util.find_spec(name)
        for location in (spec.submodule_search_locations or []) if spec else []:
            real = os.path.realpath(location)
            if any(real.startswith(os.path.realpath(s) + os.sep) for s in site):
                found.append(real)
    return found


def runner_env(scratch: str, site: list[str]) -> dict[str, str]:
    """The runner's environment: site-packages on the path (not the submission: the runner sets that
    for the kernel only), autograde mode on, every tool's config and cache under the scratch folder."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": scratch,
        "TMPDIR": scratch,
        "PYTHONPATH": os.pathsep.join(site),
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "NBGRADER_EXECUTION": "autograde",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{scratch}/.matplotlib",
        "JUPYTER_PLATFORM_DIRS": "1",
        "JUPYTER_RUNTIME_DIR": f"{scratch}/.jupyter-runtime",
        "IPYTHONDIR": f"{scratch}/.ipython",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
        "LANG": "C.UTF-8",
    }


def _prlimit(settings: NotebookGradingSettings, with_nproc: bool) -> list[str]:
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        return []
    limits = [
        f"--as={settings.address_space_mb * MIB}",
        f"--fsize={settings.file_size_mb * MIB}",
        f"--nofile={NOFILE}",
        f"--cpu={int(settings.budget_s * 2) + 60}",
        "--core=0",
    ]
    if with_nproc:
        limits.append(f"--nproc={settings.processes}")
    return [prlimit, *limits]


def plan_run(grader: Path, submission: Path, settings: NotebookGradingSettings) -> SandboxRun:
    """The command that runs `grader/runner.py` on `submission` with the strongest isolation available.

    `grader` must be readable by uid 65534 (it is mounted read-only, or read in place in process mode).
    Raises SandboxUnavailable when `settings.require_sandbox` and bubblewrap cannot be used.
    """
    from .detect import IsolationChoice

    choice = IsolationChoice.BUBBLEWRAP if settings.require_sandbox else IsolationChoice.AUTO
    isolation = detect_isolation(choice)
    env = python_env()
    site = [str(p) for p in env.site_packages]
    cgroup = None
    if isolation.cgroups.usable:
        try:
            cgroup = WorkerCgroup(isolation.cgroups, settings.memory_mb * MIB, settings.processes)
        except OSError:
            cgroup = None
    limits = _prlimit(settings, with_nproc=cgroup is None)
    python = str(env.executable)
    if isolation.kind is IsolationKind.BUBBLEWRAP:
        grader_inside = f"{WORKER_PARENT}/{WORKER_PACKAGE}"
        seccomp_fd = filter_fd()
        plan = BwrapPlan(
            isolation.bwrap or "bwrap",
            isolation.mode,
            env,
            str(submission),
            str(grader),
            settings.scratch_mb,
            seccomp_fd=seccomp_fd,
        )
        variables = [f"{k}={v}" for k, v in runner_env("/tmp", site).items()]
        argv = bwrap_command(plan, ["/usr/bin/env", *variables, python, f"{grader_inside}/runner.py"])
        masks = [arg for path in _trusted_dirs(site) for arg in ("--tmpfs", path)]
        if masks:  # after the site-packages binds: the kit's own folders become empty
            at = argv.index("--remount-ro")
            argv[at:at] = masks
        run = SandboxRun(
            in_cgroup(cgroup, [*limits, *argv]),
            "/",
            {"PATH": "/usr/bin:/bin"},
            isolation.summary(),
            grader_inside,
            SUBMISSION_DIR,
            "/tmp",
            site,
            cgroup,
            pid_namespace=True,
            pass_fds=() if seccomp_fd is None else (seccomp_fd,),
        )
        return run
    workspace = Path(tempfile.mkdtemp(prefix="nbgrade-scratch-"))
    os.chmod(workspace, 0o700)
    drop: list[str] = []
    if isolation.run_as_uid is not None:
        os.chown(workspace, isolation.run_as_uid, isolation.run_as_uid)
        uid = str(isolation.run_as_uid)
        drop = [SETPRIV, "--reuid", uid, "--regid", uid, "--clear-groups", "--inh-caps=-all"]
        drop += ["--bounding-set=-all", "--no-new-privs"]
    argv = in_cgroup(cgroup, [*limits, *drop, python, str(grader / "runner.py")])
    env_vars = runner_env(str(workspace), site)
    return SandboxRun(
        argv,
        str(workspace),
        env_vars,
        isolation.summary(),
        str(grader),
        str(submission),
        str(workspace),
        site,
        cgroup,
        workspace,
    )
