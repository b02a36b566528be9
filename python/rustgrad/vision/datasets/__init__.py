"""Image datasets: MNIST-format (IDX) files, CIFAR python batches, image folders and FakeData."""

from rustgrad.vision.datasets.cifar import CIFAR10, CIFAR100
from rustgrad.vision.datasets.fakedata import FakeData
from rustgrad.vision.datasets.folder import ImageFolder
from rustgrad.vision.datasets.mnist import KMNIST, MNIST, FashionMNIST

__all__ = ["CIFAR10", "CIFAR100", "FakeData", "FashionMNIST", "ImageFolder", "KMNIST", "MNIST"]
