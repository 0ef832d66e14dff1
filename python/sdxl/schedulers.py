"""Schedulers by diffusers' class names, mapped onto the engine's samplers.

    pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config, use_karras_sigmas=True)

A scheduler here carries a config, as diffusers' does. The keys the engine follows are
`use_karras_sigmas`, `timestep_spacing`, and for DPMSolverMultistepScheduler `algorithm_type` and
`solver_order` (DPM++ 2M, 2M SDE, 3M SDE); every other key must equal the model's own scheduler
config (the engine runs with that): a different value is refused when the pipeline runs, naming
the key, never silently ignored.
"""

import copy

from . import _native
from .errors import UnsupportedError

# The keys the engine honours; the rest must be the model's.
FOLLOWED_KEYS = {"use_karras_sigmas", "timestep_spacing", "algorithm_type", "solver_order", "_class_name", "_diffusers_version"}


class SchedulerMixin:
    """A diffusers scheduler class: from_config() and .config, run as one of the engine's samplers."""

    def __init__(self, **config):
        self.config = dict(config)
        self.config["_class_name"] = type(self).__name__

    @classmethod
    def from_config(cls, config=None, **kwargs):
        merged = dict(copy.deepcopy(config or {}))
        merged.update(kwargs)
        merged.pop("_class_name", None)
        return cls(**merged)

    def sampler_name(self):
        """The engine's sampler for this class and config (its table: sdxl_sampler_at)."""
        name = type(self).__name__
        if name == "DPMSolverMultistepScheduler":
            algorithm = self.config.get("algorithm_type", "dpmsolver++")
            order = int(self.config.get("solver_order", 2))
            if algorithm == "dpmsolver++" and order == 2:
                return "dpmpp_2m"
            if algorithm == "sde-dpmsolver++" and order == 2:
                return "dpmpp_2m_sde"
            if algorithm == "sde-dpmsolver++" and order == 3:
                return "dpmpp_3m_sde"
            raise UnsupportedError(f"DPMSolverMultistepScheduler with algorithm_type={algorithm!r} and solver_order={order} "
                                   "is not one of the engine's samplers (dpmsolver++ order 2, sde-dpmsolver++ order 2 or 3)",
                                   "sampler")
        for index in range(_native.lib.sdxl_sampler_count()):
            info = _native.lib.sdxl_sampler_at(index).contents
            if _native.text(info.diffusers_class) == name:
                return _native.text(info.name)
        raise UnsupportedError(f"no sampler of the engine runs as {name}", "sampler")

    @property
    def karras(self):
        """Karras sigmas: use_karras_sigmas on a class that takes it (diffusers' classes without it,
        such as EulerAncestralDiscreteScheduler, ignore the key of a config they are made from)."""
        if not self.config.get("use_karras_sigmas", False):
            return False
        sampler = self.sampler_name()
        for index in range(_native.lib.sdxl_sampler_count()):
            info = _native.lib.sdxl_sampler_at(index).contents
            if _native.text(info.name) == sampler:
                return bool(info.supports_karras)
        return False

    def __repr__(self):
        return f"{type(self).__name__} {self.config}"


def _scheduler_class(name):
    return type(name, (SchedulerMixin,), {"__doc__": f"diffusers' {name}, run by the engine."})


_CLASS_NAMES = sorted({_native.text(_native.lib.sdxl_sampler_at(i).contents.diffusers_class)
                       for i in range(_native.lib.sdxl_sampler_count())})
SCHEDULERS = {name: _scheduler_class(name) for name in _CLASS_NAMES}
globals().update(SCHEDULERS)
__all__ = ["SchedulerMixin", *SCHEDULERS]


def scheduler_named(name, config=None):
    """A scheduler from a diffusers class name ("EulerDiscreteScheduler") or an engine sampler name
    ("dpmpp_2m", "DPM++ 2M Karras": any name sdxl_resolve_sampler takes)."""
    if name in SCHEDULERS:
        return SCHEDULERS[name].from_config(config)
    info = _native.ctypes.POINTER(_native.SamplerInfo)()
    karras = _native.c_int(0)
    from .errors import check
    check(_native.lib.sdxl_resolve_sampler(name.encode(), None, 0, _native.ctypes.byref(info), _native.ctypes.byref(karras)))
    sampler = _native.text(info.contents.name)
    scheduler = SCHEDULERS[_native.text(info.contents.diffusers_class)].from_config(config, use_karras_sigmas=bool(karras.value))
    if sampler in ("dpmpp_2m_sde", "dpmpp_3m_sde"):
        scheduler.config.update(algorithm_type="sde-dpmsolver++", solver_order=3 if sampler == "dpmpp_3m_sde" else 2)
    return scheduler


def differences(scheduler, model_config):
    """The keys of `scheduler`'s config the engine would not follow: those that differ from the
    model's scheduler config and are not among the followed ones."""
    found = []
    for key, value in scheduler.config.items():
        if key in FOLLOWED_KEYS or key.startswith("_"):
            continue
        if key in model_config and model_config[key] != value:
            found.append(key)
        elif key not in model_config and value not in (None, False):
            found.append(key)
    return found
