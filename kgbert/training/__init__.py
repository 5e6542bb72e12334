"""The common trainer (on ``transformers.Trainer``) and typed YAML run configs."""
from kgbert.training.config import ConfigError, RunConfig, config_from_dict, dump_config, load_config
from kgbert.training.tasks import TaskSpec


def run_training(*args, **kwargs):
    """Lazy alias of :func:`kgbert.training.trainer.run_training` (keeps imports light)."""
    from kgbert.training.trainer import run_training as _run

    return _run(*args, **kwargs)


__all__ = ["ConfigError", "RunConfig", "TaskSpec", "config_from_dict", "dump_config", "load_config", "run_training"]
