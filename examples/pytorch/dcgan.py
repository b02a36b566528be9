"""A DCGAN (generator of transposed convolutions, convolutional discriminator) trained on
FakeData or Fashion-MNIST, saving real and generated samples with save_image (the kind of
program PyTorch's examples/dcgan is)."""

import argparse
import os

from _backend import DATA, datasets, nn, optim, save_image, torch, transforms


def weights_init(m):
    """DCGAN's init: N(0, 0.02) convolutions, N(1, 0.02) batch-norm scales."""
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """nz x 1 x 1 noise -> nc x 16 x 16 image in [-1, 1]."""

    def __init__(self, nz, ngf, nc):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    """nc x 16 x 16 image -> probability that it is real."""

    def __init__(self, ndf, nc):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, input):
        return self.main(input).view(-1, 1).squeeze(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", choices=["fake", "fashion-mnist"], default="fake")
    parser.add_argument("--data", default=DATA)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--nz", type=int, default=32, help="size of the latent z vector")
    parser.add_argument("--ngf", type=int, default=32)
    parser.add_argument("--ndf", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=0, help="batches per epoch (0: all)")
    parser.add_argument("--lr", type=float, default=0.0002)
    parser.add_argument("--beta1", type=float, default=0.5)
    parser.add_argument("--dry-run", action="store_true", help="one epoch of a few batches")
    parser.add_argument("--out", default="dcgan_out")
    parser.add_argument("--seed", type=int, default=999)
    args = parser.parse_args()
    if args.dry_run:
        args.epochs, args.steps = 1, args.steps or 3
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    if args.dataset == "fake":
        n = (args.steps or 16) * args.batch_size
        dataset = datasets.FakeData(size=n, image_size=(1, 16, 16), transform=tf)
    else:
        # Fashion-MNIST, cropped to 16 x 16 around the centre to keep the nets small
        dataset = datasets.FashionMNIST(args.data, train=True, transform=transforms.Compose([
            tf, lambda t: t[:, 6:22, 6:22]]))
        if args.steps:
            dataset = torch.utils.data.Subset(dataset, range(args.steps * args.batch_size))
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=True)

    netG = Generator(args.nz, args.ngf, 1)
    netG.apply(weights_init)
    netD = Discriminator(args.ndf, 1)
    netD.apply(weights_init)
    criterion = nn.BCELoss()
    fixed_noise = torch.randn(args.batch_size, args.nz, 1, 1)
    real_label, fake_label = 1.0, 0.0
    optimizerD = optim.Adam(netD.parameters(), lr=args.lr, betas=(args.beta1, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=args.lr, betas=(args.beta1, 0.999))

    errD = errG = None
    for epoch in range(args.epochs):
        for i, (real, _) in enumerate(loader):
            # (1) discriminator: maximise log(D(x)) + log(1 - D(G(z)))
            netD.zero_grad()
            b = real.size(0)
            label = torch.full((b,), real_label, dtype=real.dtype)
            output = netD(real)
            errD_real = criterion(output, label)
            errD_real.backward()
            D_x = output.mean().item()
            noise = torch.randn(b, args.nz, 1, 1)
            fake = netG(noise)
            label.fill_(fake_label)
            output = netD(fake.detach())
            errD_fake = criterion(output, label)
            errD_fake.backward()
            D_G_z1 = output.mean().item()
            errD = errD_real + errD_fake
            optimizerD.step()
            # (2) generator: maximise log(D(G(z)))
            netG.zero_grad()
            label.fill_(real_label)
            output = netD(fake)
            errG = criterion(output, label)
            errG.backward()
            D_G_z2 = output.mean().item()
            optimizerG.step()
            print(f"[{epoch}/{args.epochs}][{i}/{len(loader)}] Loss_D: {errD.item():.4f} Loss_G: {errG.item():.4f} "
                  f"D(x): {D_x:.4f} D(G(z)): {D_G_z1:.4f} / {D_G_z2:.4f}")
        save_image(real, os.path.join(args.out, "real_samples.png"), normalize=True)
        fake = netG(fixed_noise)
        save_image(fake.detach(), os.path.join(args.out, f"fake_samples_epoch_{epoch:03d}.png"), normalize=True)
    print(f"final loss: {errD.item() + errG.item():.4f}")


if __name__ == "__main__":
    main()
