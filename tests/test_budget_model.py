"""The memory check of a conv model builds it on torch's meta device: it runs in the study's parent
before the workers fork, and a parallel torch operation there hangs the workers (seen with
``memcosim run`` of a LeNet-5 study with ``--workers 2``)."""
import torch

from memcosim import budget
from memcosim.config import parse_study
from memcosim.training import models


def test_the_model_estimate_allocates_nothing_and_equals_the_real_models(monkeypatch):
    study = parse_study({"model": {"kind": "lenet5"}, "training": {"dataset": "mnist", "hidden_sizes": [128],
                                                                   "batch_size": 64}})
    seen = []
    real = models.step_bytes
    monkeypatch.setattr(models, "step_bytes", lambda net, *a: seen.append({p.device.type for p in net.parameters()})
                        or real(net, *a))
    estimate = budget._model_step_bytes(study)
    assert seen == [{"meta"}]
    net = models.build_model(models.ModelSpec("lenet5", (16, 32), 5), (1, 28, 28), 10, (128,), "sigmoid", 1)
    assert estimate == real(net, (1, 28, 28), 64) > 0
    assert all(p.device.type == "cpu" for p in net.parameters()) and torch.isfinite(next(net.parameters())).all()
