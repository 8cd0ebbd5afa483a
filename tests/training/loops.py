"""The few-step training loop the layer tests share."""
from torch import nn


def train_losses(net, opt, x, y, steps, loss_fn=nn.functional.cross_entropy):
    """The loss before each of ``steps`` optimiser steps on the one batch ``(x, y)``."""
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
