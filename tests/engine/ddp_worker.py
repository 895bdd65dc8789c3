"""Run by torchrun in tests/engine/test_trainer.py: train, then save this rank's weights."""
import sys

from safetensors.torch import save_file

from posekit.engine.config import load_config
from posekit.engine.trainer import Trainer

trainer = Trainer(load_config(None, sys.argv[1:]), progress=False)
trainer.fit()
save_file({k: v.contiguous() for k, v in trainer.model.state_dict().items()}, f"{trainer.cfg.out_dir}/rank{trainer.rank}.safetensors")
