"""The sandbox around student code: isolation detection, bubblewrap command, limits, worker processes."""

from .cgroups import CgroupSupport, detect_cgroups
from .detect import Isolation, IsolationChoice, IsolationKind, detect_isolation
from .launch import WorkerProcess
from .limits import SandboxLimits
from .logs import CappedLog

__all__ = [
    "CappedLog",
    "CgroupSupport",
    "Isolation",
    "IsolationChoice",
    "IsolationKind",
    "SandboxLimits",
    "WorkerProcess",
    "detect_cgroups",
    "detect_isolation",
]
