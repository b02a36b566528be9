"""``DataParallel`` (``torch.nn.DataParallel``): with one device it runs the module as is."""

from rustgrad.nn.modules.module import Module


class DataParallel(Module):
    """Run ``module`` on the batch. PyTorch splits the batch across several CUDA devices; rustgrad
    has one device per process, so this wrapper simply forwards to ``module`` (use
    ``DistributedDataParallel`` for multi-process training). ``.module`` is the wrapped model
    and the state dict keys carry the ``module.`` prefix, as in PyTorch."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.device_ids = device_ids
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
