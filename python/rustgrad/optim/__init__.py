"""rustgrad.optim: PyTorch-compatible optimizers whose updates run in fused Rust kernels."""

from rustgrad.optim import lr_scheduler
from rustgrad.optim.adadelta import Adadelta
from rustgrad.optim.adagrad import Adagrad
from rustgrad.optim.adam import Adam
from rustgrad.optim.adamw import AdamW
from rustgrad.optim.lbfgs import LBFGS
from rustgrad.optim.optimizer import Optimizer
from rustgrad.optim.rmsprop import RMSprop
from rustgrad.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "RMSprop", "LBFGS", "lr_scheduler"]
