"""Image datasets: MNIST-format (IDX) files and CIFAR python batches."""

from rustgrad.vision.datasets.cifar import CIFAR10, CIFAR100
from rustgrad.vision.datasets.folder import ImageFolder
from rustgrad.vision.datasets.mnist import KMNIST, MNIST, FashionMNIST

__all__ = ["CIFAR10", "CIFAR100", "FashionMNIST", "ImageFolder", "KMNIST", "MNIST"]
